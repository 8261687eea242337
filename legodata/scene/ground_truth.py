"""Per-view ground truth from a scene spec, final part poses and the rendered instance mask. Pure numpy/OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from legodata.geometry.rotations import matrix_to_quat_wxyz
from legodata.parts.mesh import Mesh
from legodata.scene.camera import project
from legodata.store.records import Instance

EMPTY_BOX = (-1, -1, -1, -1)
_SUBPIXEL_BITS = 8


def pose_m2c(
    R_m2w: np.ndarray, t_m2w: np.ndarray, R_w2c: np.ndarray, t_w2c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Compose model-to-world with world-to-camera into model-to-camera ``(R_m2c, t_m2c)``."""
    R = np.asarray(R_w2c) @ np.asarray(R_m2w)
    t = np.asarray(R_w2c) @ np.asarray(t_m2w) + np.asarray(t_w2c)
    return R, t


def silhouette(mesh: Mesh, K: np.ndarray, R_m2c: np.ndarray, t_m2c: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boolean mask of the pixels whose centre the projected mesh covers, ignoring occlusion.

    Triangles with a corner behind the camera's near plane are skipped (parts are always in front here)."""
    uv, z = project(mesh.vertices, K, R_m2c, t_m2c)
    mask = np.zeros((height, width), dtype=np.uint8)
    tri = mesh.faces[(z[mesh.faces] > 1e-6).all(axis=1)]
    if len(tri) == 0:
        return mask.astype(bool)
    pts = np.round(uv[tri] * (1 << _SUBPIXEL_BITS)).astype(np.int64)
    # Far-off coordinates would overflow int32 with the sub-pixel shift; clipping keeps in-image coverage exact.
    pts = np.clip(pts, -(1 << 22), 1 << 22).astype(np.int32)
    # One convex fill per triangle: fillPoly on a list uses the even-odd rule, so overlaps would cancel out.
    for triangle in pts:
        cv2.fillConvexPoly(mask, triangle, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return mask.astype(bool)


def bbox_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Tight ``(x, y, w, h)`` box of a boolean mask, ``(-1, -1, -1, -1)`` when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return EMPTY_BOX
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def view_instances(
    parts: list[tuple[int, str, int, Mesh, np.ndarray, np.ndarray]],
    K: np.ndarray,
    R_w2c: np.ndarray,
    t_w2c: np.ndarray,
    instance_mask: np.ndarray,
) -> tuple[Instance, ...]:
    """Annotations of every part in one view.

    ``parts`` holds ``(instance_id, part_id, colour_code, mesh, R_m2w, t_m2w)``; ``instance_mask`` is the rendered
    uint16 mask. Every part gets an entry, also when it is fully hidden (``px_count_visib`` 0)."""
    height, width = instance_mask.shape
    out = []
    for instance_id, part_id, colour_code, mesh, R_m2w, t_m2w in parts:
        R, t = pose_m2c(R_m2w, t_m2w, R_w2c, t_w2c)
        full = silhouette(mesh, K, R, t, width, height)
        visible = instance_mask == instance_id
        px_all = int(full.sum())
        px_visib = int(visible.sum())
        out.append(
            Instance(
                instance_id=int(instance_id),
                part_id=part_id,
                colour_code=int(colour_code),
                R_m2c=tuple(tuple(float(x) for x in row) for row in R),
                t_m2c=tuple(float(x) for x in t),
                quat_m2c_wxyz=tuple(float(x) for x in matrix_to_quat_wxyz(R)),
                bbox_obj=bbox_of(full),
                bbox_visib=bbox_of(visible),
                px_count_all=px_all,
                px_count_visib=px_visib,
                # Anti-aliasing-free masks can gain an edge pixel over the polygon fill: cap at 1.
                visib_fract=float(min(1.0, px_visib / px_all)) if px_all else 0.0,
            )
        )
    return tuple(out)
