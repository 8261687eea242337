"""Exact visible-surface maps of a triangle scene by a z-buffer at pixel centres. Pure numpy.

Each pixel ``(u, v)`` is sampled at its centre, with the pixels each triangle covers taken from
:func:`legodata.scene.ground_truth.triangle_spans` (the rasteriser the silhouettes use: a centre on an edge counts as
inside), and gets the label and camera-z depth of the nearest triangle there: the instance mask and depth a ray cast
through every pixel centre gives, as the BOP toolkit renders its own masks and depth. Depth is the exact
intersection of the pixel's ray with the triangle's plane (``1/z`` is affine in the image), not an interpolation of
rounded vertex depths. Triangles are clipped at the near plane first, so geometry behind the camera (a large
backdrop) costs nothing and projects nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.scene.ground_truth import triangle_spans

NEAR_M = 0.005  # the renderer's clip start: closer surfaces are not seen
MAX_FRAGMENTS = 1 << 21  # pixels handled at once (bounds memory for large or deep scenes)


@dataclass(frozen=True)
class SurfaceMaps:
    """What the nearest surface at each pixel centre is: ``labels`` (int64, 0 where nothing or an unlabelled
    occluder) and ``depth`` (camera z in metres, float64, ``inf`` where nothing)."""

    labels: np.ndarray
    depth: np.ndarray


def clip_near(tris: np.ndarray, labels: np.ndarray, near: float = NEAR_M) -> tuple[np.ndarray, np.ndarray]:
    """The parts of camera-frame triangles ``(T, 3, 3)`` at ``z >= near``: a triangle with one corner in front
    stays one (shrunk), with two in front becomes two; ``labels`` follow their triangles."""
    tris = np.asarray(tris, dtype=np.float64).reshape(-1, 3, 3)
    labels = np.asarray(labels).reshape(-1)
    front = tris[:, :, 2] >= near
    count = front.sum(axis=1)
    out, out_labels = [tris[count == 3]], [labels[count == 3]]
    for n_front in (1, 2):
        sel = np.flatnonzero(count == n_front)
        if not len(sel):
            continue
        t, f = tris[sel], front[sel]
        # rotate each triangle so its odd corner (the one on its own side) comes first; orientation is kept
        odd = np.argmax(f if n_front == 1 else ~f, axis=1)
        order = (odd[:, None] + np.arange(3)) % 3
        t = np.take_along_axis(t, order[:, :, None], axis=1)
        a = _at_near(t[:, 0], t[:, 1], near)
        b = _at_near(t[:, 0], t[:, 2], near)
        if n_front == 1:
            out.append(np.stack([t[:, 0], a, b], axis=1))
            out_labels.append(labels[sel])
        else:
            out.append(np.concatenate([np.stack([a, t[:, 1], t[:, 2]], axis=1), np.stack([a, t[:, 2], b], axis=1)]))
            out_labels.append(np.concatenate([labels[sel], labels[sel]]))
    return np.concatenate(out), np.concatenate(out_labels)


def _at_near(p: np.ndarray, q: np.ndarray, near: float) -> np.ndarray:
    """Where segments ``p -> q`` (one end on each side) cross the plane ``z = near``."""
    s = (near - p[:, 2]) / (q[:, 2] - p[:, 2])
    point = p + s[:, None] * (q - p)
    point[:, 2] = near
    return point


def surface_maps(
    tris_cam: np.ndarray,
    labels: np.ndarray,
    K: np.ndarray,
    width: int,
    height: int,
    near: float = NEAR_M,
    max_fragments: int = MAX_FRAGMENTS,
) -> SurfaceMaps:
    """The nearest surface's label and depth at every pixel centre of triangles ``tris_cam`` ``(T, 3, 3)`` in the
    camera frame (OpenCV: z forward), ``labels`` ``(T,)`` one per triangle, seen through intrinsics ``K``.

    Where two surfaces are at exactly the same depth the earlier triangle wins."""
    tris, labels = clip_near(tris_cam, labels, near)
    K = np.asarray(K, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (tris @ K.T)[:, :, :2] / tris[:, :, 2:3]
    # 1/z at a pixel is (n . K^-1 [u, v, 1]) / (n . a) for the triangle's plane n . X = n . a
    normal = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    offset = np.einsum("tk,tk->t", normal, tris[:, 0])
    coef = normal @ np.linalg.inv(K)
    zbuf = np.full(width * height, np.inf)
    ids = np.zeros(width * height, np.int64)
    for tri, y, left, right in triangle_spans(uv, width, height, max_tests=max(1, max_fragments // 8)):
        for part in _fragment_batches(right - left + 1, max_fragments):
            n = right[part] - left[part] + 1
            t = np.repeat(tri[part], n)
            row = np.repeat(y[part], n)
            col = np.repeat(left[part] - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
            z = offset[t] / (coef[t, 0] * col + coef[t, 1] * row + coef[t, 2])
            _depth_test(zbuf, ids, row * width + col, z, labels[t])
    return SurfaceMaps(ids.reshape(height, width), zbuf.reshape(height, width))


def _fragment_batches(lengths: np.ndarray, max_fragments: int):
    """Slices of consecutive spans holding at most ``max_fragments`` pixels (a longer span alone)."""
    ends = np.cumsum(lengths)
    first = 0
    while first < len(lengths):
        base = ends[first - 1] if first else 0
        last = max(first + 1, int(np.searchsorted(ends, base + max_fragments, side="right")))
        yield slice(first, last)
        first = last


def _depth_test(zbuf: np.ndarray, ids: np.ndarray, pix: np.ndarray, z: np.ndarray, label: np.ndarray) -> None:
    """Keep, per pixel, the nearest of the buffer and the fragments ``(pix, z, label)``: a fragment replaces the
    buffer only when strictly nearer, and among equal fragments the first wins (written last)."""
    before = zbuf[pix]
    np.minimum.at(zbuf, pix, z)
    win = np.flatnonzero((z == zbuf[pix]) & (z < before))[::-1]
    ids[pix[win]] = label[win]


def depth_units(depth_m: np.ndarray, scale_m: float) -> np.ndarray:
    """uint16 depth in units of ``scale_m``; 0 where there is no surface or it is beyond the uint16 range."""
    with np.errstate(invalid="ignore", over="ignore"):
        units = np.rint(depth_m / scale_m)
    valid = np.isfinite(depth_m) & (depth_m > 0) & (units <= 65535)
    return np.where(valid, units, 0).astype(np.uint16)
