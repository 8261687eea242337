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
import json
import os
import resource
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from legodata.core.atomic import atomic_open
from legodata.core.mesh import write_ply
from legodata.core.records import SCHEMA_VERSION, Record
from legodata.errors import LegodataError
from legodata.jobs.manifest import CONVENTIONS, catalogue_entry, package_versions
from legodata.runlog.episode import Problem
from legodata.runlog.events import FORMAT_NAME, FORMAT_VERSION, Header
from legodata.runlog.reader import LogReader
from legodata.sources.robot_log import Catalogue, EpisodeRecords, iter_episode_records
from legodata.store.store import Store

QUARANTINE = "quarantine.jsonl"
EPISODE_INFO = "episode.json"


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
                _commit_episode(store, reader, ep, summary, link, on_problem=quarantine, strict=strict)
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


def _committed_info(store: Store, episode: str) -> dict | None:
    path = store.scene_dir(episode) / EPISODE_INFO
    if not store.is_scene_done(episode) or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _skip_unchanged(store, reader, ep: EpisodeRecords, summary) -> tuple[bool, dict | None]:
    """(True, info) when the episode is committed already with the same content (counted as unchanged), else
    (False, the committed episode's info or None). An episode of the same name from another log is an error."""
    if ep.unfinished:
        summary.episodes_unfinished += 1
    old = _committed_info(store, ep.episode)
    if old is not None:
        if old.get("log_id") != ep.log_id:
            raise LegodataError(
                f"{reader.path}:{ep.first_line}: episode {ep.episode!r} is already in {store.root} from another log "
                f"({old.get('log')}); episode names must be unique within a store"
            )
        if old.get("content_sha256") == ep.content_sha256:
            summary.episodes_unchanged += 1
            summary.records += int(old.get("records", 0))
            summary.instances += int(old.get("instances", 0))
            return True, old
    return False, old


def count_committed(summary, records: int, instances: int, replaced: bool) -> None:
    """Count one episode just committed (imported, or replaced when its content changed)."""
    if replaced:
        summary.episodes_replaced += 1
    else:
        summary.episodes_imported += 1
    summary.records += records
    summary.instances += instances


def _commit_episode(store, reader, ep: EpisodeRecords, summary, link: bool, on_problem, strict: bool) -> None:
    skip, old = _skip_unchanged(store, reader, ep, summary)
    if not skip:
        records = build_episode(store, reader, ep, link, on_problem, strict)
        count_committed(summary, len(records), sum(len(r.instances) for r in records), old is not None)


def build_episode(store, reader, ep: EpisodeRecords, link: bool, on_problem, strict: bool, index: bool = True):
    """Materialise the episode in a temp folder and commit it in one rename; its records. ``reader`` is anything
    with the log's ``root`` and ``path``. ``index=False`` leaves the index append to the caller (a Ray driver)."""
    tmp = store.new_tmp_dir(ep.episode)
    try:
        records = _materialise(store, reader, ep, tmp, link, on_problem, strict)
        info = {
            "episode": ep.episode,
            "content_sha256": ep.content_sha256,
            "log_id": ep.log_id,
            "log": str(reader.path),
            "lines": [ep.first_line, ep.last_line],
            "unfinished": ep.unfinished,
            "records": len(records),
            "instances": sum(len(r.instances) for r in records),
        }
        (tmp / EPISODE_INFO).write_text(json.dumps(info, indent=1))
        if index:
            store.commit_scene(tmp, ep.episode, records)
        else:
            store.commit_scene(tmp, ep.episode, records, index=False)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return records


def _place(src: Path, dst: Path, link: bool) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass  # another file system, or links not allowed: copy
    shutil.copyfile(src, dst)


def _materialise(store, reader, ep: EpisodeRecords, tmp: Path, link: bool, on_problem, strict: bool) -> list[Record]:
    """Copy (or hard-link) every file of the episode into ``tmp``, decode video frames; records with store paths."""
    root = reader.root
    prefix = store.scene_rel(ep.episode)
    out = []
    videos: dict[str, object] = {}
    try:
        for rec in ep.records:
            obs = rec.meta["observation"]
            changes: dict = {}
            if "video_frame" in rec.meta:
                rel = f"rgb/{obs}.png"
                try:
                    _video_frame(videos, root / rec.image_path, int(rec.meta["video_frame"]), tmp / rel)
                except LegodataError as exc:
                    reason = f"observation {obs}: {exc}"
                    if strict:
                        raise LegodataError(f"{reader.path}:{rec.meta['log_line']}: {reason}") from None
                    on_problem(Problem(int(rec.meta["log_line"]), "", reason, ep.episode))
                    continue
                changes["image_path"] = f"{prefix}/{rel}"
            else:
                rel = f"rgb/{obs}{Path(rec.image_path).suffix.lower()}"
                _place(root / rec.image_path, tmp / rel, link)
                changes["image_path"] = f"{prefix}/{rel}"
            for name, sub in (("mask_path", "mask"), ("depth_path", "depth")):
                value = getattr(rec, name)
                if value is not None:
                    rel = f"{sub}/{obs}{Path(value).suffix.lower()}"
                    _place(root / value, tmp / rel, link)
                    changes[name] = f"{prefix}/{rel}"
            meta = dict(rec.meta)
            vlm_mask = meta.pop("vlm_mask_path", None)
            if vlm_mask:  # the VLM's own mask of the relevant part: a further file of the record
                rel = f"vlm_mask/{obs}{Path(vlm_mask).suffix.lower()}"
                _place(root / vlm_mask, tmp / rel, link)
                meta["extra_paths"] = {**(meta.get("extra_paths") or {}), "vlm_mask": f"{prefix}/{rel}"}
            meta["log_paths"] = {
                "image": rec.image_path,
                "mask": rec.mask_path,
                "depth": rec.depth_path,
                "vlm_mask": vlm_mask,
            }
            changes["meta"] = meta
            out.append(replace(rec, **changes))
    finally:
        for container in videos.values():
            container.close()  # type: ignore[attr-defined]
    return out


def _video_frame(videos: dict, path: Path, index: int, dst: Path) -> None:
    """Decode frame ``index`` (0-based, in decoding order) of the video at ``path`` to a PNG at ``dst``."""
    from legodata.errors import require

    av = require("av", "video")
    import cv2

    key = str(path)
    state = videos.get(key)
    if state is None or state.next_index - 1 > index:  # type: ignore[attr-defined]
        if state is not None:
            state.close()  # type: ignore[attr-defined]
        state = _VideoCursor(av.open(key))
        videos[key] = state
    frame = state.seek(index)
    if frame is None:
        raise LegodataError(f"video {path.name} has {state.next_index} frames, frame {index} was asked for")
    dst.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(dst), frame)


class _VideoCursor:
    """Sequential decoding of one video (observations ask for frames in increasing order)."""

    def __init__(self, container) -> None:
        self.container = container
        self.frames = container.decode(video=0)
        self.next_index = 0
        self.last = None

    def seek(self, index: int):
        if index == self.next_index - 1 and self.last is not None:
            return self.last
        frame = None
        while self.next_index <= index:
            try:
                frame = next(self.frames)
            except StopIteration:
                return None
            self.next_index += 1
        self.last = frame.to_ndarray(format="bgr24") if frame is not None else None
        return self.last

    def close(self) -> None:
        self.container.close()
