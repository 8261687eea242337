"""An independent ground-truth oracle for tests: cast one ray through every pixel centre and intersect it
with the triangles of every part (Moller-Trumbore). Shares no code with legodata's renderer or rasteriser."""

from __future__ import annotations

import numpy as np


def _ray_directions(K: np.ndarray, width: int, height: int) -> np.ndarray:
    u, v = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)
    return pix @ np.linalg.inv(K).T  # camera frame, z = 1


def raycast_depth(tris_cam: np.ndarray, K: np.ndarray, width: int, height: int, chunk: int = 512) -> np.ndarray:
    """Camera-z depth of the nearest hit per pixel (inf where no hit). ``tris_cam``: (M, 3, 3) in camera frame."""
    d = _ray_directions(K, width, height)  # (P, 3), rays from the origin
    best = np.full(len(d), np.inf)
    v0, e1, e2 = tris_cam[:, 0], tris_cam[:, 1] - tris_cam[:, 0], tris_cam[:, 2] - tris_cam[:, 0]
    for s in range(0, len(tris_cam), chunk):
        a, b, c = v0[s : s + chunk], e1[s : s + chunk], e2[s : s + chunk]
        p = np.cross(d[:, None, :], c[None])  # (P, m, 3)
        det = np.einsum("pmk,mk->pm", p, b)
        ok = np.abs(det) > 1e-18
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        tvec = -a  # ray origin (0) minus v0
        uu = np.einsum("pmk,mk->pm", p, tvec) * inv
        q = np.cross(tvec, b)  # (m, 3)
        vv = np.einsum("pk,mk->pm", d, q) * inv
        tt = np.einsum("mk,mk->m", c, q)[None, :] * inv
        hit = ok & (uu >= 0) & (vv >= 0) & (uu + vv <= 1) & (tt > 1e-9)
        tt = np.where(hit, tt, np.inf)
        best = np.minimum(best, tt.min(axis=1))
    return best.reshape(height, width)  # t along a ray with z = 1 equals camera z


def raycast_instances(
    parts: list[tuple[int, np.ndarray]], K: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """Visible instance map (uint16), depth map and per-instance unoccluded silhouettes.

    ``parts``: ``(instance_id, triangles in camera frame (M, 3, 3))``."""
    ids = np.zeros((height, width), dtype=np.uint16)
    depth = np.full((height, width), np.inf)
    silhouettes = {}
    for instance_id, tris in parts:
        dep = raycast_depth(tris, K, width, height)
        silhouettes[instance_id] = np.isfinite(dep)
        closer = dep < depth
        ids[closer] = instance_id
        depth[closer] = dep[closer]
    return ids, depth, silhouettes


def boundary_band(labels: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels within ``width`` pixels (8-neighbourhood) of a change of label."""
    h, w = labels.shape
    band = np.zeros((h, w), dtype=bool)
    padded = np.pad(labels, width, mode="edge")
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            shifted = padded[width + dy : width + dy + h, width + dx : width + dx + w]
            band |= shifted != labels
    return band


def raycast_with_occluders(
    parts: list[tuple[int, np.ndarray]], occluders: list[np.ndarray], K: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """As :func:`raycast_instances`, with ``occluders`` (triangles in camera frame (M, 3, 3) each) that hide what is
    behind them but are no instance (id 0, like the table's background); the silhouettes are the parts' only."""
    ids, depth, silhouettes = raycast_instances(parts, K, width, height)
    for tris in occluders:
        dep = raycast_depth(tris, K, width, height)
        closer = dep < depth
        ids[closer] = 0
        depth[closer] = dep[closer]
    return ids, depth, silhouettes
