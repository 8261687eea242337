"""Settings of a publish: one frozen dataclass, read by :func:`legodata.publish.publish` and ``legodata publish``.

Importing this module is cheap (no numpy, no ``datasets``): the CLI reads its defaults at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from legodata.errors import LegodataError
from legodata.publish.splits import DEFAULT_RATIOS, parse_split_ratios

# Fields that are ``legodata publish`` flags; the others are Python-only (``publish(..., crop_margin=0.2)``).
CLI_FIELDS = ("repo_id", "push", "split", "seed", "crop_size", "min_px", "shard_size", "shard_rows", "licence")


@dataclass(frozen=True)
class PublishConfig:
    repo_id: str | None = None  # Hub dataset USER/NAME: named in the card, needed by push
    push: bool = False  # upload the folder to repo_id and tag it
    split: str | tuple[float, float, float] = ",".join(f"{r:g}" for r in DEFAULT_RATIOS)  # train,validation,test
    seed: int = 0  # seed of the group split
    crop_size: int = 128  # side of the parts crops in pixels
    crop_margin: float = 0.1  # padding on each side of a crop, as a fraction of the visible box's longer side
    min_px: int = 50  # visible pixels an instance needs for a parts row
    shard_size: str | int = "500MB"  # target bytes per parquet shard (as `datasets` push_to_hub's max_shard_size)
    shard_rows: int | None = None  # at most this many rows per shard (default: shards are cut by size only)
    licence: str = "cc-by-4.0"  # Hub licence identifier, for the card
    pretty_name: str | None = None  # card title (default: the repo name or the folder name)
    tag: str | None = None  # Hub tag of a push (default v<fingerprint>)
    private: bool = False  # create the Hub repo private
    workers: int | None = None  # threads decoding and encoding images (default: a few per core)

    @property
    def ratios(self) -> tuple[float, float, float]:
        return parse_split_ratios(self.split)

    def validate(self) -> PublishConfig:
        """Return self, or raise :class:`LegodataError` naming the flag (or, for Python-only settings, the field)."""
        self.ratios  # noqa: B018 - parses --split, raising its own error
        checks = [
            ("crop_size", self.crop_size >= 8, "must be at least 8 pixels"),
            ("shard_rows", self.shard_rows is None or self.shard_rows >= 1, "must be at least 1"),
            ("min_px", self.min_px >= 1, "must be at least 1"),
            ("crop_margin", 0 <= self.crop_margin <= 2, "must be between 0 and 2"),
            ("workers", self.workers is None or self.workers >= 1, "must be at least 1"),
        ]
        for name, ok, hint in checks:
            if not ok:
                raise LegodataError(f"{as_given(name, getattr(self, name))}: {hint}")
        if self.push and not self.repo_id:
            raise LegodataError("--push needs --repo-id USER/NAME")
        self.shard_bytes  # noqa: B018 - parses --shard-size, raising its own error
        return self

    @property
    def shard_bytes(self) -> int:
        return parse_size(self.shard_size)

    def options(self) -> dict[str, Any]:
        """The settings that shape the data, as ``publish.json`` records them."""
        keys = ("seed", "crop_size", "crop_margin", "min_px", "shard_bytes", "shard_rows", "licence")
        return {"split": list(self.ratios), **{k: getattr(self, k) for k in keys}}


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 1 << 10, "mib": 1 << 20,
          "gib": 1 << 30, "tib": 1 << 40}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(value: str | int) -> int:
    """``"500MB"`` -> 500_000_000 (kB/MB/GB are powers of 10, KiB/MiB/GiB of 2, as in ``datasets``); an int is
    bytes. A :class:`LegodataError` naming ``--shard-size`` for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _SIZE.match(str(value))
        unit = match.group(2).lower() if match else None
        if unit not in _UNITS:
            raise LegodataError(f"--shard-size {value!r}: expected a size such as 500MB, 2GB or 64MiB")
        size = int(float(match.group(1)) * _UNITS[unit])
    if size < 1024:
        raise LegodataError(f"--shard-size {value!r}: must be at least 1kB")
    return size


def as_given(field: str, value: Any) -> str:
    """How the user set ``field``: ``--crop-size 2`` for a CLI flag, ``crop_margin=3.0`` for a Python-only one."""
    return f"--{field.replace('_', '-')} {value!r}" if field in CLI_FIELDS else f"{field}={value!r}"
