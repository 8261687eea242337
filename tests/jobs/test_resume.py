"""A render killed mid-run leaves no half-written scene, and the re-run finishes only what is missing."""

import os
import signal
import subprocess
import sys
import time

import pytest

from legodata.store.store import Store

pytestmark = pytest.mark.slow

ARGS = ["--scenes", "4", "--views", "2", "--resolution", "32", "--seed", "11", "--parts", "3003,3039"]
ARGS += ["--parts-per-scene", "2,2", "--preset", "fast", "--quiet"]


def run_cli(out, *extra):
    cmd = [sys.executable, "-m", "legodata.cli", "render", "--out", str(out), *ARGS, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def assert_complete(store, scene_id, views=2):
    d = store.scene_dir(scene_id)
    for sub in ("rgb", "mask", "depth"):
        assert sorted(p.name for p in (d / sub).iterdir()) == [f"{v:04d}.png" for v in range(views)]
    assert len((d / "records.jsonl").read_text().splitlines()) == views


def test_killed_run_resumes_without_half_written_scenes(tmp_path):
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "legodata.cli", "render", "--out", str(out), *ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    store = Store(out)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (out.exists() and len(store.scene_ids()) >= 1):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # kill the whole job, render worker included, mid-run
    proc.wait()
    done_before = store.scene_ids()
    assert 1 <= len(done_before) < 4, "the run should have been killed part-way"
    for scene_id in (d.name for d in (out / "scenes").glob("*/*")):  # scenes/<chunk>/<scene>
        assert_complete(store, scene_id)  # everything under scenes/ is whole
    records_before = {sid: (store.scene_dir(sid) / "records.jsonl").read_text() for sid in done_before}

    result = run_cli(out)
    assert result.returncode == 0, result.stderr
    assert f"{len(done_before)} already done" in result.stdout
    assert store.scene_ids() == ["000000", "000001", "000002", "000003"]
    for sid in store.scene_ids():
        assert_complete(store, sid)
    for sid, text in records_before.items():  # finished scenes were not touched
        assert (store.scene_dir(sid) / "records.jsonl").read_text() == text
    assert not any((out / ".tmp").iterdir())  # the killed run's temp scene was cleaned up
    assert len((out / "records.jsonl").read_text().splitlines()) == 8


def test_other_settings_in_the_same_directory_get_a_one_line_error(tmp_path):
    out = tmp_path / "ds"
    assert run_cli(out, "--scenes", "1").returncode == 0
    result = run_cli(out, "--scenes", "1", "--seed", "12")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "was made with --seed 11" in result.stderr and "Traceback" not in result.stderr


def test_shards_split_the_scenes_and_fill_one_directory(tmp_path):
    out = tmp_path / "ds"
    for k in range(2):
        result = run_cli(out, "--shard", f"{k}/2")
        assert result.returncode == 0, result.stderr
    store = Store(out)
    assert store.scene_ids() == ["000000", "000001", "000002", "000003"]
    # the same scenes as an unsharded run: specs are a pure function of seed and index
    single = tmp_path / "single"
    assert run_cli(single, "--scenes", "4").returncode == 0
    for sid in store.scene_ids():
        assert store.spec_path(sid).read_text() == Store(single).spec_path(sid).read_text()


def test_a_run_where_every_scene_fails_stops_early_with_one_line(tmp_path):
    out = tmp_path / "ds"
    assert run_cli(out, "--scenes", "6", "--shard", "0/6").returncode == 0  # scene 0 only
    for ply in (out / "models").glob("*.ply"):
        ply.write_bytes(b"not a ply file\n")  # the worker cannot load any part now
    result = run_cli(out, "--scenes", "6")
    assert result.returncode == 2, result.stderr
    err = result.stderr.strip().splitlines()[-1]
    assert err.startswith("legodata: error: the first 3 scenes all failed, stopping") and "re-run" in err
    assert Store(out).scene_ids() == ["000000"]  # nothing half-written, the rest still pending
    assert len(list((out / "failed").glob("*.json"))) >= 3
