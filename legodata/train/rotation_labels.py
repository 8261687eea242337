"""Rotation labels of crops (pure numpy).

Rotation labels are *allocentric*: ``R_allo = R_ray^T @ R_m2c`` where ``R_ray`` is the smallest rotation taking the
camera's optical axis onto the ray through the crop centre. A crop of an off-centre part looks like a centred view
from a camera turned along that ray, so the network learns what the crop shows; ``R_m2c = R_ray @ R_allo`` undoes it.
Rotating a crop in-plane by ``a`` (about the crop centre, clockwise as displayed, OpenCV image axes: x right, y down)
is a rotation about the viewing axis: the label becomes ``Rz(a) @ R_allo`` (see :func:`rotate_inplane`).
"""

from __future__ import annotations

import cv2
import numpy as np


def rz(angle: float) -> np.ndarray:
    """Rotation by ``angle`` (radians) about the camera's z axis (OpenCV frame: clockwise as displayed)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_inplane(image: np.ndarray, angle: float, nearest: bool = False) -> np.ndarray:
    """Rotate a square crop about its centre so that pixel offset ``d`` moves to ``Rz2(angle) @ d`` (x right, y down).

    For a view along the optical axis this is exactly what ``R_m2c -> rz(angle) @ R_m2c`` does to the projection."""
    size = image.shape[1], image.shape[0]
    cx, cy = (size[0] - 1) / 2.0, (size[1] - 1) / 2.0
    c, s = np.cos(angle), np.sin(angle)
    m = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy]])
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(image, m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def ray_rotation(K, u: float, v: float) -> np.ndarray:
    """The smallest rotation taking the optical axis (0, 0, 1) onto the viewing ray through pixel ``(u, v)``."""
    d = np.linalg.solve(np.asarray(K, dtype=np.float64), np.array([u, v, 1.0]))
    d /= np.linalg.norm(d)
    axis = np.cross([0.0, 0.0, 1.0], d)
    s, c = np.linalg.norm(axis), d[2]
    if s < 1e-12:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def crop_ray(K, crop_x: int, crop_y: int, crop_size: int) -> np.ndarray:
    """``ray_rotation`` at the centre of a crop box given in original pixels (pixel centres at integers)."""
    return ray_rotation(K, crop_x + (crop_size - 1) / 2.0, crop_y + (crop_size - 1) / 2.0)
