"""One scene of ``legodata render``, the same for every executor: render it through a worker process, label it,
commit it to the store; and what the driver does with the outcome (tally, failed/ bookkeeping).

The local executor (threads in ``render_job``) and the Ray executor (tasks in ``render_ray``) both call
:meth:`SceneRunner.run_many` over their scenes and :func:`note_outcome` per finished scene, so the two differ only
in who places the work.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from legodata.core.records import Record
from legodata.core.spec import load_spec
from legodata.jobs.tally import Tally
from legodata.jobs.worker_client import WorkerClient, WorkerCrashed
from legodata.sources.render import scene_records
from legodata.store.store import SCENE_RECORDS, Store

if TYPE_CHECKING:
    from legodata.jobs.render_setup import RenderJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SceneOutcome:
    """How one scene went: its records once committed, or the reason it failed. ``crashed``: the worker process
    died (it is restarted for the next scene). ``earlier``: committed before this attempt (a retried Ray task)."""

    scene_id: str
    records: tuple[Record, ...] = ()
    error: str | None = None
    crashed: bool = False
    earlier: bool = False


class SceneRunner:
    """Renders scenes one after another through one worker process at a time; the process is recycled every
    ``max_scenes_per_worker`` scenes (bounds Blender's memory growth) and restarted after a crash. ``index=False``
    leaves appending the records to the store's index to the driver (Ray tasks; see :func:`note_outcome`)."""

    def __init__(self, job: RenderJob, threads: int, log_path: Path, index: bool = True) -> None:
        self.job = job
        self.threads = threads
        self.log_path = log_path
        self.index = index
        self.client: WorkerClient | None = None

    def _ready_client(self) -> WorkerClient:
        if self.client is None or self.client.scenes_done >= self.job.config.max_scenes_per_worker:
            if self.client is not None:
                self.client.close()
            self.client = WorkerClient(self.job.store.root, self.log_path, self.threads)
        return self.client

    def run_many(self, scene_ids: Iterable[str]) -> Iterator[SceneOutcome]:
        """Render, label and commit each of ``scene_ids`` (specs in the store) in turn, one outcome each, in order;
        a failure is an outcome, never raised. A scene is labelled and committed in a thread while the worker
        renders the next one, so the parent's share (a silhouette per part and view, the commit) is off the
        critical path; each scene is rendered from a clean Blender state whatever is labelled beside it."""
        labeller = ThreadPoolExecutor(max_workers=1, thread_name_prefix="label")
        labelling: Future | None = None
        try:
            for scene_id in scene_ids:
                rendered = self._render(scene_id)
                if labelling is not None:
                    yield labelling.result()
                    labelling = None
                if isinstance(rendered, SceneOutcome):
                    yield rendered
                else:
                    labelling = labeller.submit(self._label_and_commit, scene_id, rendered)
            if labelling is not None:
                yield labelling.result()
        finally:
            labeller.shutdown(wait=True)  # a scene being committed is finished, never cut off

    def _render(self, scene_id: str) -> Path | SceneOutcome:
        """Render ``scene_id`` into a fresh temp folder (returned), or the outcome of its failure."""
        tmp = self.job.store.new_tmp_dir(scene_id)
        try:
            answer = self._ready_client().render(self.job.store.spec_path(scene_id), tmp)
            if not answer.ok:
                raise RuntimeError(answer.error or "worker reported a failure without a reason")
            return tmp
        except WorkerCrashed as exc:
            self.client = None
            shutil.rmtree(tmp, ignore_errors=True)
            return SceneOutcome(scene_id, error=str(exc), crashed=True)
        except Exception as exc:  # a scene failing must not stop the run; the reason is kept
            shutil.rmtree(tmp, ignore_errors=True)
            return SceneOutcome(scene_id, error=f"{type(exc).__name__}: {exc}")

    def _label_and_commit(self, scene_id: str, tmp: Path) -> SceneOutcome:
        """The records of the scene rendered into ``tmp``, committed to the store (or the reason that failed)."""
        store = self.job.store
        try:
            records = scene_records(load_spec(store.spec_path(scene_id)), tmp, self.job.meshes, self.job.config.preset)
            store.commit_scene(tmp, scene_id, records, index=self.index)
            return SceneOutcome(scene_id, tuple(records))
        except Exception as exc:  # a scene failing must not stop the run; the reason is kept
            shutil.rmtree(tmp, ignore_errors=True)
            return SceneOutcome(scene_id, error=f"{type(exc).__name__}: {exc}")

    def close(self, kill: bool = False) -> None:
        """Stop the worker process: after its current scene, or at once with ``kill``."""
        if self.client is not None:
            self.client.close(kill=kill)
            self.client = None


def committed_outcome(store: Store, scene_id: str) -> SceneOutcome:
    """The outcome of a scene committed by an earlier attempt, its records read back from the store."""
    return SceneOutcome(scene_id, read_scene_records(store, scene_id), earlier=True)


def read_scene_records(store: Store, scene_id: str) -> tuple[Record, ...]:
    """The records of the committed scene (or group) ``scene_id``, as the store keeps them in its folder."""
    path = store.scene_dir(scene_id) / SCENE_RECORDS
    return tuple(Record.from_json(line) for line in path.read_text().splitlines() if line.strip())


def render_batch(job: RenderJob, scene_ids: Sequence[str], threads: int) -> Iterator[SceneOutcome]:
    """Render ``scene_ids`` in order with one worker process, yielding one outcome per scene. A scene already in
    the store (committed by an earlier attempt of this batch) is not rendered again: a retry redoes only the rest."""
    log = job.store.root / "logs" / f"worker-{socket.gethostname()}-{os.getpid()}.log"
    runner = SceneRunner(job, threads, log, index=False)
    finished = False
    try:
        todo = []
        for scene_id in scene_ids:
            if job.store.is_scene_done(scene_id):
                yield committed_outcome(job.store, scene_id)
            else:
                todo.append(scene_id)
        yield from runner.run_many(todo)
        finished = True
    finally:
        runner.close(kill=not finished)  # cancelled or killed: do not wait for the scene in flight


def note_outcome(store: Store, tally: Tally, outcome: SceneOutcome, append: bool = False) -> None:
    """The driver's bookkeeping of one finished scene: count it, keep or clear its reason in failed/; ``append``:
    add its records to the store's index (scenes committed by Ray tasks, which leave that to the driver)."""
    if outcome.error is not None:
        store.record_failure(outcome.scene_id, outcome.error)
        tally.fail(outcome.scene_id, outcome.error)
        logger.warning("scene %s failed: %s", outcome.scene_id, outcome.error)
    else:
        if append:
            store.append_index(outcome.scene_id, outcome.records)
        store.clear_failure(outcome.scene_id)
        tally.rendered += 1
