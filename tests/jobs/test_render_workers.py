"""Render job control with real Blender workers: --workers 2, worker recycling, a worker killed mid-scene, Ctrl-C,
and --format bop,coco. Every run is compared with one uninterrupted single-worker run of the same settings: the
store must come out the same, byte for byte (pixels included), however the work was split, restarted or resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from support.store_compare import assert_same_store

from legodata.core.protocol import WORKER_MODULE
from legodata.store.store import Store

ARGS = ["--scenes", "4", "--views", "2", "--resolution", "48", "--seed", "21", "--parts", "3003,3039"]
ARGS += ["--parts-per-scene", "2,2", "--preset", "fast", "--quiet"]
SCENES = ["000000", "000001", "000002", "000003"]
TIMEOUT_S = 600  # a hang guard only


def command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "legodata.cli", "render", "--out", str(out), *ARGS, *extra]


def run_cli(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(out, *extra), capture_output=True, text=True, timeout=TIMEOUT_S)


def assert_whole_scenes(root: Path, views: int = 2) -> None:
    """Every directory under scenes/ is a complete scene."""
    for d in (root / "scenes").glob("*/*"):  # scenes/<chunk>/<scene>
        for sub in ("rgb", "mask", "depth"):
            assert sorted(p.name for p in (d / sub).iterdir()) == [f"{v:04d}.png" for v in range(views)], d
        assert len((d / "records.jsonl").read_text().splitlines()) == views, d


class WorkerWatch:
    """Polls the children of ``pid`` and keeps every render worker it sees (workers live for seconds). Only direct
    children count: a worker's own short-lived forks carry its command line until they exec."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.seen: dict[int, psutil.Process] = {}
        self.max_alive = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def alive(self) -> list[psutil.Process]:
        out = []
        try:
            children = self.root.children()
        except psutil.Error:
            return out
        for p in children:
            try:
                if WORKER_MODULE in " ".join(p.cmdline()):
                    out.append(p)
            except psutil.Error:
                pass
        return out

    def _poll(self) -> None:
        while not self._stop.is_set():
            alive = self.alive()
            for p in alive:
                self.seen.setdefault(p.pid, p)
            self.max_alive = max(self.max_alive, len(alive))
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def wait_until(condition, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert proc.poll() is None, f"the render ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def scene_in_progress(out: Path, scene_id: str) -> bool:
    """The worker has started ``scene_id`` (it creates rgb/ in the scene's temp directory first)."""
    return any((d / "rgb").is_dir() for d in (out / ".tmp").glob(f"{scene_id}-*"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run, one worker, exported with --format bop,coco."""
    out = tmp_path_factory.mktemp("reference") / "store"
    result = run_cli(out, "--format", "bop,coco")
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.mark.slow
def test_render_format_bop_coco_exports_the_finished_store(reference, tmp_path):
    from pycocotools.coco import COCO

    from legodata.export import export

    out, result = reference
    lines = result.stdout.strip().splitlines()
    assert "4 scenes rendered (8 frames" in lines[0]
    assert any(line.startswith(f"{out / 'bop'}:") and "8 images" in line for line in lines[1:]), lines
    assert any(line.startswith(f"{out / 'coco'}:") for line in lines[1:]), lines
    assert sorted(d.name for d in (out / "bop" / "train").iterdir()) == SCENES
    coco = COCO(str(out / "coco" / "annotations.json"))
    assert len(coco.getImgIds()) == 8 and len(coco.getAnnIds()) > 0
    # the same files as exporting the finished store afterwards
    export(out, tmp_path, "bop,coco")
    for fmt in ("bop", "coco"):
        mine = {p.relative_to(out / fmt): p.read_bytes() for p in (out / fmt).rglob("*") if p.is_file()}
        again = {p.relative_to(tmp_path / fmt): p.read_bytes() for p in (tmp_path / fmt).rglob("*") if p.is_file()}
        assert mine.keys() == again.keys() and all(mine[k] == again[k] for k in mine), fmt


def test_a_bad_format_fails_before_rendering(tmp_path):
    result = run_cli(tmp_path / "store", "--format", "bop,xml")
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.startswith("legodata: error:") and "xml" in err and "\n" not in err
    assert not (tmp_path / "store" / "scenes").exists()  # nothing rendered


@pytest.mark.slow
def test_two_workers_recycled_after_every_scene_render_the_same_store(reference, tmp_path):
    (tmp_path / "render.yaml").write_text("max_scenes_per_worker: 1\n")
    out = tmp_path / "store"
    proc = subprocess.Popen(command(out, "--workers", "2", "--config", str(tmp_path / "render.yaml")), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    watch = WorkerWatch(proc.pid)
    stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    watch.stop()
    assert proc.returncode == 0, stderr
    assert "4 scenes rendered" in stdout and "0 failed" in stdout
    assert watch.max_alive == 2  # two workers at once
    assert len(watch.seen) == 4  # a fresh worker for every scene
    assert sorted(p.name for p in (out / "logs").glob("worker-*.log")) == ["worker-0.log", "worker-1.log"]
    assert_whole_scenes(out)
    assert_same_store(out, reference[0])


@pytest.mark.slow
def test_a_worker_killed_mid_scene_is_recorded_and_retried(reference, tmp_path):
    out = tmp_path / "store"
    store = Store(out)
    proc = subprocess.Popen(command(out), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watch = WorkerWatch(proc.pid)
    wait_until(lambda: store.is_scene_done("000000") and scene_in_progress(out, "000001"), "scene 1 starts", proc)
    (worker,) = watch.alive()
    worker.kill()  # SIGKILL, as the OOM killer would
    stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    watch.stop()
    assert proc.returncode == 1, stderr
    assert "3 scenes rendered" in stdout and "1 failed" in stdout and "re-run" in stdout
    assert len(watch.seen) == 2  # a new worker took the remaining scenes
    failure = json.loads((out / "failed" / "000001.json").read_text())
    assert failure["scene_id"] == "000001" and "exited with code -9" in failure["error"]
    assert store.scene_ids() == ["000000", "000002", "000003"] and not store.scene_dir("000001").exists()
    assert_whole_scenes(out)

    again = run_cli(out)
    assert again.returncode == 0, again.stderr
    assert "1 scenes rendered" in again.stdout and "3 already done" in again.stdout and "0 failed" in again.stdout
    assert not list((out / "failed").iterdir()) and not list((out / ".tmp").iterdir())
    assert_whole_scenes(out)
    assert_same_store(out, reference[0])


@pytest.mark.slow
@pytest.mark.parametrize("to", ["group", "parent"])
def test_ctrl_c_stops_with_one_line_and_a_rerun_resumes(reference, tmp_path, to):
    """``group``: Ctrl-C in a terminal (SIGINT to the foreground process group, workers included); ``parent``:
    ``kill -INT`` of the legodata process alone."""
    out = tmp_path / "store"
    store = Store(out)
    proc = subprocess.Popen(command(out), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    watch = WorkerWatch(proc.pid)
    wait_until(lambda: store.is_scene_done("000000") and scene_in_progress(out, "000001"), "scene 1 starts", proc)
    assert len(watch.alive()) == 1
    if to == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)  # a hang guard: an interrupted render must not go on rendering
    watch.stop()
    assert proc.returncode == 130, (stdout, stderr)
    err = [line for line in stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "interrupted" in err[0] and "re-run" in err[0], stderr
    assert "scenes rendered" not in stdout  # no summary of a run that did not finish
    _, alive = psutil.wait_procs(list(watch.seen.values()), timeout=30)
    assert not alive, "a render worker outlived the interrupted run"
    done = store.scene_ids()
    assert done in (["000000"], ["000000", "000001"])  # scene 1 is either whole or absent; nothing started after
    assert_whole_scenes(out)

    again = run_cli(out)
    assert again.returncode == 0, again.stderr
    assert f"{len(done)} already done" in again.stdout and "0 failed" in again.stdout
    assert not list((out / "failed").iterdir()) and not list((out / ".tmp").iterdir())
    assert_whole_scenes(out)
    assert_same_store(out, reference[0])
