"""What :class:`~legodata.runlog.reader.LogReader` hands on: each episode's events in log order with the gaps and
lost observations among them (:class:`EpisodeLog`), and each line it could not use (:class:`Problem`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from legodata.runlog.events import EpisodeEnd, EpisodeStart


@dataclass(frozen=True)
class Problem:
    """A line (or a part of one) that was not imported. ``kept``: the event itself was kept without the part
    named (an observation whose mask file is missing imports without its mask)."""

    lineno: int
    raw: str
    reason: str
    episode: str | None = None
    kept: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {"line": self.lineno, "reason": self.reason, "episode": self.episode, "kept": self.kept, "raw": self.raw},
            ensure_ascii=False,
        )


@dataclass(frozen=True)
class Gap:
    """A lost line at ``lineno`` that may have moved ``track`` (None: any part of the episode)."""

    lineno: int
    track: str | None
    reason: str


@dataclass(frozen=True)
class LostObservation:
    """An observation at ``lineno`` that was not imported: it still counts as a step of its episode."""

    lineno: int
    id: str | None


@dataclass
class EpisodeLog:
    """One episode's events in log order (``items``: ``(lineno, event or Gap)``) and its content hash."""

    start: EpisodeStart
    start_line: int
    items: list[tuple[int, object]] = field(default_factory=list)
    end: EpisodeEnd | None = None
    end_line: int | None = None
    problems: int = 0
    _digest: object = None
    _obs: dict[str, int] = field(default_factory=dict)  # observation id -> line
    _last_obs: tuple[str | None, int] | None = None  # (id, line); id None = that observation was quarantined
    _track_parts: dict[str, tuple[str, int]] = field(default_factory=dict)  # track -> (part id, line)

    @property
    def episode(self) -> str:
        return self.start.episode

    @property
    def unfinished(self) -> bool:
        return self.end is None

    @property
    def content_sha256(self) -> str:
        """sha256 over the header line, every line of this episode (bad ones too) and the files it names."""
        return self._digest.hexdigest()  # type: ignore[attr-defined]

    @property
    def last_line(self) -> int:
        return self.end_line or (self.items[-1][0] if self.items else self.start_line)
