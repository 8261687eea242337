"""``render-steps --executor ray`` on a real local Ray (started once for the module): the store equals a local run of
the same seed byte for byte (manual pages, observations, masks, records, index), and a second run renders nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from legodata.jobs.steps_job import StepsConfig, run_steps
from legodata.store.store import Store

pytestmark = pytest.mark.slow


def config(out: Path, **kw) -> StepsConfig:
    cfg = StepsConfig(
        out=str(out), random_builds=2, seed=4, resolution=64, manual_resolution=96, callout_resolution=48,
        distractors=(0, 0), parts_per_build=(2, 2), parts_per_step=(1, 1),
    )  # fmt: skip
    return replace(cfg, **kw)


def files_of(root: Path) -> dict[str, bytes]:
    found = [p for d in ("scenes", "specs") for p in (root / d).rglob("*") if p.is_file()]
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in found if not p.name.endswith("worker.json")}
    # the index is appended as scenes finish: the same lines, in completion order
    files["records.jsonl"] = b"\n".join(sorted((root / "records.jsonl").read_bytes().splitlines()))
    return files


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
    want, have = files_of(tmp_path / "local"), files_of(tmp_path / "ray")
    assert sorted(have) == sorted(want)
    assert [k for k in want if have[k] != want[k]] == []
    assert Store(tmp_path / "ray").scene_ids() == ["build_00000", "build_00001"]

    again = run_steps(config(tmp_path / "ray", executor="ray"), progress=False)
    assert (again.models_rendered, again.models_skipped) == (0, 2)
    assert files_of(tmp_path / "ray") == have
