"""``render-steps --executor ray`` on a real local Ray (started once for the module): the store equals a local run of
the same seed byte for byte (manual pages, observations, masks, records, index), and a second run renders nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from support.store_compare import store_files

from legodata.jobs.steps_job import StepsConfig, run_steps
from legodata.store.store import Store

pytestmark = pytest.mark.slow


def config(out: Path, **kw) -> StepsConfig:
    cfg = StepsConfig(
        out=str(out), random_builds=2, seed=4, resolution=64, manual_resolution=96, callout_resolution=48,
        distractors=(0, 0), parts_per_build=(2, 2), parts_per_step=(1, 1),
    )  # fmt: skip
    return replace(cfg, **kw)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_render_steps_equals_local_and_resumes(ray_cluster, tmp_path):
    local = run_steps(config(tmp_path / "local"), progress=False)
    assert (local.models_rendered, local.models_failed) == (2, 0) and local.steps_rendered == 4
    got = run_steps(config(tmp_path / "ray", executor="ray"), progress=False)
    assert (got.models_rendered, got.models_failed, got.steps_rendered) == (2, 0, 4)
    want, have = store_files(tmp_path / "local"), store_files(tmp_path / "ray")
    assert sorted(have) == sorted(want)
    assert [k for k in want if have[k] != want[k]] == []
    assert Store(tmp_path / "ray").scene_ids() == ["build_00000", "build_00001"]

    again = run_steps(config(tmp_path / "ray", executor="ray"), progress=False)
    assert (again.models_rendered, again.models_skipped) == (0, 2)
    assert store_files(tmp_path / "ray") == have
