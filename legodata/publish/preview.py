"""``preview.png``: a contact sheet of a few images with their instance masks overlaid."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from legodata.contact_sheet import grid, letterbox, palette_bgr

TILE = 256
COLUMNS = 4


def overlay_tile(image_bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` with each instance tinted and outlined, letterboxed into a TILE x TILE square."""
    out = image_bgr.astype(np.float32)
    for k in np.unique(mask):
        if k == 0:
            continue
        sel = mask == k
        colour = np.float32(palette_bgr(int(k), saturation=200))
        out[sel] = 0.5 * out[sel] + 0.5 * colour
        contours, _ = cv2.findContours(sel.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, tuple(float(c) for c in colour), 1)
    return letterbox(np.clip(out, 0, 255).astype(np.uint8), TILE, enlarge=cv2.INTER_AREA)[0]


class PreviewSheet:
    """Keeps at most ``limit`` tiles (one per group, first seen) and writes them as one PNG."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self.tiles: list[np.ndarray] = []
        self._groups: set[str] = set()

    def offer(self, group_id: str, image_bgr: np.ndarray, mask: np.ndarray) -> None:
        if len(self.tiles) < self.limit and group_id not in self._groups:
            self._groups.add(group_id)
            self.tiles.append(overlay_tile(image_bgr, mask))

    def write(self, path: Path) -> bool:
        if not self.tiles:
            return False
        sheet = grid(self.tiles, columns=min(COLUMNS, len(self.tiles)))
        ok, buf = cv2.imencode(".png", sheet)
        path.write_bytes(buf.tobytes())
        return bool(ok)
