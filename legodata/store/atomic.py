"""Atomic file writes: write a temporary sibling, then rename over the target."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see either the old or the new file, never a partial one."""
    path = Path(path)
    tmp = _tmp_sibling(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def create_exclusive_text(path: str | Path, text: str) -> bool:
    """Create ``path`` with ``text`` atomically unless it exists. True if this call created it."""
    path = Path(path)
    tmp = _tmp_sibling(path)
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)  # fails if path exists: no race between shards creating the same store
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
