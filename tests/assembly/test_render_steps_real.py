"""render-steps with real Blender on a hand-written three-step model and a random build (tiny images), checked
against the file's transforms and an independent ray cast of the part meshes."""

import json

import cv2
import numpy as np
import pytest
from support.assembly_models import THREE_STEPS, three_step_ldr
from support.raycast import boundary_band, raycast_instances
from typer.testing import CliRunner

from legodata.assembly.manual_page import CALLOUT_BGR
from legodata.assembly.specs import CALLOUT_FRACTION
from legodata.cli import app
from legodata.core.units import LDU_M
from legodata.parts.catalogue import get_part
from legodata.store.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("steps")
    model = tmp / "three_steps.ldr"
    model.write_text(three_step_ldr())
    out = tmp / "store"
    args = ["render-steps", "--out", str(out), "--model", str(model), "--resolution", "64", "--manual-resolution",
            "128", "--distractors", "1,1", "--seed", "2", "--format", "bop,coco", "-q"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return Store(out), args


def records(store):
    return sorted(store.iter_records(), key=lambda r: r.meta["step"])


def test_layout_and_target_poses_are_the_file_transforms(rendered):
    store, _ = rendered
    recs = records(store)
    assert [r.meta["step"] for r in recs] == [1, 2, 3, 4] and {r.group_id for r in recs} == {"three_steps"}
    assert all(r.source == "assembly" for r in recs)
    for rec in recs[:3]:
        block = rec.meta["assembly"]
        R_w2c, R_b2w = np.asarray(rec.meta["R_w2c"]), np.asarray(rec.meta["R_b2w"])
        t_w2c, t_b2w = np.asarray(rec.meta["t_w2c"]), np.asarray(rec.meta["t_b2w"])
        expected = [(i, s) for i, s in enumerate(THREE_STEPS) if s[0] == block["step"]]
        assert [p["instance_id"] for p in block["parts"]] == [i + 1 for i, _ in expected]
        for p, (_, (_, colour, pid, offset, R)) in zip(block["parts"], expected):
            assert (p["part_id"], p["colour_code"]) == (pid, colour)
            assert np.array_equal(p["R_target_m2b"], R)
            assert np.allclose(p["t_target_m2b"], np.asarray(offset, float) * LDU_M, rtol=0, atol=1e-15)
            assert np.allclose(p["R_target_m2c"], R_w2c @ R_b2w @ R, atol=1e-9)
            t = R_w2c @ (R_b2w @ (np.asarray(offset) * LDU_M) + t_b2w) + t_w2c
            assert np.allclose(p["t_target_m2c"], t, atol=1e-9)
            A = np.asarray(p["R_action_c"])
            assert np.allclose(A @ np.asarray(p["R_current_m2c"]), p["R_target_equiv_m2c"], atol=1e-9)
    s2 = recs[1].meta["assembly"]["sentence"]
    assert s2.startswith("place the red 2x2 brick on the black 2x4 plate")


def test_the_build_never_holds_a_part_of_the_current_step(rendered):
    store, _ = rendered
    for rec in records(store):
        n = rec.meta["step"]
        now = {i + 1 for i, s in enumerate(THREE_STEPS) if s[0] == n}
        before = {i + 1 for i, s in enumerate(THREE_STEPS) if s[0] < n}
        assert set(rec.meta["in_build"]) == before and not now & set(rec.meta["in_build"])
        assert set(rec.meta["loose"]) == now and len(rec.meta["distractors"]) == 1
        seen = {i.instance_id for i in rec.instances}
        assert seen == before | now | set(rec.meta["distractors"])  # later steps' parts are not in the scene


def oracle(rec):
    parts = []
    for inst in rec.instances:
        tris = get_part(inst.part_id).mesh.triangles @ np.asarray(inst.R_m2c).T + np.asarray(inst.t_m2c)
        parts.append((inst.instance_id, tris))
    return raycast_instances(parts, np.asarray(rec.K), rec.width, rec.height)


def test_observation_masks_agree_with_the_ray_cast(rendered):
    store, _ = rendered
    for rec in records(store):
        mask = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED)
        ids, _, silhouettes = oracle(rec)
        wrong = (mask != ids) & ~boundary_band(ids)
        assert wrong.sum() == 0, f"{rec.record_id}: {wrong.sum()} interior pixels disagree"
        for inst in rec.instances:
            assert abs(inst.px_count_all - int(silhouettes[inst.instance_id].sum())) <= 1


def test_loose_parts_rest_on_the_table_away_from_the_build(rendered):
    store, _ = rendered
    for rec in records(store):
        R_w2c, t_w2c = np.asarray(rec.meta["R_w2c"]), np.asarray(rec.meta["t_w2c"])
        for inst in rec.instances:
            R_m2w = R_w2c.T @ np.asarray(inst.R_m2c)
            t_m2w = R_w2c.T @ (np.asarray(inst.t_m2c) - t_w2c)
            v = get_part(inst.part_id).mesh.vertices @ R_m2w.T + t_m2w
            if inst.instance_id in rec.meta["in_build"]:
                continue
            assert -1e-3 < v[:, 2].min() < 1e-3, f"{rec.record_id} instance {inst.instance_id} is not on the table"
            assert np.linalg.norm(v[:, :2], axis=1).min() > 0.01  # outside the build's circle (radius ~17 mm)


def test_manual_pages_are_white_and_show_the_step_parts(rendered):
    store, _ = rendered
    for rec in records(store)[:3]:
        block = rec.meta["assembly"]
        page = cv2.imread(str(store.root / block["manual_image"]), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(store.root / block["manual_mask"]), cv2.IMREAD_UNCHANGED)
        assert page.shape == (128, 128, 3) and mask.shape == (128, 128)
        assert (page[-1] == 255).all() and (page[:, -1] == 255).all()  # white margins
        assert (page.min(axis=2) == 255).mean() > 0.5
        n = block["step"]
        for p in block["parts"]:
            assert (mask == p["instance_id"]).sum() > 20 and p["manual_px_count_visib"] > 20
        earlier = {i + 1 for i, s in enumerate(THREE_STEPS) if s[0] < n}
        assert earlier <= set(np.unique(mask).tolist())  # the build so far is on the page too
        strip = round(CALLOUT_FRACTION * 128)  # rows above the model view: step number and callout
        assert not mask[:strip].any() and (page[:strip].min(axis=2) < 100).sum() > 20
        assert (np.abs(page[:strip].astype(int) - CALLOUT_BGR).sum(axis=2) == 0).sum() > 50


def test_bop_and_coco_exports_have_one_scene_per_model(rendered):
    store, _ = rendered
    scenes = sorted(p.name for p in (store.root / "bop" / "train").iterdir())
    assert scenes == ["000000"]
    gt = json.loads((store.root / "bop/train/000000/scene_gt.json").read_text())
    assert len(gt) == 4
    coco = json.loads((store.root / "coco/annotations.json").read_text())
    assert len(coco["images"]) == 4


def test_score_steps_preview_and_resume(rendered, tmp_path):
    store, args = rendered
    from legodata.assembly.preview import steps_preview
    from legodata.publish.steps import load_step_rows

    rows = load_step_rows(store.root)
    assert len(rows) == 6  # 3 assembly + 3 disassembly samples
    preds = tmp_path / "p.jsonl"
    lines = [json.dumps({"sample_id": r["sample_id"], "answer": r["answer"]}) for r in rows[1:]]
    preds.write_text("\n".join(lines + ["garbage"]) + "\n")
    result = CliRunner().invoke(app, ["score-steps", str(preds), str(store.root), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["step_success"] == pytest.approx(5 / 6) and report["missing"] == [rows[0]["sample_id"]]
    assert report["unreadable_lines"] and "missing" in result.output
    sheet = cv2.imread(str(steps_preview(store.root, tmp_path / "sheet.png", tile=96)))
    assert sheet.shape[1] == 4 * 96 and sheet.shape[0] > 3 * 96
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "0 models rendered" in again.output and "1 already done" in again.output


def test_random_build_renders_with_labels(tmp_path):
    from legodata.jobs.steps_job import StepsConfig, run_steps

    cfg = StepsConfig(
        out=str(tmp_path / "rb"), random_builds=1, seed=4, resolution=64, manual_resolution=96,
        callout_resolution=48, distractors=(0, 0), parts_per_build=(3, 3), parts_per_step=(1, 1),
    )  # fmt: skip
    summary = run_steps(cfg, progress=False)
    assert summary.models_rendered == 1 and summary.steps_rendered == 3
    recs = records(Store(cfg.out))
    assert len(recs) == 4
    assert recs[0].meta["assembly"]["parts"][0]["relation"] == "table"
    assert all(p["relation"] == "on" for r in recs[1:3] for p in r.meta["assembly"]["parts"])
    for rec in recs:
        mask = cv2.imread(str(Store(cfg.out).root / rec.mask_path), cv2.IMREAD_UNCHANGED)
        ids, _, _ = oracle(rec)
        assert ((mask != ids) & ~boundary_band(ids)).sum() == 0
