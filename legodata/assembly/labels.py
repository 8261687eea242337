"""Ground truth of one relevant part in one step: current and target pose, the rotation action. Pure numpy.

The rotation action is the rotation that turns the part from its current orientation into its target one,
``A = R_target S R_current^T``, with ``S`` the element of the part's symmetry group that makes ``A`` smallest
(a symmetric part reaches its target look by the least turn). ``A`` is given in the camera frame (what a model
sees) and in the world (table) frame; the target pose with ``S`` applied (``R_target S``, translation
``t_target + R_target (c - S c)``, ``c`` the part's centroid, which every symmetry keeps) is the same part
geometry as the file's target pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.core.mesh import Mesh
from legodata.core.rotations import matrix_to_quat_wxyz


@dataclass(frozen=True, eq=False)
class PartSymmetry:
    """A part's symmetry rotations (``(K, 3, 3)``, identity first; a round part's axis sampled) and the point
    every one of them keeps (its area-weighted surface centroid, metres, model frame)."""

    rotations: np.ndarray
    centroid: np.ndarray


def surface_centroid(mesh: Mesh) -> np.ndarray:
    """Area-weighted centroid of the surface."""
    t = mesh.triangles
    area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    return (area[:, None] * t.mean(axis=1)).sum(axis=0) / area.sum()


def rotation_angle(R: np.ndarray) -> np.ndarray:
    """Angle (radians) of rotation(s) ``(..., 3, 3)``."""
    cos = (np.trace(np.asarray(R), axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def smallest_action(R_current: np.ndarray, R_target: np.ndarray, symmetries: np.ndarray) -> tuple[np.ndarray, int]:
    """``(A, k)``: the smallest ``A = R_target S_k R_current^T`` over the symmetry rotations ``S_k``."""
    candidates = np.asarray(R_target) @ np.asarray(symmetries) @ np.asarray(R_current).T
    k = int(np.argmin(rotation_angle(candidates)))
    return candidates[k], k


def _lists(m: np.ndarray) -> list:
    return np.round(np.asarray(m, dtype=np.float64), 12).tolist()


@dataclass(frozen=True, eq=False)
class Pose:
    """A model-to-frame pose: ``x_frame = R @ x_model + t`` (metres)."""

    R: np.ndarray
    t: np.ndarray

    def then(self, R: np.ndarray, t: np.ndarray) -> Pose:
        """This pose followed by the frame change ``x -> R x + t``."""
        return Pose(np.asarray(R) @ self.R, np.asarray(R) @ self.t + np.asarray(t))


def pose_labels(current_w: Pose, target_w: Pose, R_w2c: np.ndarray, t_w2c: np.ndarray, sym: PartSymmetry) -> dict:
    """JSON-ready labels of a part moving from ``current_w`` to ``target_w`` (both model-to-world)."""
    current_c = current_w.then(R_w2c, t_w2c)
    target_c = target_w.then(R_w2c, t_w2c)
    A_c, k = smallest_action(current_c.R, target_c.R, sym.rotations)
    S = sym.rotations[k]
    equiv_R = target_c.R @ S
    equiv_t = target_c.t + target_c.R @ (sym.centroid - S @ sym.centroid)
    A_w = target_w.R @ S @ current_w.R.T
    return {
        "R_current_m2c": _lists(current_c.R),
        "t_current_m2c": _lists(current_c.t),
        "quat_current_m2c_wxyz": _lists(matrix_to_quat_wxyz(current_c.R)),
        "R_target_m2c": _lists(target_c.R),
        "t_target_m2c": _lists(target_c.t),
        "quat_target_m2c_wxyz": _lists(matrix_to_quat_wxyz(target_c.R)),
        "R_target_equiv_m2c": _lists(equiv_R),
        "t_target_equiv_m2c": _lists(equiv_t),
        "symmetry_index": k,
        "R_action_c": _lists(A_c),
        "rotation_action_wxyz": _lists(matrix_to_quat_wxyz(A_c)),
        "rotation_action_deg": float(np.degrees(rotation_angle(A_c))),
        "R_action_w": _lists(A_w),
    }
