"""Pinhole camera helpers (OpenCV convention: x right, y down, z forward). Pure numpy."""

from __future__ import annotations

import numpy as np


def intrinsics_from_fov(width: int, height: int, fov_deg: float) -> np.ndarray:
    """K for a camera whose horizontal field of view is ``fov_deg``, square pixels, centred principal point.

    Pixel centres sit at integer coordinates (OpenCV), so the image centre is ((W-1)/2, (H-1)/2).
    """
    f = 0.5 * width / np.tan(np.radians(fov_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def look_at_w2c(eye: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> tuple:
    """OpenCV world-to-camera ``(R_w2c, t_w2c)`` for a camera at ``eye`` looking at ``target``, world ``up``
    appearing upwards in the image."""
    eye = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:  # looking straight down: any x works
        x = np.cross(z, np.array([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])  # rows: camera axes in world coordinates
    return R, -R @ eye


def project(points: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points (N, 3) -> pixel coordinates (N, 2) and camera-frame depth z (N,)."""
    cam = np.asarray(points) @ np.asarray(R).T + np.asarray(t)
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cam @ np.asarray(K).T)[:, :2] / z[:, None]
    return uv, z
