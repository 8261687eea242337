"""Parquet shards streamed row group by row group, in a folder that replaces the old one only when complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from legodata.core.atomic import StagedDir
from legodata.errors import LegodataError, require
from legodata.publish.config import PublishConfig, parse_size

MARKER = "publish.json"  # written into every published folder; an existing --out must have it to be replaced
ROW_GROUP_ROWS = 100  # what `datasets` uses for image data: small row groups keep the Hub viewer fast
ROW_GROUP_BYTES = 64 << 20
DEFAULT_SHARD_BYTES = parse_size(PublishConfig.shard_size)


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


class ShardWriter:
    """Writes the rows of one (config, split) into parquet shards of about ``shard_bytes`` each (at most
    ``shard_rows`` rows each when given).

    How many rows fit a shard is derived from the bytes measured so far (file bytes written / rows written), so a
    shard closes at its target size whatever the rows hold; it overshoots by at most one row. The shard count is
    known only at the end: shards are renamed ``<split>-NNNNN-of-MMMMM.parquet`` on :meth:`close` (inside the
    staged folder, so the names the card's globs match appear together). Memory is bounded by one row group
    (``ROW_GROUP_ROWS`` rows or ``ROW_GROUP_BYTES`` of images)."""

    def __init__(
        self,
        root: Path,
        config: str,
        split: str,
        features,
        total_rows: int,
        shard_rows: int | None = None,
        shard_bytes: int = DEFAULT_SHARD_BYTES,
    ) -> None:
        self.pa = require("pyarrow", "publish")
        self.pq = require("pyarrow.parquet", "publish")
        self.dir = root / "data" / config
        self.config, self.split, self.features = config, split, features
        self.schema = features.arrow_schema
        self.total, self.shard_rows, self.shard_bytes = total_rows, shard_rows, shard_bytes
        self.files: list[Path] = []
        self.rows_written = 0
        self.bytes_written = 0  # closed shards, measured on disk
        self._buffer: list[dict[str, Any]] = []
        self._buffer_bytes = 0
        self._writer = None
        self._sink = None
        self._rows_in_shard = 0
        self._footer = 0  # bytes the last shard's footer took (schema, statistics, page index): written at close

    @property
    def count(self) -> int:
        return len(self.files)

    def _open_shard(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.split}-{len(self.files):05d}.parquet.partial"
        self._sink = self.pa.OSFile(str(path), "wb")
        self._writer = self.pq.ParquetWriter(self._sink, self.schema, write_page_index=True)
        self.files.append(path)
        self._rows_in_shard = 0

    def _shard_bytes_now(self) -> int:
        return self._sink.tell() if self._sink is not None else 0

    def _row_bytes(self) -> float:
        """Bytes per row, measured on the row groups written so far (footers left out)."""
        footers = self._footer * (len(self.files) - (self._sink is not None))
        return max(1.0, (self.bytes_written - footers + self._shard_bytes_now()) / self.rows_written)

    def _room(self) -> int:
        """Rows the open (or next) shard still takes: its byte target over the measured row size, and the cap.
        Before anything is measured: one row, written at once to measure it."""
        if not self.rows_written:
            return 1
        room = int((self.shard_bytes - self._footer - self._shard_bytes_now()) // self._row_bytes())
        if not self._rows_in_shard:
            room = max(1, room)  # a row larger than the target gets a shard of its own
        if self.shard_rows is not None:
            room = min(room, self.shard_rows - self._rows_in_shard)
        return room

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
        if self._room() <= 0:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is not None:
            before = self._sink.tell()
            self._writer.close()
            self._writer = None
            self._footer = self._sink.tell() - before
        if self._sink is not None:
            self._sink.close()
            self._sink = None
            self.bytes_written += self.files[-1].stat().st_size
        self._rows_in_shard = 0

    def add(self, row: dict[str, Any]) -> None:
        """``row`` is arrow-ready (images as ``{"bytes", "path"}``, class labels as indices)."""
        self._buffer.append(row)
        self._buffer_bytes += _image_bytes(row)
        if len(self._buffer) >= min(ROW_GROUP_ROWS, self._room()) or self._buffer_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def close(self) -> list[Path]:
        """Finish the last shard and give every shard its final name; returns the paths in order."""
        self._flush()
        self._close_shard()
        if self.rows_written != self.total:
            raise LegodataError(
                f"{self.config}/{self.split}: wrote {self.rows_written} rows, expected {self.total} "
                "(did a store change during publishing?)"
            )
        final = [self.dir / shard_name(self.split, i, len(self.files)) for i in range(len(self.files))]
        for partial, path in zip(self.files, final):
            partial.rename(path)
        self.files = final
        return final

    def abort(self) -> None:
        self._close_shard()


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
