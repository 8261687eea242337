import numpy as np
import pytest
from scipy import stats

from legodata.core.rotations import (
    axis_angle_to_matrix,
    canonical_quat_wxyz,
    cube_rotations,
    geodesic_angle,
    is_rotation,
    matrix_to_quat_wxyz,
    quat_wxyz_to_matrix,
    random_rotations,
    symmetric_geodesic_angle,
)


def test_quaternion_order_is_wxyz_and_matches_axis_angle():
    # 90 degrees about +z: w = cos 45, z = sin 45; maps x to y.
    q = np.array([np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)])
    R = quat_wxyz_to_matrix(q)
    assert np.allclose(R @ [1, 0, 0], [0, 1, 0])
    assert np.allclose(R, axis_angle_to_matrix([0, 0, 1], np.pi / 2))


def test_matrix_quaternion_round_trip_and_sign_convention():
    rng = np.random.default_rng(0)
    R = random_rotations(rng, 500)
    q = matrix_to_quat_wxyz(R)
    assert np.all(q[:, 0] >= 0)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0)
    assert np.allclose(quat_wxyz_to_matrix(q), R, atol=1e-12)
    # -q is the same rotation and canonicalises to q
    assert np.allclose(canonical_quat_wxyz(-q), q)


def test_matrix_to_quat_near_180_degrees_is_stable():
    for axis in np.eye(3):
        R = axis_angle_to_matrix(axis, np.pi)
        q = matrix_to_quat_wxyz(R)
        assert np.allclose(quat_wxyz_to_matrix(q), R, atol=1e-12)
        assert abs(q[0]) < 1e-12 and np.allclose(np.abs(q[1:]), axis)


def test_matches_scipy_at_the_boundary():
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(1)
    R = random_rotations(rng, 50)
    xyzw = Rotation.from_matrix(R).as_quat()
    wxyz = canonical_quat_wxyz(np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1))
    assert np.allclose(matrix_to_quat_wxyz(R), wxyz, atol=1e-10)


def test_cube_rotations_are_the_24_element_group():
    G = cube_rotations()
    assert G.shape == (24, 3, 3) and is_rotation(G)
    keys = {tuple(np.round(g).astype(int).ravel()) for g in G}
    assert len(keys) == 24
    for a in G[:6]:
        for b in G:
            assert tuple(np.round(a @ b).astype(int).ravel()) in keys


def test_random_rotations_are_deterministic_per_generator():
    a = random_rotations(np.random.default_rng(42), 10)
    b = random_rotations(np.random.default_rng(42), 10)
    c = random_rotations(np.random.default_rng(43), 10)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert is_rotation(a)


def _so3_uniformity_pvalues(R: np.ndarray) -> list[float]:
    # Haar measure: rotation angle has CDF (t - sin t)/pi; a rotated axis is uniform on the sphere
    # (z-component uniform on [-1, 1], azimuth uniform).
    angles = geodesic_angle(np.eye(3), R)
    p_angle = stats.kstest(angles, lambda t: (t - np.sin(t)) / np.pi).pvalue
    v = R[:, :, 2]
    p_z = stats.kstest(v[:, 2], stats.uniform(loc=-1, scale=2).cdf).pvalue
    p_az = stats.kstest(np.arctan2(v[:, 1], v[:, 0]), stats.uniform(loc=-np.pi, scale=2 * np.pi).cdf).pvalue
    return [p_angle, p_z, p_az]


def test_random_rotations_are_uniform_on_so3():
    R = random_rotations(np.random.default_rng(7), 20000)
    assert min(_so3_uniformity_pvalues(R)) > 0.01


def test_uniformity_test_rejects_naive_euler_sampling():
    # The statistical test has power: uniform Euler angles are NOT uniform on SO(3).
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(7)
    eul = rng.uniform([-np.pi, 0, -np.pi], [np.pi, np.pi, np.pi], size=(20000, 3))
    R = Rotation.from_euler("ZYZ", eul).as_matrix()
    assert min(_so3_uniformity_pvalues(R)) < 1e-6


def test_symmetric_geodesic_angle_uses_the_group():
    half_turn_y = axis_angle_to_matrix([0, 1, 0], np.pi)
    group = np.stack([np.eye(3), half_turn_y])
    R = random_rotations(np.random.default_rng(3), 1)[0]
    assert np.isclose(geodesic_angle(R, R @ half_turn_y), np.pi)
    assert np.isclose(symmetric_geodesic_angle(R, R @ half_turn_y, group), 0.0, atol=1e-6)
    small = axis_angle_to_matrix([1, 0, 0], np.radians(10))
    assert np.isclose(np.degrees(symmetric_geodesic_angle(R @ small, R, group)), 10.0)


@pytest.mark.parametrize("angle", [0.0, 0.3, np.pi / 2, 3.0])
def test_geodesic_angle_of_axis_angle(angle):
    R = axis_angle_to_matrix([1, 2, 3], angle)
    assert np.isclose(geodesic_angle(np.eye(3), R), angle, atol=1e-7)
