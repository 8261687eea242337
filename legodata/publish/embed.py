"""Images as the rows embed them: ``{"bytes": ..., "path": None}``, the value a ``datasets.Image`` column takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.core.records import Record
from legodata.errors import LegodataError


def embedded_png(array: np.ndarray) -> dict[str, Any]:
    """An image column's value for an array, encoded as PNG (BGR arrays are stored as RGB, as OpenCV writes them)."""
    ok, buf = cv2.imencode(".png", array)
    if not ok:  # pragma: no cover - cv2 encodes any uint8/uint16 array
        raise RuntimeError("PNG encoding failed")
    return {"bytes": buf.tobytes(), "path": None}


def embedded_file(root: Path, rel: str | None, what: str, rec: Record) -> dict[str, Any] | None:
    """An image column's value for the store file ``rel`` as it is, byte for byte (``None`` when ``rel`` is)."""
    if rel is None:
        return None
    try:
        return {"bytes": (Path(root) / rel).read_bytes(), "path": None}
    except OSError:
        raise LegodataError(f"record {rec.record_id}: {what} {rel} cannot be read") from None
