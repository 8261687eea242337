"""Stream a ``legodata-log`` episode by episode, with every bad line reported by number and kept aside.

:class:`LogReader` reads ``log.jsonl`` one line at a time and yields each :class:`EpisodeLog` when its
``episode_end`` arrives (episodes still open at the end of the file come last, marked unfinished), so memory is
bounded by the open episodes, never by the log. A line that cannot be used becomes a :class:`Problem` (line
number, the raw line, a one-line reason naming the field) handed to ``on_problem``; with ``strict`` the first one
raises :class:`~legodata.errors.LegodataError` instead. Nothing else is lost: the other lines import as usual.
A lost line that may have moved a part (a bad ``rotate``, ``pick`` or ``place``, or a line too broken to tell)
leaves a :class:`Gap` in its episode, so no label is derived across it. These types are in
:mod:`legodata.runlog.episode`.

Context checks done here (one line alone cannot show them): the header comes first and once; events name an
open episode; cameras exist; observation files exist and stay inside the log's root (also through symlinks);
``vlm`` and ``judgement`` refer to an observation of their episode; part ids are in the header's catalogue and a
track keeps its part id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from legodata.errors import LegodataError
from legodata.runlog.episode import EpisodeLog, Gap, LostObservation, Problem
from legodata.runlog.events import (
    EVENT_TYPES,
    MOTION_EVENTS,
    EpisodeEnd,
    EpisodeStart,
    EventError,
    Header,
    Judgement,
    Observation,
    PickPlace,
    Rotate,
    Vlm,
)
from legodata.runlog.parse import parse_event

LOG_NAME = "log.jsonl"
RAW_KEEP = 4000  # characters of a bad line kept in the quarantine

_TYPE_RE = re.compile(rb'"type"\s*:\s*"([A-Za-z_]+)"')
_EPISODE_RE = re.compile(rb'"episode"\s*:\s*"([^"\\]{1,64})"')
_TRACK_RE = re.compile(rb'"track"\s*:\s*"([^"\\]{1,64})"')


class _FileHashes:
    """sha256 of files, remembered by (path, size, mtime) for the last few thousand files."""

    def __init__(self, size: int = 4096) -> None:
        self._cache: OrderedDict[tuple, str] = OrderedDict()
        self._size = size

    def __call__(self, path: Path) -> str:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        self._cache[key] = digest
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return digest


class LogReader:
    """Read ``log_path`` (a ``log.jsonl``; paths in it are relative to its directory)."""

    def __init__(
        self,
        log_path: str | Path,
        *,
        strict: bool = False,
        on_problem: Callable[[Problem], None] | None = None,
        part_ids: Callable[[Header], set[str] | None] | None = None,
    ) -> None:
        self.path = Path(log_path)
        if self.path.is_dir():
            self.path = self.path / LOG_NAME
        if not self.path.is_file():
            raise LegodataError(f"{self.path}: no such log file (a log directory holds {LOG_NAME})")
        self.root = self.path.parent.resolve()
        self.strict = strict
        self._on_problem = on_problem
        self._part_ids_of = part_ids
        self.header: Header | None = None
        self.header_line: int | None = None
        self._header_raw = b""
        self._known_parts: set[str] | None = None
        self._open: dict[str, EpisodeLog] = {}
        self._closed: dict[str, int] = {}  # episode -> line of its episode_end
        self._hash = _FileHashes()
        self.lines = 0
        self.events = 0
        self.problems = 0

    # --- problems -------------------------------------------------------------------------------------------
    def _problem(self, lineno: int, raw: bytes, reason: str, episode: str | None, kept: bool = False) -> None:
        self.problems += 1
        if self.strict:
            raise LegodataError(f"{self.path}:{lineno}: {reason}")
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        problem = Problem(lineno, text[:RAW_KEEP], reason, episode, kept)
        ep = self._open.get(episode) if episode else None
        if ep is not None:
            ep.problems += 1
        if self._on_problem is not None:
            self._on_problem(problem)

    def _lost(self, lineno: int, raw: bytes, reason: str, kind: str | None, episode: str | None, track) -> None:
        """A whole line is lost: report it and leave a gap where it may have moved a part."""
        self._problem(lineno, raw, reason, episode)
        may_move = kind is None or kind not in EVENT_TYPES or kind in MOTION_EVENTS
        targets = [self._open[episode]] if episode in self._open else ([] if episode else list(self._open.values()))
        for ep in targets:
            ep._digest.update(raw)  # type: ignore[attr-defined]
            if may_move:
                ep.items.append((lineno, Gap(lineno, track, reason)))
            if kind == "observation":  # it still counts as a step; "the latest observation" must not slip back
                ep.items.append((lineno, LostObservation(lineno, None)))
                ep._last_obs = (None, lineno)

    # --- reading --------------------------------------------------------------------------------------------
    def episodes(self) -> Iterator[EpisodeLog]:
        """Every episode, each as soon as it ends; unfinished ones at the end of the log."""
        with open(self.path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                self.lines = lineno
                done = self._line(lineno, raw)
                if done is not None:
                    yield done
        for ep in list(self._open.values()):
            del self._open[ep.episode]
            yield ep

    def _line(self, lineno: int, raw: bytes) -> EpisodeLog | None:
        body = raw.strip()
        if not body:
            return None
        try:
            decoded = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            kind, episode, track = _sniff(body)
            what = getattr(exc, "msg", None) or "not UTF-8"
            hint = " (truncated line?)" if not raw.endswith(b"\n") or "Unterminated" in what else ""
            col = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            self._lost(lineno, raw, f"not valid JSON: {what}{col}{hint}", kind, episode, track)
            return None
        if self.header is None and not (isinstance(decoded, dict) and decoded.get("type") == "header"):
            kind, _, _ = _attribution(decoded)
            self._lost(
                lineno, raw, f"{kind or 'an'} event before the header (line 1 must be the header)", kind, None, None
            )
            return None
        try:
            event = parse_event(decoded)
        except EventError as exc:
            kind, episode, track = _attribution(decoded)
            self._lost(lineno, raw, str(exc), kind, episode, track)
            return None
        if isinstance(event, Header):
            if self.header is not None:
                self._problem(lineno, raw, f"a second header (the header is line {self.header_line})", None)
                return None
            self.header, self.header_line, self._header_raw = event, lineno, raw
            self._known_parts = self._part_ids_of(event) if self._part_ids_of else None
            return None
        if self.header is None:
            kind, episode, track = _attribution(decoded)
            self._lost(
                lineno, raw, f"{event.type} event before the header (line 1 must be the header)", kind, None, None
            )
            return None
        self.events += 1
        if isinstance(event, EpisodeStart):
            return self._start(lineno, raw, event)
        ep = self._episode_of(lineno, raw, event)
        if ep is None:
            return None
        checked = self._check(lineno, raw, ep, event)
        if checked is None:
            return None
        ep._digest.update(raw)  # type: ignore[attr-defined]
        if isinstance(checked, EpisodeEnd):
            ep.end, ep.end_line = checked, lineno
            del self._open[ep.episode]
            self._closed[ep.episode] = lineno
            return ep
        ep.items.append((lineno, checked))
        return None

    def _start(self, lineno: int, raw: bytes, event: EpisodeStart) -> None:
        name = event.episode
        if name in self._open:
            self._problem(
                lineno, raw, f"episode {name!r} is already open (started at line {self._open[name].start_line})", name
            )
            return None
        if name in self._closed:
            self._problem(
                lineno, raw, f"episode {name!r} was already started and ended at line {self._closed[name]}", None
            )
            return None
        ep = EpisodeLog(start=event, start_line=lineno)
        ep._digest = hashlib.sha256(self._header_raw)
        ep._digest.update(raw)  # type: ignore[attr-defined]
        self._open[name] = ep
        return None

    def _episode_of(self, lineno: int, raw: bytes, event) -> EpisodeLog | None:
        ep = self._open.get(event.episode)
        if ep is not None:
            return ep
        if event.episode in self._closed:
            reason = f"episode {event.episode!r} already ended at line {self._closed[event.episode]}"
        else:
            reason = f"unknown episode {event.episode!r} (no episode_start before this line)"
        self._problem(lineno, raw, f"{event.type}: {reason}", None)
        return None

    def _bad(self, lineno: int, raw: bytes, ep: EpisodeLog, reason: str, event) -> None:
        """An event of an open episode fails a context check: lost, with a gap if it moved a part."""
        self._lost(lineno, raw, reason, event.type, ep.episode, getattr(event, "track", None))

    def _check(self, lineno: int, raw: bytes, ep: EpisodeLog, event):
        header = self.header
        assert header is not None
        if isinstance(event, Observation):
            return self._check_observation(lineno, raw, ep, event)
        if isinstance(event, Rotate):
            if event.frame == "camera" and event.camera not in header.cameras:
                return self._bad(lineno, raw, ep, f"field rotate.camera: {event.camera!r} {self._no_camera()}", event)
            return event
        if isinstance(event, (Vlm, Judgement)):
            ref = self._resolve_observation(lineno, raw, ep, event)
            if ref is None:
                return None
            event = replace(event, observation=ref)
        if isinstance(event, (Vlm, PickPlace)) and event.part_id is not None:
            if not self._part_ok(lineno, raw, ep, event):
                return None
        if isinstance(event, Vlm) and event.mask is not None:
            problem = self._file_problem(event.mask, "vlm.mask", ep)
            if problem:
                self._problem(lineno, raw, f"{problem} (the vlm event is kept without its mask)", ep.episode, True)
                event = replace(event, mask=None)
        return event

    def _no_camera(self) -> str:
        return f"is not a camera of the header ({', '.join(self.header.cameras)})"  # type: ignore[union-attr]

    def _check_observation(self, lineno: int, raw: bytes, ep: EpisodeLog, obs: Observation):
        def drop(reason: str) -> None:
            self._lost(lineno, raw, reason, "observation", ep.episode, None)

        if obs.camera not in self.header.cameras:  # type: ignore[union-attr]
            return drop(f"field observation.camera: {obs.camera!r} {self._no_camera()}")
        if obs.id in ep._obs:
            return drop(
                f"field observation.id: {obs.id!r} is already an observation of episode {ep.episode!r} "
                f"(line {ep._obs[obs.id]})"
            )
        main = ("image", obs.image) if obs.image is not None else ("video.path", obs.video.path)  # type: ignore[union-attr]
        problem = self._file_problem(main[1], f"observation.{main[0]}", ep)
        if problem:
            return drop(f"observation {obs.id}: {problem}")
        for name in ("mask", "depth"):
            rel = getattr(obs, name)
            if rel is None:
                continue
            problem = self._file_problem(rel, f"observation.{name}", ep)
            if problem:
                self._problem(
                    lineno, raw, f"observation {obs.id}: {problem} (kept without its {name})", ep.episode, True
                )
                obs = replace(obs, **{name: None}, **({"instances": ()} if name == "mask" else {}))
        ep._obs[obs.id] = lineno
        ep._last_obs = (obs.id, lineno)
        return obs

    def _resolve_observation(self, lineno: int, raw: bytes, ep: EpisodeLog, event) -> str | None:
        if event.observation is not None:
            if event.observation not in ep._obs:
                self._bad(
                    lineno,
                    raw,
                    ep,
                    f"field {event.type}.observation: {event.observation!r} is not an earlier "
                    f"observation of episode {ep.episode!r}",
                    event,
                )
                return None
            return event.observation
        if ep._last_obs is None:
            self._bad(
                lineno,
                raw,
                ep,
                f"{event.type} with no observation: episode {ep.episode!r} has no observation before this line",
                event,
            )
            return None
        if ep._last_obs[0] is None:
            self._bad(
                lineno,
                raw,
                ep,
                f"{event.type} refers to the episode's latest observation (line "
                f"{ep._last_obs[1]}), which was not imported",
                event,
            )
            return None
        return ep._last_obs[0]

    def _part_ok(self, lineno: int, raw: bytes, ep: EpisodeLog, event) -> bool:
        pid = event.part_id
        if self._known_parts is not None and pid not in self._known_parts:
            self._bad(lineno, raw, ep, f"field {event.type}.part_id: {pid!r} is not in the header's catalogue", event)
            return False
        seen = ep._track_parts.get(event.track)
        if seen is not None and seen[0] != pid:
            self._bad(
                lineno,
                raw,
                ep,
                f"field {event.type}.part_id: track {event.track!r} is part {seen[0]!r} (line {seen[1]}), not {pid!r}",
                event,
            )
            return False
        ep._track_parts.setdefault(event.track, (pid, lineno))
        return True

    def _file_problem(self, rel: str, field_name: str, ep: EpisodeLog) -> str | None:
        """None if ``rel`` is a file inside the log's root (its hash joins the episode's), else the reason."""
        full = (self.root / rel).resolve()
        if not full.is_relative_to(self.root):
            return f"field {field_name}: path {rel!r} escapes the log's root (through a link)"
        if not full.is_file():
            return f"field {field_name}: file {rel} does not exist"
        ep._digest.update(rel.encode() + b"\0" + self._hash(full).encode())  # type: ignore[attr-defined]
        return None


def _sniff(body: bytes) -> tuple[str | None, str | None, str | None]:
    """type, episode and track of a line that is not valid JSON, from its text, where they can be seen."""
    found = []
    for rx in (_TYPE_RE, _EPISODE_RE, _TRACK_RE):
        m = rx.search(body)
        found.append(m.group(1).decode("utf-8", errors="replace") if m else None)
    return found[0], found[1], found[2]


def _attribution(d) -> tuple[str | None, str | None, str | None]:
    if not isinstance(d, dict):
        return None, None, None
    out = []
    for key in ("type", "episode", "track"):
        v = d.get(key)
        out.append(v if isinstance(v, str) else None)
    return out[0], out[1], out[2]
