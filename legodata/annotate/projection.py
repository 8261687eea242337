"""Camera projection of a part's model: points to pixels (OpenCV's pinhole model, optional lens distortion) and
the posed mesh's silhouette at pixel centres, as the renderer's masks. Pure numpy (OpenCV for distortion)."""

from __future__ import annotations

import numpy as np

from legodata.core.mesh import Mesh
from legodata.scene.ground_truth import rasterize_triangles


def project_points(points: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray, dist=None) -> np.ndarray:
    """Model points ``(N, 3)`` -> pixels ``(N, 2)`` (with lens distortion when ``dist`` has coefficients)."""
    points = np.asarray(points, float).reshape(-1, 3)
    if dist is not None and np.size(dist) and np.any(np.asarray(dist) != 0):
        import cv2

        rvec, _ = cv2.Rodrigues(np.asarray(R, float))
        uv, _ = cv2.projectPoints(points, rvec, np.asarray(t, float), np.asarray(K, float), np.asarray(dist, float))
        return uv.reshape(-1, 2)
    cam = points @ np.asarray(R, float).T + np.asarray(t, float)
    uv = cam @ np.asarray(K, float).T
    return uv[:, :2] / uv[:, 2:3]


def projected_silhouette(mesh: Mesh, K, R, t, width: int, height: int, dist=None) -> np.ndarray:
    """The unoccluded silhouette of the posed mesh at pixel centres (lens distortion applied when given)."""
    cam = mesh.vertices @ np.asarray(R, float).T + np.asarray(t, float)
    faces = mesh.faces[(cam[mesh.faces][:, :, 2] > 1e-6).all(axis=1)]
    uv = project_points(mesh.vertices, K, R, t, dist)
    return rasterize_triangles(uv[faces], width, height)
