"""Reading the core's frozen dataclasses (scene specs, records) back from decoded JSON, field by field.

:func:`decode` converts each field by its annotation (``int``, ``str``, ``Mat3``, ``Vec3``, ``Box`` ...), so a
dataclass reads back what ``asdict`` wrote, with the numbers of every matrix and vector as Python floats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T")


def mat(m: Any) -> tuple[tuple[float, ...], ...]:
    """A matrix (rows of numbers) as a tuple of float tuples."""
    return tuple(tuple(float(x) for x in row) for row in m)


def floats(v: Any) -> tuple[float, ...]:
    return tuple(float(x) for x in v)


def ints(v: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in v)


def _same(value: Any) -> Any:
    return value


# annotation (as written in the dataclass) -> converter of the JSON value
_BY_ANNOTATION: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "str": str,
    "float": float,
    "bool": bool,
    "Mat3": mat,
    "Vec3": floats,
    "Box": ints,
    "tuple[float, float, float, float]": floats,
    "tuple[int, ...]": ints,
    "str | None": _same,
    "float | None": _same,
    "dict[str, Any]": dict,
}


def decode(cls: type[T], d: Mapping[str, Any], **convert: Callable[[Any], Any]) -> T:
    """``cls`` from the decoded JSON object ``d``, its fields read in order: ``convert[name]`` or the converter of the
    field's annotation applied to ``d[name]``. A field with a default may be absent; another raises
    ``KeyError(name)``."""
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in d and (f.default is not MISSING or f.default_factory is not MISSING):
            continue
        parse = convert.get(f.name) or _BY_ANNOTATION.get(str(f.type))
        if parse is None:
            raise TypeError(f"{cls.__name__}.{f.name}: no converter for the annotation {f.type!r}")
        values[f.name] = parse(d[f.name])
    return cls(**values)
