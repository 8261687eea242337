"""One episode of a robot-run log into the store: skip it when committed unchanged, else copy (or link) its frames,
write its records and ``episode.json`` in a temp dir and commit it by one rename. Shared by ``import-log``'s local
loop and its Ray tasks (``import_ray``)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

from legodata.core.records import Record
from legodata.errors import LegodataError
from legodata.runlog.episode import Problem
from legodata.sources.robot_log import EpisodeRecords
from legodata.store.store import Store

EPISODE_INFO = "episode.json"


def committed_info(store: Store, episode: str) -> dict | None:
    """The ``episode.json`` of ``episode`` when it is committed in ``store`` (None if not, or unreadable)."""
    path = store.scene_dir(episode) / EPISODE_INFO
    if not store.is_scene_done(episode) or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def skip_unchanged(store, reader, ep: EpisodeRecords, summary) -> tuple[bool, dict | None]:
    """(True, info) when the episode is committed already with the same content (counted as unchanged), else
    (False, the committed episode's info or None). An episode of the same name from another log is an error."""
    if ep.unfinished:
        summary.episodes_unfinished += 1
    old = committed_info(store, ep.episode)
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


def commit_episode(store, reader, ep: EpisodeRecords, summary, link: bool, on_problem, strict: bool) -> None:
    """Import one episode unless it is committed unchanged, and count it in ``summary``."""
    skip, old = skip_unchanged(store, reader, ep, summary)
    if not skip:
        records = build_episode(store, reader, ep, link, on_problem, strict)
        count_committed(summary, len(records), sum(len(r.instances) for r in records), old is not None)


def build_episode(store, reader, ep: EpisodeRecords, link: bool, on_problem, strict: bool, index: bool = True):
    """Materialise the episode in a temp folder and commit it in one rename; its records. ``reader`` is anything
    with the log's ``root`` and ``path``. ``index=False`` leaves the index append to the caller (a Ray driver)."""
    tmp = store.new_tmp_dir(ep.episode)
    try:
        records = materialise(store, reader, ep, tmp, link, on_problem, strict)
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


def materialise(store, reader, ep: EpisodeRecords, tmp: Path, link: bool, on_problem, strict: bool) -> list[Record]:
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
