"""Contact sheets: images letterboxed into square tiles, the tiles laid out in a grid, outlined captions.

The one tiler behind ``legodata preview`` (:mod:`legodata.preview`), the published folder's ``preview.png``
(:mod:`legodata.publish.preview`), the assembly-step sheet and the manual pages' callouts (:mod:`legodata.assembly`).
Images are BGR uint8, as OpenCV reads and writes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from legodata.geometry.crops import resize


def palette_bgr(k: int, saturation: int = 220) -> tuple[int, int, int]:
    """A bright, stable BGR colour for instance id ``k`` (hue steps of 47 of OpenCV's 180)."""
    hue = (k * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, saturation, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


@dataclass(frozen=True)
class Placement:
    """Where :func:`letterbox` put an image: scaled by ``scale`` to ``width`` x ``height`` at ``(x0, y0)``."""

    scale: float
    x0: int
    y0: int
    width: int
    height: int

    def to_tile(self, uv) -> tuple[int, int]:
        """Tile pixel of image point ``uv`` (pixel centres at integer coordinates in both images)."""
        s = self.scale
        return int(round((uv[0] + 0.5) * s - 0.5 + self.x0)), int(round((uv[1] + 0.5) * s - 0.5 + self.y0))

    def region(self, tile: np.ndarray) -> np.ndarray:
        """The view of ``tile`` the image covers."""
        return tile[self.y0 : self.y0 + self.height, self.x0 : self.x0 + self.width]


def letterbox(
    image: np.ndarray,
    tile: int,
    *,
    shrink: int = cv2.INTER_AREA,
    enlarge: int = cv2.INTER_LINEAR,
    background: int = 0,
) -> tuple[np.ndarray, Placement]:
    """``image`` scaled to fit a ``tile`` x ``tile`` square, centred on ``background`` (black by default);
    ``shrink`` (area averaging) when it gets smaller, ``enlarge`` (bilinear) when it grows."""
    h, w = image.shape[:2]
    s = tile / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    place = Placement(s, (tile - nw) // 2, (tile - nh) // 2, nw, nh)
    out = np.full((tile, tile, *image.shape[2:]), background, image.dtype)
    place.region(out)[:] = resize(image, place.width, place.height, shrink=shrink, enlarge=enlarge)
    return out, place


def grid(tiles: Sequence[np.ndarray], columns: int, background: int = 0) -> np.ndarray:
    """Equal square tiles in rows of ``columns``, row by row; empty cells are ``background``."""
    size = tiles[0].shape[0]
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * size, columns * size, *tiles[0].shape[2:]), background, tiles[0].dtype)
    for n, tile in enumerate(tiles):
        r, c = divmod(n, columns)
        sheet[r * size : (r + 1) * size, c * size : (c + 1) * size] = tile
    return sheet


def caption(image: np.ndarray, text: str, org: tuple[int, int], colour, scale: float = 0.45) -> None:
    """Write ``text`` at ``org`` (bottom-left) in ``colour`` with a black outline, readable on any background."""
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
