"""Configs beyond ``scenes`` and ``parts`` that only some sources fill: ``steps`` and its VLM view ``sft``
(``assembly`` records) and ``runs`` (``robot_log`` records). A config with no row is left out of the dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from legodata.core.records import Record

EXTRA_CONFIGS = ("steps", "sft", "runs")


def extra_rows(rec: Record, store_root: Path, symmetry: dict[str, list], images: bool) -> dict[str, list[dict]]:
    """``{config: rows}`` of one record for every extra config it fills; ``images=False`` gives rows without the
    image columns, enough to count them."""
    out: dict[str, list[dict]] = {}
    if rec.source == "assembly":
        from legodata.publish.steps import sft_row, steps_rows

        steps = steps_rows(rec, store_root, symmetry, images=images)
        out["steps"] = steps
        out["sft"] = [sft_row(r) for r in steps] if images else [{} for _ in steps]
    elif rec.source == "robot_log":
        from legodata.publish.runs import runs_rows

        out["runs"] = runs_rows(rec, store_root, images=images)
    return out


def extra_features(config: str) -> Any:
    """The ``datasets.Features`` of an extra config."""
    from legodata.publish import runs, steps

    table: dict[str, Callable[[], Any]] = {
        "steps": steps.steps_features,
        "sft": steps.sft_features,
        "runs": runs.runs_features,
    }
    return table[config]()
