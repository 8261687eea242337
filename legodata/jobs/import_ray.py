"""``legodata import-log --executor ray``: the driver reads and labels the log (streaming, as locally); each episode
that needs committing becomes a Ray task that copies or links its files, decodes its video frames and commits it to
the store (a path every node sees, as is the log). The driver counts, quarantines and indexes what comes back.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from legodata.core.records import Record
from legodata.errors import LegodataError
from legodata.jobs import import_episode
from legodata.jobs.ray_executor import describe_error, stream_tasks
from legodata.jobs.scene_task import read_scene_records
from legodata.runlog.episode import Problem
from legodata.sources.robot_log import EpisodeRecords
from legodata.store.store import Store

logger = logging.getLogger(__name__)

TASK_OPTIONS = {"num_cpus": 1, "num_gpus": 0, "max_retries": 3}


@dataclass(frozen=True)
class LogPaths:
    """Where the log's files are (what the episode builder needs of the reader)."""

    root: Path
    path: Path


@dataclass(frozen=True)
class EpisodeDone:
    episode: str
    records: tuple[Record, ...]
    problems: tuple[Problem, ...]
    replaced: bool


def _import_task(root: str, log: LogPaths, ep: EpisodeRecords, link: bool, strict: bool, replaced: bool):
    """The body of one Ray task: build and commit one episode. An episode committed by an earlier attempt of this
    task is not committed again; its problems are found again in a scratch folder (none is dropped)."""
    store = Store(root)
    problems: list[Problem] = []
    info = import_episode.committed_info(store, ep.episode)
    if info is not None and info.get("content_sha256") == ep.content_sha256:
        scratch = store.new_tmp_dir(ep.episode)
        try:
            import_episode.materialise(store, log, ep, scratch, link, problems.append, strict)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        records = read_scene_records(store, ep.episode)
    else:
        records = tuple(import_episode.build_episode(store, log, ep, link, problems.append, strict, index=False))
    yield EpisodeDone(ep.episode, records, tuple(problems), replaced)


def import_on_ray(
    ray: Any, episodes: Iterable[EpisodeRecords], open_store, reader, summary, quarantine, bar, link: bool, strict: bool
) -> Store | None:
    """Import ``episodes`` with Ray tasks, at most a few per CPU in flight (memory stays bounded by them). The store
    is opened by ``open_store(first episode)``; returns it (None when the log has no episode)."""
    store: Store | None = None
    names: list[str] = []

    def calls() -> Iterator[tuple]:
        nonlocal store
        for ep in episodes:
            if store is None:
                store = open_store(ep)
            skip, old = import_episode.skip_unchanged(store, reader, ep, summary)
            if skip:
                bar.update(1)
                continue
            names.append(ep.episode)
            log = LogPaths(Path(reader.root).resolve(), Path(reader.path))  # the path as given, as locally
            # labelled here; the task gets the records alone (the labeller holds the log's state, which stays)
            shipped = replace(ep, _make=None, _records=list(ep.records))
            yield str(store.root.resolve()), log, shipped, link, strict, old is not None

    def on_item(_k: int, done: EpisodeDone) -> None:
        for problem in done.problems:
            quarantine(problem)
        assert store is not None
        if not done.replaced:  # a replaced episode marked the index for a rebuild
            store.append_index(done.episode, done.records)
        import_episode.count_committed(
            summary, len(done.records), sum(len(r.instances) for r in done.records), done.replaced
        )
        bar.update(1)

    def on_lost(k: int, exc: BaseException) -> None:
        if isinstance(exc, LegodataError):  # --strict: the first bad line, as a local import says it
            raise LegodataError(str(getattr(exc, "cause", exc))) from None
        raise LegodataError(
            f"episode {names[k]!r} could not be imported on Ray ({describe_error(exc)}); re-run the same command "
            "to resume"
        )

    window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    stream_tasks(ray, _import_task, calls(), TASK_OPTIONS, on_item, on_lost, window)
    return store
