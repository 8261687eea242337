"""Atomic file writes for the store: :mod:`legodata.core.atomic` is the one implementation (re-exported here)."""

from __future__ import annotations

from legodata.core.atomic import (
    StagedDir,
    atomic_open,
    atomic_write_bytes,
    atomic_write_text,
    check_replaceable,
    create_exclusive_text,
    replace_dir,
)

__all__ = [
    "StagedDir",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_replaceable",
    "create_exclusive_text",
    "replace_dir",
]
