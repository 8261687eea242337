"""``legodata render --executor ray``: batches of scenes become Ray tasks, each running the usual render worker
process and committing its scenes into the store (a path every node sees); the driver counts what comes back.

A task yields one :class:`~legodata.jobs.scene_task.SceneOutcome` per scene; the driver appends the records to the
store's index, keeps failures in failed/, moves the progress bar. A task whose process dies is retried by Ray; the
retry skips the scenes already committed (a scene appears only by the store's rename, so none is half-written).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from legodata.jobs.ray_executor import batches, describe_error, stream_tasks, task_shape
from legodata.jobs.scene_task import SceneOutcome, note_outcome, render_batch
from legodata.jobs.tally import Tally
from legodata.store.store import Store

if TYPE_CHECKING:
    from legodata.jobs.render_setup import RenderJob

logger = logging.getLogger(__name__)


def _render_task(job: RenderJob, root: str, scene_ids: Sequence[str], threads: int) -> Iterator[SceneOutcome]:
    """The body of one Ray task (runs on any node): render ``scene_ids`` into the store at ``root``."""
    yield from render_batch(replace(job, store=Store(root)), scene_ids, threads)


def render_pending_on_ray(ray, job: RenderJob, pending: list[str], tally: Tally, progress: bool) -> None:
    """Render the scenes ``pending`` as Ray tasks, counting them in ``tally``; stops early like a local run when
    the first scenes all fail."""
    cfg = job.config
    threads = cfg.render_settings().threads
    shape = task_shape(ray, cfg.device, threads)
    work = batches(pending, shape.slots, cfg.max_scenes_per_worker)
    root = str(job.store.root.resolve())
    # the Store holds locks, which do not travel: tasks get the job without it and re-open the store by its path
    job_ref = ray.put(replace(job, store=None))
    logger.info(
        "ray: %d scenes in %d tasks, each %g CPUs %g GPUs, %d at once",
        len(pending), len(work), shape.num_cpus, shape.num_gpus, shape.slots,
    )  # fmt: skip
    from tqdm import tqdm

    bar = tqdm(total=len(pending), unit="scene", disable=not progress, desc="render (ray)", dynamic_ncols=True)
    seen: set[str] = set()

    def on_item(_k: int, outcome: SceneOutcome) -> None:
        if outcome.scene_id in seen:  # a replay's item that Ray delivered twice: counted once
            return
        seen.add(outcome.scene_id)
        note_outcome(job.store, tally, outcome, append=True)
        bar.update(1)
        if tally.all_failing():  # e.g. no GPU for --device gpu, a broken install on the nodes
            raise tally.stop_error("re-run the same command")

    def on_lost(k: int, exc: BaseException) -> None:
        reason = f"Ray task lost after {shape.options()['max_retries']} retries: {describe_error(exc)}"
        for scene_id in work[k]:
            if scene_id not in seen:
                on_item(k, SceneOutcome(scene_id, error=reason))

    calls = [(job_ref, root, batch, threads) for batch in work]
    try:
        stream_tasks(ray, _render_task, calls, shape.options(), on_item, on_lost, window=2 * shape.slots)
    finally:
        bar.close()
