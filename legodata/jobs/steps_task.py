"""One model of ``legodata render-steps``, the same for every executor: render, label and commit it through a worker
process (:class:`ModelRunner`), and what the driver does with the outcome (:func:`note_model`). The local loop
(``steps_job``) and the Ray tasks (:func:`models_on_ray`) differ only in who places the models."""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legodata.core.records import Record
from legodata.jobs.scene_task import read_scene_records
from legodata.jobs.tally import Tally
from legodata.jobs.worker_client import WorkerClient, WorkerCrashed
from legodata.store.store import Store

if TYPE_CHECKING:
    from legodata.assembly.steps import Assembly
    from legodata.jobs.steps_config import StepsConfig
    from legodata.jobs.steps_parts import Catalogue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOutcome:
    """How one model went: its steps, worker seconds and records once committed, or the reason it failed."""

    group: str
    steps: int = 0
    timing: dict[str, float] = field(default_factory=dict)
    records: tuple[Record, ...] = ()
    error: str | None = None


class ModelRunner:
    """Renders models one after another through one worker process at a time (recycled every
    ``max_models_per_worker`` models, restarted after a crash). ``index=False``: the driver appends the index."""

    def __init__(self, store: Store, cfg: StepsConfig, cat: Catalogue, log: Path, threads: int, index: bool = True):
        self.store, self.cfg, self.cat = store, cfg, cat
        self.log, self.threads, self.index = log, threads, index
        self.client: WorkerClient | None = None

    def run(self, i: int, group: str, a: Assembly) -> ModelOutcome:
        """Render, label and commit model ``group``; a failure is returned, not raised."""
        from legodata.jobs.steps_model import render_model

        if self.client is None or self.client.scenes_done >= self.cfg.max_models_per_worker * (2 * a.n_steps + 2):
            if self.client is not None:
                self.client.close()
            self.client = WorkerClient(self.store.root, self.log, self.threads)
        try:
            timing = render_model(self.client, self.store, self.cfg, self.cat, i, group, a, append_index=self.index)
        except Exception as exc:  # one model failing must not stop the run; the reason is kept
            if isinstance(exc, WorkerCrashed):
                self.client = None
            return ModelOutcome(group, error=f"{type(exc).__name__}: {exc}")
        records = () if self.index else read_scene_records(self.store, group)
        return ModelOutcome(group, a.n_steps, timing, records)

    def close(self, kill: bool = False) -> None:
        if self.client is not None:
            self.client.close(kill=kill)
            self.client = None


def render_models(cfg: StepsConfig, cat: Catalogue, root: str, items: Sequence[tuple[int, str, Any]], threads: int):
    """The body of one Ray task: render ``items`` (index, group, assembly) into the store at ``root``, one outcome
    per model. A model committed by an earlier attempt of this task is not rendered again."""
    store = Store(root)
    log = store.root / "logs" / f"steps-worker-{socket.gethostname()}-{os.getpid()}.log"
    runner = ModelRunner(store, cfg, cat, log, threads, index=False)
    finished = False
    try:
        for i, group, a in items:
            if store.is_scene_done(group):
                yield ModelOutcome(group, a.n_steps, {}, read_scene_records(store, group))
            else:
                yield runner.run(i, group, a)
        finished = True
    finally:
        runner.close(kill=not finished)


def note_model(store: Store, tally: Tally, timing: Counter, outcome: ModelOutcome, append: bool = False) -> int:
    """The driver's bookkeeping of one finished model; returns its steps (0 when it failed)."""
    if outcome.error is not None:
        store.record_failure(outcome.group, outcome.error)
        tally.fail(outcome.group, outcome.error)
        logger.warning("model %s failed: %s", outcome.group, outcome.error)
        return 0
    if append:
        store.append_index(outcome.group, outcome.records)
    timing.update(outcome.timing)
    store.clear_failure(outcome.group)
    tally.rendered += 1
    return outcome.steps


def models_on_ray(ray, store: Store, cfg: StepsConfig, cat: Catalogue, pending: list, tally: Tally, timing: Counter,
                  progress: bool) -> int:  # fmt: skip
    """Render the models ``pending`` as Ray tasks (batches of models); returns the steps rendered."""
    from tqdm import tqdm

    from legodata.jobs.ray_executor import batches, describe_error, stream_tasks, task_shape

    threads = max(1, os.cpu_count() or 1)
    shape = task_shape(ray, cfg.device, threads)
    work = batches(pending, shape.slots, cfg.max_models_per_worker)
    refs = ray.put(cfg), ray.put(cat)
    bar = tqdm(total=len(pending), unit="model", disable=not progress, desc="render-steps (ray)", dynamic_ncols=True)
    seen: set[str] = set()
    steps = 0

    def on_item(_k: int, outcome: ModelOutcome) -> None:
        nonlocal steps
        if outcome.group in seen:
            return
        seen.add(outcome.group)
        steps += note_model(store, tally, timing, outcome, append=True)
        bar.update(1)
        if tally.all_failing():
            raise tally.stop_error()

    def on_lost(k: int, exc: BaseException) -> None:
        for _, group, _a in work[k]:
            if group not in seen:
                on_item(k, ModelOutcome(group, error=f"Ray task lost: {describe_error(exc)}"))

    calls = [(*refs, str(store.root.resolve()), batch, threads) for batch in work]
    try:
        stream_tasks(ray, render_models, calls, shape.options(), on_item, on_lost, window=2 * shape.slots)
    finally:
        bar.close()
    return steps
