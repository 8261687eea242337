"""simulate-run with real Blender renders (tiny): the importer's labels equal the renderer's poses."""

import cv2
import numpy as np
import pytest
from support.runlog_truth import compare

from legodata.jobs.import_log import run_import
from legodata.jobs.simulate_run import run_simulation
from legodata.runlog.simulate import SimConfig
from legodata.store.store import Store

pytestmark = pytest.mark.slow


def test_rendered_runs_import_with_labels_equal_to_the_renderers_poses(tmp_path):
    log = tmp_path / "log"
    sim = run_simulation(SimConfig(out=str(log), episodes=2, seed=5, resolution=64, cameras=1, distractors=1))
    assert sim.episodes == 2 and sim.observations >= 4
    assert not (log / ".sim").exists() and (log / "ground_truth.jsonl").is_file()
    s = run_import(log, tmp_path / "store")
    assert s.problems == 0 and s.records == sim.observations == s.instances
    result = compare(log, tmp_path / "store")  # also: every instance's visible pixels = the renderer's mask
    for mode in ("assemble", "disassemble"):
        w = result["worst"][mode]
        assert w["rotation_to_target_deg"] < 0.5 and w["R_m2c_deg"] < 0.5 and w["t_m2c_m"] < 1e-6, w
    for rec in Store(tmp_path / "store").iter_records():
        rgb = cv2.imread(str(tmp_path / "store" / rec.image_path))
        assert rgb.shape == (64, 64, 3) and rgb.std() > 2  # a real render, not a flat stand-in
        assert rec.instances[0].px_count_visib > 0
        assert np.isfinite(rec.meta["rotation_to_target_wxyz"]).all()
