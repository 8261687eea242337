"""``preview.png``: a contact sheet of a few images with their instance masks overlaid."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

TILE = 256
COLUMNS = 4


def _palette(k: int) -> np.ndarray:
    """A bright, stable BGR colour for instance id ``k``."""
    hue = (k * 47) % 180
    hsv = np.uint8([[[hue, 200, 255]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def overlay_tile(image_bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` with each instance tinted and outlined, letterboxed into a TILE x TILE square."""
    out = image_bgr.astype(np.float32)
    for k in np.unique(mask):
        if k == 0:
            continue
        sel = mask == k
        out[sel] = 0.5 * out[sel] + 0.5 * _palette(int(k))
        contours, _ = cv2.findContours(sel.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, tuple(float(c) for c in _palette(int(k))), 1)
    out = np.clip(out, 0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    s = TILE / max(h, w)
    small = cv2.resize(out, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    tile = np.zeros((TILE, TILE, 3), np.uint8)
    y0, x0 = (TILE - small.shape[0]) // 2, (TILE - small.shape[1]) // 2
    tile[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return tile


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
        cols = min(COLUMNS, len(self.tiles))
        rows = -(-len(self.tiles) // cols)
        sheet = np.zeros((rows * TILE, cols * TILE, 3), np.uint8)
        for n, tile in enumerate(self.tiles):
            r, c = divmod(n, cols)
            sheet[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE] = tile
        ok, buf = cv2.imencode(".png", sheet)
        path.write_bytes(buf.tobytes())
        return bool(ok)
