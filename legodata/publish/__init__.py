"""``legodata publish``: local stores -> Hugging Face dataset folder (parquet + card) -> optional Hub push.

Modules, one job each: ``config`` (the settings), ``stores`` (open stores, merge catalogues), ``validate`` (check
records), ``splits`` (group splits), ``features`` (the ``datasets.Features``), ``rows`` and ``crops`` (records ->
rows), ``writer`` (parquet shards, atomic folder), ``stats``/``preview``/``card`` (README.md), ``push`` (Hub
upload), ``api``. Importing this package is cheap: ``publish`` and the rest load on first use, and ``datasets``,
``pyarrow`` and ``huggingface_hub`` only when publishing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["PublishConfig", "PublishSummary", "parse_split_ratios", "publish", "split_of"]

_WHERE = {
    "PublishConfig": "legodata.publish.config",
    "PublishSummary": "legodata.publish.api",
    "publish": "legodata.publish.api",
    "parse_split_ratios": "legodata.publish.splits",
    "split_of": "legodata.publish.splits",
}

if TYPE_CHECKING:
    from legodata.publish.api import PublishSummary, publish
    from legodata.publish.config import PublishConfig
    from legodata.publish.splits import parse_split_ratios, split_of


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'legodata.publish' has no attribute {name!r}")
