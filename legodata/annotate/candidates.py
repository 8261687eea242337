"""Candidate orientations an annotator can pick from, and poses from a chosen candidate. Pure numpy.

Candidates are *allocentric* rotations, as ``train-rot`` labels crops: the part as a camera looking straight at it
sees it. A pick becomes ``R_m2c = R_ray @ R_candidate``, with ``R_ray`` the smallest rotation taking the optical
axis onto the ray through the part (the centre of its mask or of its keypoints).

Without a model the candidates are the 24 axis-aligned orientations of the part (the 24 rotations of the cube group,
applied in a "table" frame: model -Y up) seen from a camera 35 degrees above the table and 30 degrees to the side,
so that every picture shows three faces; orientations that the part's symmetry makes look alike are shown once.
"""

from __future__ import annotations

import numpy as np

from legodata.core.rotations import axis_angle_to_matrix, cube_rotations, symmetric_geodesic_angle
from legodata.train.rotation_labels import ray_rotation  # train-rot's allocentric labels: the same ray

__all__ = ["axis_aligned_candidates", "distinct", "flips", "ray_rotation", "table_view"]

VIEW_ELEVATION_DEG = 35.0
VIEW_AZIMUTH_DEG = 30.0


def table_view() -> np.ndarray:
    """Model-to-camera rotation of a camera looking down at the model origin from the candidate viewpoint."""
    e, a = np.radians(VIEW_ELEVATION_DEG), np.radians(VIEW_AZIMUTH_DEG)
    # model frame: -Y up; the camera sits above (negative y) and in front (negative z), turned by the azimuth
    eye = np.array([np.sin(a) * np.cos(e), -np.sin(e), -np.cos(a) * np.cos(e)])
    z = -eye / np.linalg.norm(eye)  # camera looks at the origin
    x = np.cross(z, np.array([0.0, -1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def axis_aligned_candidates(symmetries: np.ndarray | None = None) -> np.ndarray:
    """``(M, 3, 3)``: the 24 axis-aligned orientations seen from the candidate viewpoint, one per class of
    orientations the part's ``symmetries`` make look the same (all 24 without)."""
    view = table_view()
    out: list[np.ndarray] = []
    for c in cube_rotations():
        R = view @ c
        if symmetries is not None and out:
            if np.min(symmetric_geodesic_angle(np.stack(out), R, symmetries)) < np.radians(1.0):
                continue
        out.append(R)
    return np.stack(out)


def flips(R: np.ndarray) -> list[np.ndarray]:
    """``R`` turned half a turn about each of the model's axes: the usual confusions of a rotation model (a tile
    seen from above or below)."""
    return [np.asarray(R) @ axis_angle_to_matrix(np.eye(3)[k], np.pi) for k in range(3)]


def distinct(rotations: list[np.ndarray], symmetries: np.ndarray, min_deg: float = 15.0, limit: int = 24) -> np.ndarray:
    """The rotations in order, dropping any within ``min_deg`` (symmetry-aware) of one kept before."""
    kept: list[np.ndarray] = []
    for R in rotations:
        if kept and np.degrees(np.min(symmetric_geodesic_angle(np.stack(kept), R, symmetries))) < min_deg:
            continue
        kept.append(np.asarray(R, float))
        if len(kept) == limit:
            break
    return np.stack(kept)
