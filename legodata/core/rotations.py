"""Rotation conventions used everywhere in legodata.

Quaternions are unit, scalar first ``(w, x, y, z)`` with the sign fixed so that ``w >= 0``.
Rotation matrices are 3x3, acting on column vectors. Nothing here touches global random state:
samplers take a ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def canonical_quat_wxyz(q: Array) -> Array:
    """Normalise quaternion(s) ``(..., 4)`` in wxyz order and flip the sign so that w >= 0.

    For w == 0 exactly, the first non-zero of x, y, z is made positive so the result is unique.
    """
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    sign = np.sign(q[..., 0])
    for axis in (1, 2, 3):
        sign = np.where(sign == 0, np.sign(q[..., axis]), sign)
    sign = np.where(sign == 0, 1.0, sign)
    return q * sign[..., None]


def quat_wxyz_to_matrix(q: Array) -> Array:
    """Rotation matrix/matrices ``(..., 3, 3)`` from quaternion(s) ``(..., 4)`` in wxyz order."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - w * z)
    m[..., 0, 2] = 2 * (x * z + w * y)
    m[..., 1, 0] = 2 * (x * y + w * z)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - w * x)
    m[..., 2, 0] = 2 * (x * z - w * y)
    m[..., 2, 1] = 2 * (y * z + w * x)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def matrix_to_quat_wxyz(m: Array) -> Array:
    """Quaternion(s) wxyz ``(..., 4)`` with w >= 0 from rotation matrix/matrices ``(..., 3, 3)``.

    Uses Shepperd's method (picks the largest diagonal term), stable for all rotations.
    """
    m = np.asarray(m, dtype=np.float64)
    batch = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    q = np.empty((m.shape[0], 4))
    trace = np.trace(m, axis1=1, axis2=2)
    diag = np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    choice = np.argmax(diag, axis=1)
    for i in range(m.shape[0]):
        r = m[i]
        c = choice[i]
        if c == 0:
            s = 2.0 * np.sqrt(max(1.0 + trace[i], 0.0))
            q[i] = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
        elif c == 1:
            s = 2.0 * np.sqrt(max(1.0 + r[0, 0] - r[1, 1] - r[2, 2], 0.0))
            q[i] = [(r[2, 1] - r[1, 2]) / s, 0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
        elif c == 2:
            s = 2.0 * np.sqrt(max(1.0 + r[1, 1] - r[0, 0] - r[2, 2], 0.0))
            q[i] = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s]
        else:
            s = 2.0 * np.sqrt(max(1.0 + r[2, 2] - r[0, 0] - r[1, 1], 0.0))
            q[i] = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s]
    return canonical_quat_wxyz(q).reshape(batch + (4,))


def random_rotations(rng: np.random.Generator, n: int) -> Array:
    """``n`` rotation matrices drawn uniformly (Haar measure) on SO(3).

    Normalised 4D Gaussians are uniform on S^3, which double-covers SO(3) uniformly.
    """
    q = rng.standard_normal((n, 4))
    return quat_wxyz_to_matrix(q)


def axis_angle_to_matrix(axis: Array, angle: float) -> Array:
    """Rotation by ``angle`` radians about ``axis`` (any length > 0), right-handed."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    half = 0.5 * angle
    return quat_wxyz_to_matrix(np.concatenate([[np.cos(half)], np.sin(half) * axis]))


def cube_rotations() -> Array:
    """The 24 proper rotations mapping the coordinate axes onto themselves, ``(24, 3, 3)`` integer-valued.

    Ordered deterministically (lexicographic on the flattened matrix) so index k is stable.
    """
    import itertools

    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, s) in enumerate(zip(perm, signs)):
                m[row, col] = s
            if np.linalg.det(m) > 0:
                mats.append(m)
    mats.sort(key=lambda a: tuple(a.ravel()))
    return np.stack(mats)


def geodesic_angle(r1: Array, r2: Array) -> Array:
    """Angle in radians of the relative rotation ``r1^T r2`` (batched over leading axes)."""
    rel = np.swapaxes(np.asarray(r1), -1, -2) @ np.asarray(r2)
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def symmetric_geodesic_angle(r_pred: Array, r_true: Array, symmetries: Array) -> Array:
    """Smallest geodesic angle between ``r_pred`` and ``r_true @ S`` over the part's symmetry rotations ``S``.

    ``symmetries`` is ``(K, 3, 3)`` and must contain the identity. ``r_pred``/``r_true`` may be batched ``(..., 3, 3)``.
    """
    r_pred = np.asarray(r_pred)[..., None, :, :]
    candidates = np.asarray(r_true)[..., None, :, :] @ np.asarray(symmetries)
    return geodesic_angle(r_pred, candidates).min(axis=-1)


def is_rotation(m: Array, atol: float = 1e-6) -> bool:
    """True if ``m`` is orthonormal with determinant +1 (within ``atol``)."""
    m = np.asarray(m, dtype=np.float64)
    return bool(
        m.shape[-2:] == (3, 3)
        and np.allclose(np.swapaxes(m, -1, -2) @ m, np.eye(3), atol=atol)
        and np.allclose(np.linalg.det(m), 1.0, atol=atol)
    )
