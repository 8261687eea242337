"""Readers of one field of a ``legodata-log`` line: each returns the value checked and converted, or raises
:class:`~legodata.runlog.events.EventError` naming the field (``field observation.t: 'x' is not a finite number``).

Used by :mod:`legodata.runlog.parse`; ``quat`` and ``safe_log_path`` also stand on their own.
"""

from __future__ import annotations

import math
import re
from pathlib import PurePosixPath
from typing import Any

from legodata.runlog.events import ID_RE, QUAT_NORM_TOL, EventError, Pose, Quat


def get(d: dict, key: str, where: str, required: bool = True) -> Any:
    if key in d and d[key] is not None:
        return d[key]
    if required:
        raise EventError(f"{where}.{key}", "is missing")
    return None


def number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EventError(field, f"{show(value)} is not a finite number")
    return float(value)


def integer(value: Any, field: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(field, f"{show(value)} is not an integer")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise EventError(field, f"{value} is not in {lo}..{hi}")
    return value


def string(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise EventError(field, f"{show(value)} is not a non-empty string")
    return value


def ident(value: Any, field: str) -> str:
    s = string(value, field)
    if not ID_RE.match(s):
        raise EventError(field, f"{s!r} is not a name of 1-64 letters, digits, '.', '_' or '-' (not starting with one)")
    return s


def enum(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise EventError(field, f"{show(value)} is not one of {', '.join(allowed)}")
    return value


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise EventError(field, f"{show(value)} is not true or false")
    return value


def vector(value: Any, field: str, n: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise EventError(field, f"{show(value)} is not a list of {n} numbers")
    return tuple(number(v, field) for v in value)


def quat(value: Any, field: str) -> Quat:
    """A unit quaternion wxyz (norm within QUAT_NORM_TOL of 1), normalised, sign fixed so that w >= 0."""
    q = vector(value, field, 4)
    norm = math.sqrt(sum(x * x for x in q))
    if abs(norm - 1.0) > QUAT_NORM_TOL:
        raise EventError(field, f"{show(value)} is not a unit quaternion wxyz (norm {norm:.6g})")
    q = tuple(x / norm for x in q)
    for x in q:  # first non-zero component positive (w first): q and -q are the same rotation
        if x != 0.0:
            if x < 0:
                q = tuple(-y for y in q)
            break
    return q  # type: ignore[return-value]


def pose_of(value: Any, field: str, need_t: bool) -> Pose:
    if not isinstance(value, dict):
        raise EventError(field, f"{show(value)} is not an object with quat_wxyz and t_m")
    q = quat(get(value, "quat_wxyz", field), f"{field}.quat_wxyz")
    t_raw = get(value, "t_m", field, required=need_t)
    t = vector(t_raw, f"{field}.t_m", 3) if t_raw is not None else None
    return Pose(q, t)  # type: ignore[arg-type]


def safe_log_path(value: Any, field: str) -> str:
    """A path relative to the log's root that stays inside it (no absolute path, drive, or '..')."""
    s = string(value, field)
    p = PurePosixPath(s.replace("\\", "/"))
    if p.is_absolute() or (p.parts and re.match(r"^[A-Za-z]:", p.parts[0])) or ".." in p.parts or not p.parts:
        raise EventError(field, f"path {s!r} escapes the log's root (paths are relative to the log, without '..')")
    return str(p)


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def no_unknown(d: dict, where: str, known: frozenset[str]) -> None:
    extra = set(d) - known
    for key in sorted(extra):
        if not key.startswith("x_"):  # x_* keys are free for the robot stack's own data
            raise EventError(f"{where}.{key}", "is not a field of this event (own data goes into keys starting x_)")


def time_of(d: dict, w: str, required: bool) -> float | None:
    t = get(d, "t", w, required)
    return None if t is None else number(t, f"{w}.t")


def opt_string(d: dict, key: str, w: str) -> str | None:
    v = d.get(key)
    return None if v is None else string(v, f"{w}.{key}")


def opt_path(d: dict, key: str, w: str) -> str | None:
    v = d.get(key)
    return None if v is None else safe_log_path(v, f"{w}.{key}")
