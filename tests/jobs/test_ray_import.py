"""``import-log --executor ray`` on a real local Ray (started once for the module): the store equals a local import
of the same log (records, index, files, episode info, quarantine), and a second run imports nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.runlog_truth import simulate

from legodata.jobs.import_log import run_import
from legodata.store.store import Store

pytestmark = pytest.mark.slow


def store_files(root: Path) -> dict[str, bytes]:
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "scenes").rglob("*") if p.is_file()}
    for name in ("records.jsonl", "quarantine.jsonl"):
        # the index is appended as episodes finish: the same lines, in completion order
        files[name] = b"\n".join(sorted((root / name).read_bytes().splitlines()))
    return files


def index_by_id(root: Path) -> list:
    return sorted(Store(root).iter_index(), key=lambda r: r.record_id)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    """A simulated run (numpy stand-in renderer) with one bad line, which goes to the quarantine."""
    out = simulate(tmp_path_factory.mktemp("sim") / "log", episodes=4, seed=7)
    lines = (out / "log.jsonl").read_text().splitlines()
    bad = json.loads(lines[3])
    bad["episode"] = "nope"
    (out / "log.jsonl").write_text("\n".join(lines[:4] + [json.dumps(bad)] + lines[4:]) + "\n")
    return out


def test_ray_import_equals_local_import_and_resumes(ray_cluster, log, tmp_path):
    local = run_import(log, tmp_path / "local")
    assert local.episodes_imported == 4 and local.problems == 1
    got = run_import(log, tmp_path / "ray", executor="ray")
    assert (got.episodes_imported, got.records, got.instances, got.problems) == (
        4, local.records, local.instances, 1,
    )  # fmt: skip
    assert got.records > 4
    want, have = store_files(tmp_path / "local"), store_files(tmp_path / "ray")
    assert sorted(have) == sorted(want)
    assert [k for k in want if have[k] != want[k]] == []
    # the same records; the index is in completion order
    assert index_by_id(tmp_path / "ray") == index_by_id(tmp_path / "local")

    again = run_import(log, tmp_path / "ray", executor="ray")
    assert (again.episodes_imported, again.episodes_unchanged, again.records) == (0, 4, local.records)
    assert store_files(tmp_path / "ray") == have
