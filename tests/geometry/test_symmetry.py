import time

import numpy as np
import pytest

from legodata.core.mesh import Mesh
from legodata.core.rotations import axis_angle_to_matrix, random_rotations
from legodata.geometry.surface import closest_points_on_triangles
from legodata.geometry.symmetry import (
    SymmetryGroup,
    default_tolerance,
    find_symmetry_group,
    is_symmetry,
)
from legodata.parts.catalogue import get_part, list_parts

EXPECTED_SIZES = {
    "3001": 2,
    "3002": 2,
    "3003": 4,
    "3004": 2,
    "3005": 4,
    "3010": 2,
    "3020": 2,
    "3022": 4,
    "3023": 2,
    "3039": 1,
    "3069b": 2,
}
HALF_TURN_Y = np.diag([-1.0, 1.0, -1.0])
QUARTER_TURN_Y = axis_angle_to_matrix([0, 1, 0], np.pi / 2)


def cylinder_mesh(radius=1.0, height=2.0, segments=256) -> Mesh:
    a = np.arange(segments) * 2 * np.pi / segments
    ring = np.stack([radius * np.cos(a), np.zeros(segments), radius * np.sin(a)], axis=1)
    top, bottom = ring + [0, height / 2, 0], ring - [0, height / 2, 0]
    vertices = np.concatenate([bottom, top, [[0, -height / 2, 0], [0, height / 2, 0]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    n = segments
    faces = np.concatenate(
        [
            np.stack([i, n + j, j], 1),
            np.stack([i, n + i, n + j], 1),
            np.stack([np.full(n, 2 * n), i, j], 1),
            np.stack([np.full(n, 2 * n + 1), n + j, n + i], 1),
        ]
    )
    return Mesh(vertices, faces)


def box_mesh(size) -> Mesh:
    sx, sy, sz = np.asarray(size) / 2
    v = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)])
    faces = np.array(
        [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4]]
        + [[1, 5, 7], [1, 7, 3]]
    )
    return Mesh(v, faces)


def rounded_vertex_set(vertices, decimals=9):
    return np.unique(np.round(vertices, decimals) + 0.0, axis=0)


@pytest.mark.parametrize("part_id, size", sorted(EXPECTED_SIZES.items()))
def test_group_sizes_of_catalogue_parts(part_id, size):
    group = get_part(part_id).symmetry
    assert len(group.rotations) == size == len(group)
    assert group.continuous_axes == ()


@pytest.mark.parametrize("part_id", sorted(EXPECTED_SIZES))
def test_groups_contain_identity_and_are_closed(part_id):
    group = get_part(part_id).symmetry
    r, t = group.rotations, group.translations
    np.testing.assert_allclose(r[0], np.eye(3))
    np.testing.assert_allclose(t[0], 0.0)

    def index_of(rot, tr):
        hits = [k for k in range(len(r)) if np.allclose(r[k], rot, atol=1e-9) and np.allclose(t[k], tr, atol=1e-9)]
        assert len(hits) == 1, "composition not in the group"
        return hits[0]

    for a in range(len(r)):
        for b in range(len(r)):
            # (x -> Ra x + ta) after (x -> Rb x + tb)
            index_of(r[a] @ r[b], r[a] @ t[b] + t[a])
        index_of(r[a].T, -r[a].T @ t[a])  # inverse
        assert np.allclose(np.linalg.det(r[a]), 1.0) and np.allclose(r[a].T @ r[a], np.eye(3))


@pytest.mark.parametrize("part_id", sorted(EXPECTED_SIZES))
def test_every_symmetry_maps_the_vertex_set_onto_itself(part_id):
    part = get_part(part_id)
    v = part.mesh.vertices
    original = rounded_vertex_set(v)
    for rot, tr in zip(part.symmetry.rotations, part.symmetry.translations):
        np.testing.assert_allclose(rounded_vertex_set(v @ rot.T + tr), original, atol=1e-9)


def test_symmetries_of_2x4_brick_and_a_rejected_quarter_turn():
    part = get_part("3001")
    np.testing.assert_allclose(part.symmetry.rotations[1], HALF_TURN_Y)
    np.testing.assert_allclose(part.symmetry.translations[1], 0.0, atol=1e-12)  # axis through x = z = 0
    assert not is_symmetry(part.mesh, QUARTER_TURN_Y)
    assert not is_symmetry(part.mesh, np.diag([1.0, -1.0, -1.0]))  # upside down
    assert is_symmetry(part.mesh, HALF_TURN_Y, np.zeros(3))
    assert not is_symmetry(part.mesh, HALF_TURN_Y, np.array([0.0004, 0, 0]))  # shifted by 1 LDU


def test_2x2_brick_has_the_four_quarter_turns_about_y():
    rots = get_part("3003").symmetry.rotations
    for k in range(4):
        target = axis_angle_to_matrix([0, 1, 0], k * np.pi / 2)
        assert any(np.allclose(r, target, atol=1e-9) for r in rots)


def test_slope_has_no_rotational_symmetry():
    part = get_part("3039")
    assert len(part.symmetry.rotations) == 1
    assert not is_symmetry(part.mesh, HALF_TURN_Y)


def test_cylinder_has_a_continuous_axis():
    mesh = cylinder_mesh()
    group = find_symmetry_group(mesh)
    assert len(group.continuous_axes) == 1
    axis, point = group.continuous_axes[0]
    assert abs(abs(axis[1]) - 1.0) < 1e-9
    np.testing.assert_allclose(point, 0.0, atol=1e-9)
    assert len(group.rotations) == 8  # the cube rotations that survive: 4 quarter turns about Y, 4 flips


def test_catalogue_parts_have_no_continuous_axis():
    mesh = get_part("3005").mesh
    assert not is_symmetry(mesh, axis_angle_to_matrix([0, 1, 0], 0.7))


def test_principal_frame_candidates_find_symmetries_of_a_tilted_box():
    rot = random_rotations(np.random.default_rng(3), 1)[0]
    mesh = box_mesh([1.0, 2.0, 3.0]).transformed(rot, np.array([0.1, -0.2, 0.3]))
    group = find_symmetry_group(mesh)
    assert len(group.rotations) == 4  # identity and the three half-turns about the box axes
    for r, t in zip(group.rotations, group.translations):
        assert is_symmetry(mesh, r, t)
    cube = find_symmetry_group(box_mesh([1.0, 1.0, 1.0]))
    assert len(cube.rotations) == 24


def test_json_round_trip():
    group = get_part("3003").symmetry
    back = SymmetryGroup.from_json(group.to_json())
    np.testing.assert_allclose(back.rotations, group.rotations)
    np.testing.assert_allclose(back.translations, group.translations, atol=1e-12)
    cyl = find_symmetry_group(cylinder_mesh(segments=64), tol=0.01)
    back = SymmetryGroup.from_json(cyl.to_json())
    assert len(back.continuous_axes) == len(cyl.continuous_axes) == 1
    np.testing.assert_allclose(back.continuous_axes[0][0], cyl.continuous_axes[0][0], atol=1e-9)


def test_group_must_start_with_identity():
    with pytest.raises(ValueError):
        SymmetryGroup(np.array([HALF_TURN_Y]), np.zeros((1, 3)))


def test_closest_point_on_triangle_matches_brute_force():
    rng = np.random.default_rng(0)
    n = 300
    a, b, c, p = (rng.normal(size=(n, 3)) for _ in range(4))
    q = closest_points_on_triangles(p, a, b, c)
    # q lies on the triangle: barycentric coordinates in [0, 1]
    m = np.stack([b - a, c - a], axis=2)
    for k in range(n):
        uv = np.linalg.lstsq(m[k], q[k] - a[k], rcond=None)[0]
        assert uv.min() > -1e-9 and uv.sum() < 1 + 1e-9
        assert np.allclose(a[k] + m[k] @ uv, q[k], atol=1e-9)
    # and no point of a fine barycentric grid is closer
    g = np.linspace(0, 1, 101)
    u, v = np.meshgrid(g, g)
    keep = u + v <= 1
    u, v = u[keep], v[keep]
    for k in range(0, n, 10):
        grid = a[k] + u[:, None] * (b[k] - a[k]) + v[:, None] * (c[k] - a[k])
        assert np.linalg.norm(q[k] - p[k]) <= np.linalg.norm(grid - p[k], axis=1).min() + 1e-12


def test_whole_catalogue_groups_are_fast():
    from legodata.parts import builders

    meshes = [builders.box_mesh(4, 2, 24), builders.box_mesh(2, 2, 24), builders.slope45_2x2_mesh()]
    start = time.perf_counter()
    for mesh in meshes:
        find_symmetry_group(mesh)
    assert time.perf_counter() - start < 5.0
    assert len(list_parts()) == len(EXPECTED_SIZES)


def gear_mesh(teeth=16, outer=1.0, inner=0.8, height=0.5) -> Mesh:
    """A prism over a star polygon: ``teeth``-fold symmetric, but not round."""
    mesh = cylinder_mesh(radius=1.0, height=height, segments=2 * teeth)
    radial = np.where(np.arange(2 * teeth) % 2 == 0, outer, inner)
    scale = np.concatenate([radial, radial, [1.0, 1.0]])[:, None] * [1.0, 0.0, 1.0] + [0.0, 1.0, 0.0]
    return Mesh(mesh.vertices * scale, mesh.faces)


@pytest.mark.parametrize("segments", [16, 48])
def test_tessellated_cylinder_like_ldraw_circles_is_round(segments):
    group = find_symmetry_group(cylinder_mesh(segments=segments))
    assert len(group.continuous_axes) == 1
    assert abs(abs(group.continuous_axes[0][0][1]) - 1.0) < 1e-9
    assert len(group.rotations) == 8


@pytest.mark.parametrize("mesh", [cylinder_mesh(segments=12), gear_mesh(teeth=16)], ids=["12-gon", "16-tooth gear"])
def test_polygons_that_are_not_tessellated_circles_are_not_round(mesh):
    group = find_symmetry_group(mesh)
    assert group.continuous_axes == ()
    assert len(group.rotations) == 8  # still the exact quarter turns and flips


def test_sampled_group_discretises_the_continuous_axis():
    mesh = cylinder_mesh(segments=16)
    group = find_symmetry_group(mesh)
    sampled = group.sampled(step_deg=10.0)
    assert len(sampled) == 72  # 36 turns about Y, each with and without the flip
    np.testing.assert_allclose(sampled[0], np.eye(3))
    eye = np.broadcast_to(np.eye(3), sampled.shape)
    np.testing.assert_allclose(sampled @ np.swapaxes(sampled, 1, 2), eye, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(sampled), 1.0)
    # any turn about the axis is within half a step of a sample
    for angle in np.random.default_rng(0).uniform(0, 2 * np.pi, 20):
        spin = axis_angle_to_matrix([0, 1, 0], angle)
        cos = (np.trace(sampled.transpose(0, 2, 1) @ spin, axis1=1, axis2=2) - 1) / 2
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).min() <= 5.0 + 1e-9
    assert get_part("3003").symmetry.sampled() is get_part("3003").symmetry.rotations


def test_principal_axes_a_hair_off_do_not_duplicate_group_elements():
    # a square prism (8 symmetries) with one corner moved by half the tolerance: still the same 8 within tolerance,
    # but its principal axes tilt a little, so the principal-frame candidates are near-copies of the cube ones
    mesh = box_mesh([1.0, 2.0, 1.0])
    tol = default_tolerance(mesh)
    vertices = mesh.vertices.copy()
    vertices[7] += [0.4 * tol, 0.3 * tol, 0.0]
    group = find_symmetry_group(Mesh(vertices, mesh.faces), tol=tol)
    assert len(group.rotations) == 8
    r = group.rotations
    for a in r:  # closed under composition
        for b in r:
            cos = (np.einsum("kij,ij->k", r, a @ b) - 1) / 2
            assert cos.max() > 1 - 1e-9
