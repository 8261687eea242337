"""Record sources, registered by name: each turns one kind of raw input into :class:`~legodata.core.records.Record`.

A source is one module under ``legodata.sources`` with a ``load_<source>(...) -> Iterator[Record]`` function,
registered here by its dotted path, so listing the sources imports none of them (a source may need the Label
Studio SDK or PyAV). Sources never write: a command hands their records to :class:`legodata.store.store.Store`,
the only writer. ``Record.source`` is always one of :func:`source_names`.

Adding a source: write ``legodata/sources/<name>.py`` with ``load_<name>`` and add one line to ``_BUILTIN``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from legodata.core.records import Record
from legodata.errors import LegodataError


@dataclass(frozen=True)
class SourceEntry:
    """A registered source: its name (``Record.source``), loader ``"module:function"`` and one-line summary."""

    name: str
    loader: str
    summary: str


_BUILTIN = (
    SourceEntry("render", "legodata.sources.render:load_render", "BlenderProc renders of loose parts (`render`)"),
    SourceEntry("robot_log", "legodata.sources.robot_log:load_robot_log", "iterative robot run logs (`import-log`)"),
    SourceEntry("label_studio", "legodata.sources.label_studio:load_label_studio", "photos labelled in Label Studio"),
    SourceEntry("assembly", "legodata.sources.assembly:load_assembly", "assembly steps, manual pages (`render-steps`)"),
)
_REGISTRY: dict[str, SourceEntry] = {e.name: e for e in _BUILTIN}


def register_source(name: str, loader: str, summary: str) -> None:
    """Register ``loader`` (``"package.module:function"``) as the source ``name``; a name is registered once."""
    if name in _REGISTRY:
        raise ValueError(f"source {name!r} is already registered (by {_REGISTRY[name].loader})")
    if ":" not in loader:
        raise ValueError(f"loader {loader!r} must be 'package.module:function'")
    _REGISTRY[name] = SourceEntry(name, loader, summary)


def source_names() -> tuple[str, ...]:
    """Every registered source name, in registration order."""
    return tuple(_REGISTRY)


def get_loader(name: str) -> Callable[..., Iterator[Record]]:
    """The ``load_<name>`` function of source ``name`` (imported on first use)."""
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise LegodataError(f"unknown record source {name!r}; known: {', '.join(source_names())}") from None
    module, function = entry.loader.split(":")
    return getattr(importlib.import_module(module), function)


def load_source(name: str, *args: Any, **kwargs: Any) -> Iterator[Record]:
    """The records of source ``name`` read from ``args``/``kwargs`` (what its ``load_<name>`` takes)."""
    return get_loader(name)(*args, **kwargs)
