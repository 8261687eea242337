"""Parquet shards streamed row group by row group, in a folder that replaces the old one only when complete."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from legodata.core.atomic import StagedDir
from legodata.errors import LegodataError, require

MARKER = "publish.json"  # written into every published folder; an existing --out must have it to be replaced
ROW_GROUP_ROWS = 100  # what `datasets` uses for image data: small row groups keep the Hub viewer fast
ROW_GROUP_BYTES = 64 << 20


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


class ShardWriter:
    """Writes the rows of one (config, split) into ``count = ceil(total / shard_rows)`` parquet shards.

    Memory is bounded by one row group (``ROW_GROUP_ROWS`` rows or ``ROW_GROUP_BYTES`` of images)."""

    def __init__(self, root: Path, config: str, split: str, features, total_rows: int, shard_rows: int) -> None:
        self.pa = require("pyarrow", "publish")
        self.pq = require("pyarrow.parquet", "publish")
        self.dir = root / "data" / config
        self.config, self.split, self.features = config, split, features
        self.schema = features.arrow_schema
        self.total, self.shard_rows = total_rows, shard_rows
        self.count = max(1, math.ceil(total_rows / shard_rows))
        self.files: list[Path] = []
        self.rows_written = 0
        self._buffer: list[dict[str, Any]] = []
        self._buffer_bytes = 0
        self._writer = None
        self._rows_in_shard = 0

    def _open_shard(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / shard_name(self.split, len(self.files), self.count)
        self._writer = self.pq.ParquetWriter(path, self.schema, write_page_index=True)
        self.files.append(path)
        self._rows_in_shard = 0

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self._writer is None:
            self._open_shard()
        table = self.pa.Table.from_pylist(self._buffer, schema=self.schema)
        self._writer.write_table(table, row_group_size=len(self._buffer))
        self._rows_in_shard += len(self._buffer)
        self.rows_written += len(self._buffer)
        self._buffer, self._buffer_bytes = [], 0
        if self._rows_in_shard >= self.shard_rows:
            self._writer.close()
            self._writer = None

    def add(self, row: dict[str, Any]) -> None:
        """``row`` is arrow-ready (images as ``{"bytes", "path"}``, class labels as indices)."""
        self._buffer.append(row)
        self._buffer_bytes += _image_bytes(row)
        room = self.shard_rows - self._rows_in_shard
        if len(self._buffer) >= min(ROW_GROUP_ROWS, room) or self._buffer_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def close(self) -> list[Path]:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.rows_written != self.total or len(self.files) != self.count:
            raise LegodataError(
                f"{self.config}/{self.split}: wrote {self.rows_written} rows in {len(self.files)} shards, "
                f"expected {self.total} in {self.count} (did a store change during publishing?)"
            )
        return self.files

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class OutputFolder(StagedDir):
    """Builds the dataset in a temporary sibling of ``out`` and swaps it in on success.

    On any failure the temporary folder is removed and ``out`` (if it existed) is left as it was. An existing
    ``out`` is replaced only if it is empty or an earlier publish (it has ``publish.json``, which the publisher
    writes into the folder last)."""

    def __init__(self, out: str | Path) -> None:
        super().__init__(
            Path(out).absolute(),
            marker=MARKER,
            foreign=f"a published dataset (no {MARKER}): choose a new --out directory",
            error=LegodataError,
            label="publishing",
        )


def _image_bytes(value: Any) -> int:
    """Bytes of the embedded images (``{"bytes": ...}``) anywhere in a row, lists included."""
    if isinstance(value, dict):
        data = value.get("bytes")
        if isinstance(data, bytes):
            return len(data)
        return sum(_image_bytes(v) for v in value.values())
    if isinstance(value, list):
        return sum(_image_bytes(v) for v in value)
    return 0
