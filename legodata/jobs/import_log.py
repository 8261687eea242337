"""``legodata import-log``: a run log -> a store, one committed group per episode.

Streaming: episodes are read, labelled, materialised and committed one at a time, so memory is bounded by one
episode (and the episodes open at once in an interleaved log). Idempotent and resumable: each committed episode
keeps its content hash (``scenes/<episode>/episode.json``); an episode whose hash is unchanged is skipped, a
changed one (a log that grew, an image that changed) is rebuilt and replaced in one rename, so an interrupted
import resumes by running the same command. Bad lines go to ``STORE/quarantine.jsonl`` (line number, reason, raw
line) and the rest imports; ``strict`` stops at the first one instead.
"""

from __future__ import annotations

import hashlib
import resource
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from legodata.core.atomic import atomic_open
from legodata.core.mesh import write_ply
from legodata.core.records import SCHEMA_VERSION
from legodata.errors import LegodataError
from legodata.jobs.import_episode import commit_episode
from legodata.jobs.manifest import CONVENTIONS, catalogue_entry, package_versions
from legodata.runlog.episode import Problem
from legodata.runlog.events import FORMAT_NAME, FORMAT_VERSION, Header
from legodata.runlog.reader import LogReader
from legodata.sources.robot_log import Catalogue, iter_episode_records
from legodata.store.store import Store

QUARANTINE = "quarantine.jsonl"


@dataclass
class ImportSummary:
    out: str
    log: str
    lines: int = 0
    events: int = 0
    episodes_imported: int = 0
    episodes_unchanged: int = 0
    episodes_replaced: int = 0
    episodes_unfinished: int = 0
    records: int = 0
    instances: int = 0
    problems: int = 0
    missing_files: int = 0
    quarantine: str | None = None
    wall_s: float = 0.0
    peak_rss_mb_before_index: float = 0.0  # this process's peak RSS before the store's index was rebuilt
    reasons: Counter = field(default_factory=Counter)

    @property
    def events_per_s(self) -> float:
        return self.lines / self.wall_s if self.wall_s > 0 else float("nan")


def log_manifest(header: Header, catalogue: dict, log_path: Path, log_id: str) -> dict:
    """The manifest of a store made from run logs."""
    conventions = dict(CONVENTIONS)
    conventions["splits"] = "by group_id (robot episode), never by image"
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "legodata-store",
        "source": "robot_log",
        "settings": {
            "log_format": f"{FORMAT_NAME}/{FORMAT_VERSION}",
            "catalogue": header.catalogue.kind,
            "part_ids": sorted(catalogue),
        },
        "seed": None,
        "catalogue": catalogue,
        "colours": [],
        "conventions": conventions,
        "log": {"path": str(log_path), "header_sha256": log_id, "robot": header.robot.get("name")},
        "versions": package_versions(),
    }


class _Quarantine:
    """Problems streamed to ``fh``, counted in ``summary``."""

    def __init__(self, fh, summary: ImportSummary) -> None:
        self.fh = fh
        self.summary = summary
        self.first: Problem | None = None

    def __call__(self, problem: Problem) -> None:
        self.first = self.first or problem
        self.fh.write(problem.to_json() + "\n")
        self.summary.problems += 1
        if "does not exist" in problem.reason:
            self.summary.missing_files += 1
        self.summary.reasons[_reason_kind(problem.reason)] += 1


def _reason_kind(reason: str) -> str:
    head = reason.split(":", 2)
    return head[0] if head[0].startswith("field ") else reason.split(" (")[0][:60]


def _catalogue_entries(catalogue: Catalogue, part_ids: set[str]) -> dict:
    return {pid: catalogue_entry(catalogue.part(pid), f"models/{pid}.ply") for pid in sorted(part_ids)}


def run_import(
    log_dir: str | Path,
    out: str | Path,
    *,
    strict: bool = False,
    ldraw_dir: str | Path | None = None,
    link: bool = True,
    progress: bool = False,
    executor: str = "local",
    address: str | None = None,
) -> ImportSummary:
    """Import the log at ``log_dir`` into the store ``out`` (created on first use). See the module docstring.
    ``executor="ray"`` commits the episodes in Ray tasks (on the cluster at ``address``, or a local Ray)."""
    if executor not in ("local", "ray"):
        raise LegodataError(f"--executor {executor!r}: use local or ray")
    if address is not None and executor != "ray":
        raise LegodataError(f"--address {address!r}: is a Ray cluster address: use it with --executor ray")
    if executor == "ray":
        from legodata.jobs.ray_executor import ray_session

        with ray_session(address) as ray:
            return _run_import(log_dir, out, strict, ldraw_dir, link, progress, ray)
    return _run_import(log_dir, out, strict, ldraw_dir, link, progress)


def _run_import(log_dir, out, strict: bool, ldraw_dir, link: bool, progress: bool, ray=None) -> ImportSummary:
    start = time.monotonic()
    out = Path(out)
    summary = ImportSummary(out=str(out), log=str(log_dir))
    catalogue = Catalogue(ldraw_dir)
    # the quarantine is written beside the store (which may not exist yet) and renamed into it at the end; it keeps
    # raw log lines, so only the owner may read it
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.quarantine-{uuid.uuid4().hex[:8]}.tmp"
    with atomic_open(out / QUARANTINE, "w", encoding="utf-8", perms=0o600, stage=stage) as fh:
        quarantine = _Quarantine(fh, summary)
        store: Store | None = None
        reader = LogReader(log_dir, strict=strict, on_problem=quarantine, part_ids=catalogue.part_ids)
        summary.log = str(reader.path)
        episodes = iter_episode_records(reader.path, catalogue=catalogue, reader=reader)
        from tqdm import tqdm

        bar = tqdm(desc="import", unit="episode", disable=not progress, dynamic_ncols=True)
        if ray is None:
            for ep in episodes:
                if store is None:
                    store = _open_store(out, reader, catalogue, ep.log_id)
                commit_episode(store, reader, ep, summary, link, on_problem=quarantine, strict=strict)
                bar.update(1)
        else:
            from legodata.jobs.import_ray import import_on_ray

            def open_store(ep):
                return _open_store(out, reader, catalogue, ep.log_id)

            store = import_on_ray(ray, episodes, open_store, reader, summary, quarantine, bar, link, strict)
        bar.close()
        if store is None:
            if reader.header is None:
                first = f" (line {quarantine.first.lineno}: {quarantine.first.reason})" if quarantine.first else ""
                raise LegodataError(f"{reader.path}: no valid header line, nothing imported{first}")
            store = _open_store(out, reader, catalogue, hashlib.sha256(reader._header_raw).hexdigest())
        summary.lines, summary.events = reader.lines, reader.events
        summary.peak_rss_mb_before_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store.sync_index()  # episodes were appended as they were committed; this only repairs a killed run
        summary.quarantine = str(store.root / QUARANTINE)
    summary.wall_s = time.monotonic() - start
    return summary


def _open_store(out: Path, reader: LogReader, catalogue: Catalogue, log_id: str) -> Store:
    header = reader.header
    assert header is not None
    part_ids = catalogue.part_ids(header) or set()
    entries = _catalogue_entries(catalogue, part_ids)
    store = Store(out)
    if store.exists() and store.read_manifest().get("source") != "robot_log":
        made_by = store.read_manifest().get("source")
        raise LegodataError(f"--out {out} holds {made_by!r} records, not robot runs: import into a new store")
    store.create_or_check(log_manifest(header, entries, reader.path, log_id))
    store.clean_stale_tmp()
    for pid in entries:
        path = store.root / "models" / f"{pid}.ply"
        if not path.exists():
            write_ply(catalogue.part(pid).mesh, path)
    return store
