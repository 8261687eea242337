"""``legodata publish``: local stores -> Hugging Face dataset folder (parquet + card) -> optional Hub push.

Modules, one job each: ``sources`` (open stores, merge catalogues), ``validate`` (check records), ``splits``
(group splits), ``features`` (the ``datasets.Features``), ``rows`` and ``crops`` (records -> rows), ``writer``
(parquet shards, atomic folder), ``stats``/``preview``/``card`` (README.md), ``push`` (Hub upload), ``api``.
``datasets``, ``pyarrow`` and ``huggingface_hub`` are imported only when publishing.
"""

from legodata.publish.api import PublishSummary, publish
from legodata.publish.splits import parse_split_ratios, split_of

__all__ = ["PublishSummary", "parse_split_ratios", "publish", "split_of"]
