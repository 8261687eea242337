"""Run logs of iterative robot runs (``legodata-log`` version 1): events, reader, derived labels, simulator.

``events`` holds the event types, ``parse`` (with the field readers of ``fields``) parses one line, ``reader``
streams a log episode by episode with line-numbered problems (``episode``: what it yields), ``labels`` derives
rotations to target and poses (pure numpy, on the rotation chains of ``poses``), ``simulate`` writes rendered runs
in the format (its world in ``sim_world``, its output in ``sim_writer``, a numpy stand-in renderer in
``silhouette``). The format is documented in ``FORMAT.md`` and specified by ``schema.json`` (JSON Schema draft
2020-12), both shipped here.
"""

from __future__ import annotations

from importlib import resources


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of one line of a ``legodata-log`` version 1."""
    import json

    return json.loads(resources.files(__name__).joinpath("schema.json").read_text(encoding="utf-8"))


def example_lines() -> list[str]:
    """The documented example log (``example/log.jsonl``), one JSON line per item."""
    text = resources.files(__name__).joinpath("example", "log.jsonl").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]
