"""``render --executor ray`` on a real local Ray (started once for the module): the store equals a local
``--workers 1`` render of the same seed byte for byte; a task whose process is killed mid-scene is retried by Ray
and leaves no partial scene; a second run renders nothing; Ctrl-C stops the command, its render workers included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from support.store_compare import assert_same_store

from legodata.config import RenderConfig
from legodata.core.protocol import WORKER_MODULE
from legodata.jobs.render_job import run_render
from legodata.store.store import Store

pytestmark = pytest.mark.slow

SCENES = ["000000", "000001", "000002"]
TIMEOUT_S = 600  # a hang guard only


def config(out: Path, **kw) -> RenderConfig:
    base = RenderConfig(
        out=str(out), scenes=3, views=2, resolution=64, seed=5, parts="3003,3039", parts_per_scene=(2, 2),
        preset="fast", workers=1,
    )  # fmt: skip
    return replace(base, **kw)


def assert_whole_scenes(store: Store) -> None:
    """Every scene folder under scenes/ is complete: all views' images and one record per view."""
    for scene_dir in (store.root / "scenes").glob("*/*"):
        for sub in ("rgb", "mask", "depth"):
            assert sorted(p.name for p in (scene_dir / sub).iterdir()) == ["0000.png", "0001.png"], scene_dir
        assert len((scene_dir / "records.jsonl").read_text().splitlines()) == 2, scene_dir


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The local executor, one worker: what every Ray run must reproduce."""
    out = tmp_path_factory.mktemp("local") / "store"
    summary = run_render(config(out), progress=False)
    assert summary.scenes_rendered == 3 and not summary.failures
    return out


@pytest.fixture(scope="module")
def ray_store(ray_cluster, reference, tmp_path_factory) -> tuple[Path, object]:
    """Two tasks at a time (--workers 2: one CPU each), one scene per task."""
    out = tmp_path_factory.mktemp("ray") / "store"
    summary = run_render(config(out, executor="ray", workers=2), progress=False)
    return out, summary


def test_ray_render_equals_local_render(ray_store, reference):
    out, summary = ray_store
    assert (summary.scenes_rendered, summary.scenes_failed, summary.failures) == (3, 0, ())
    assert Store(out).scene_ids() == SCENES
    assert_same_store(out, reference)  # specs, images, masks, depth, per-scene records and the index
    assert not list((out / "failed").iterdir()) and not list((out / ".tmp").iterdir())


def test_second_ray_run_renders_nothing(ray_store):
    out, _ = ray_store
    before = {p: p.stat().st_mtime_ns for p in (out / "scenes").rglob("*") if p.is_file()}
    summary = run_render(config(out, executor="ray", workers=2), progress=False)
    assert (summary.scenes_rendered, summary.scenes_skipped, summary.scenes_failed) == (0, 3, 0)
    assert "nothing to render: 3 scenes already done" in summary.describe()
    assert {p: p.stat().st_mtime_ns for p in (out / "scenes").rglob("*") if p.is_file()} == before


def render_workers_of_ray() -> list[psutil.Process]:
    """Render worker processes started by a Ray task (their parent is a Ray worker, not this test process)."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if WORKER_MODULE in " ".join(p.cmdline()) and p.ppid() != os.getpid():
                found.append(p)
        except psutil.Error:
            pass
    return found


def test_task_killed_mid_scene_is_retried_without_partial_scenes(ray_cluster, reference, tmp_path):
    out = tmp_path / "store"
    store = Store(out)
    result: dict = {}
    # --workers 1: one task holds all three scenes, so killing it mid-run leaves a finished and an unfinished scene
    job = threading.Thread(target=lambda: result.update(s=run_render(config(out, executor="ray"), progress=False)))
    job.start()
    deadline = time.monotonic() + TIMEOUT_S
    while not (out.exists() and store.is_scene_done("000000") and any((out / ".tmp").glob("000001-*/rgb"))):
        assert job.is_alive() and time.monotonic() < deadline, "the task never reached scene 000001"
        time.sleep(0.02)
    workers = render_workers_of_ray()
    assert len(workers) == 1
    task_process = psutil.Process(workers[0].ppid())
    # Frozen first, so the store is seen as the kill leaves it: Ray's retry can finish the other scenes within a
    # second of the kill, before a look after it.
    task_process.suspend()
    workers[0].suspend()
    assert_whole_scenes(store)  # scene 000001 was not committed half-written
    assert store.scene_ids() == ["000000"]
    first = {p: p.stat().st_mtime_ns for p in store.scene_dir("000000").rglob("*")}
    task_process.send_signal(signal.SIGKILL)  # the Ray worker running the task dies mid-scene
    task_process.wait(timeout=30)
    workers[0].wait(timeout=30)  # its render worker goes with it

    job.join(TIMEOUT_S)
    summary = result["s"]
    assert (summary.scenes_rendered, summary.scenes_failed, summary.failures) == (3, 0, ())
    assert store.scene_ids() == SCENES
    assert_whole_scenes(store)
    assert_same_store(out, reference)  # the same bytes as an uninterrupted local run
    assert {p: p.stat().st_mtime_ns for p in store.scene_dir("000000").rglob("*")} == first  # not rendered again
    assert not list((out / ".tmp").iterdir())  # the killed task's temp scene is gone
    assert not list((out / "failed").iterdir())


def render_workers_of(out: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if WORKER_MODULE in line and str(out) in line:
            found.append(p)
    return found


def test_ctrl_c_stops_the_ray_command_and_its_workers(tmp_path):
    out = tmp_path / "store"
    args = ["--scenes", "4", "--views", "2", "--resolution", "64", "--seed", "5", "--parts", "3003,3039"]
    args += ["--parts-per-scene", "2,2", "--preset", "fast", "--executor", "ray", "--quiet"]
    cmd = [sys.executable, "-m", "legodata.cli", "render", "--out", str(out), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # its own local Ray
    deadline = time.monotonic() + TIMEOUT_S
    while not (out.exists() and Store(out).scene_ids()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    workers = render_workers_of(out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1].endswith("re-run the same command to resume")
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    done = Store(out).scene_ids()
    assert 1 <= len(done) < 4
    assert_whole_scenes(Store(out))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert again.returncode == 0 and f"{len(done)} already done" in again.stdout, again.stderr
    assert Store(out).scene_ids() == ["000000", "000001", "000002", "000003"]
    assert not list((out / ".tmp").iterdir())
