"""Square part crops: box around the visible bbox, zero padding outside the image, resize, crop intrinsics.

:func:`resize` is the one image resize of legodata (training inputs, crops, previews, predicted masks)."""

from __future__ import annotations

import math

import cv2
import numpy as np


def crop_box(bbox_visib: tuple[int, int, int, int], margin: float) -> tuple[int, int, int]:
    """``(x, y, size)`` in original pixels: a square centred on the bbox, its longer side padded by ``margin``
    (a fraction, on each side). It may extend past the image border."""
    x, y, w, h = bbox_visib
    size = max(1, math.ceil(max(w, h) * (1.0 + 2.0 * margin)))
    x0 = math.floor(x + w / 2.0 - size / 2.0)
    y0 = math.floor(y + h / 2.0 - size / 2.0)
    return x0, y0, size


def mask_box(mask: np.ndarray, margin: float) -> tuple[int, int, int] | None:
    """:func:`crop_box` around the visible box of a boolean ``mask``; None when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    bbox = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    return crop_box(bbox, margin)


def extract(array: np.ndarray, x0: int, y0: int, size: int) -> np.ndarray:
    """The ``size`` x ``size`` window at ``(x0, y0)``; zeros where it leaves the array."""
    out = np.zeros((size, size, *array.shape[2:]), dtype=array.dtype)
    h, w = array.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + size, w), min(y0 + size, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = array[sy0:sy1, sx0:sx1]
    return out


def nearest_indices(size: int, out_size: int) -> np.ndarray:
    """Source index of every output pixel for nearest-neighbour resizing (pixel centres mapped onto each other):
    ``floor((i + 0.5) * size / out_size)``, in integers so no rounding moves a pixel."""
    return (2 * np.arange(out_size, dtype=np.int64) + 1) * size // (2 * out_size)


def resize(
    image: np.ndarray,
    width: int,
    height: int | None = None,
    *,
    nearest: bool = False,
    shrink: int = cv2.INTER_AREA,
    enlarge: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """``image`` resized to ``width`` x ``height`` (default square); the image itself when it has that size.

    ``nearest``: exact labels (each output pixel takes the input pixel under its centre, :func:`nearest_indices`).
    Otherwise OpenCV with ``shrink`` (area averaging) when any side gets smaller, else ``enlarge`` (bilinear)."""
    height = width if height is None else height
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    if nearest:
        return image[np.ix_(nearest_indices(h, height), nearest_indices(w, width))]
    interp = shrink if height < h or width < w else enlarge
    return cv2.resize(image, (width, height), interpolation=interp)


def crop_image(image: np.ndarray, box: tuple[int, int, int], out_size: int) -> np.ndarray:
    """Colour crop resized to ``out_size`` (area averaging when shrinking, bilinear when enlarging)."""
    x0, y0, size = box
    return resize(extract(image, x0, y0, size), out_size)


def crop_mask(mask: np.ndarray, instance_id: int, box: tuple[int, int, int], out_size: int) -> np.ndarray:
    """Binary uint8 mask (0 or 255) of ``instance_id`` in the crop, nearest-neighbour resized (exact labels)."""
    x0, y0, size = box
    window = extract(mask, x0, y0, size) == instance_id
    return resize(window, out_size, nearest=True).astype(np.uint8) * 255


def crop_intrinsics(K, box: tuple[int, int, int], out_size: int) -> list[list[float]]:
    """Intrinsics of the resized crop (pixel centres at integer coordinates, as for ``K``)."""
    x0, y0, size = box
    s = out_size / size
    K = np.asarray(K, dtype=np.float64)
    Kc = K.copy()
    Kc[0, 0], Kc[0, 1], Kc[1, 1] = K[0, 0] * s, K[0, 1] * s, K[1, 1] * s
    Kc[0, 2] = (K[0, 2] - x0 + 0.5) * s - 0.5
    Kc[1, 2] = (K[1, 2] - y0 + 0.5) * s - 0.5
    return Kc.tolist()
