"""Independent checks of solid meshes for tests: inside/outside by the generalized winding number (solid angles,
Van Oosterom and Strackee), and the volume two placed meshes share, sampled on a grid. Shares no code with legodata."""

from __future__ import annotations

import numpy as np


def winding_numbers(points: np.ndarray, triangles: np.ndarray, chunk: int = 128) -> np.ndarray:
    """Winding number of each point (N, 3) with respect to a closed, outward-oriented triangle mesh (M, 3, 3):
    1 inside, 0 outside."""
    out = np.empty(len(points))
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk, None, None, :]
        d = triangles[None, :, :, :] - p  # (n, M, 3, 3)
        a, b, c = d[:, :, 0], d[:, :, 1], d[:, :, 2]
        la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
        num = np.einsum("nmk,nmk->nm", a, np.cross(b, c))
        den = (
            la * lb * lc
            + np.einsum("nmk,nmk->nm", a, b) * lc
            + np.einsum("nmk,nmk->nm", a, c) * lb
            + np.einsum("nmk,nmk->nm", b, c) * la
        )
        out[s : s + chunk] = 2.0 * np.arctan2(num, den).sum(axis=1) / (4.0 * np.pi)
    return out


def shared_volume_points(tris_a: np.ndarray, tris_b: np.ndarray, spacing: float) -> int:
    """How many points of a grid (``spacing`` apart, offset by an irrational fraction so that no point lies on the
    parts' flat faces) lie inside both closed meshes. 0 for parts that only touch."""
    lo = np.maximum(tris_a.reshape(-1, 3).min(axis=0), tris_b.reshape(-1, 3).min(axis=0))
    hi = np.minimum(tris_a.reshape(-1, 3).max(axis=0), tris_b.reshape(-1, 3).max(axis=0))
    if (hi <= lo).any():
        return 0
    axes = [np.arange(lo[k] + spacing * 0.3137, hi[k], spacing) for k in range(3)]
    if any(len(x) == 0 for x in axes):
        return 0
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    inside_a = winding_numbers(pts, tris_a) > 0.5
    pts = pts[inside_a]
    if not len(pts):
        return 0
    return int((winding_numbers(pts, tris_b) > 0.5).sum())
