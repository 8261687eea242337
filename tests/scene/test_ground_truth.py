import numpy as np
from support.raycast import boundary_band, raycast_instances

from legodata.core.mesh import Mesh
from legodata.core.rotations import is_rotation, quat_wxyz_to_matrix, random_rotations
from legodata.scene.camera import intrinsics_from_fov, look_at_w2c
from legodata.scene.ground_truth import bbox_of, pose_m2c, silhouette, view_instances


def box_mesh(sx, sy, sz):
    v = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)], dtype=float)
    # faces of a cube with vertices indexed by bits (x, y, z), outward normals
    faces = [
        (0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
        (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3),
    ]  # fmt: skip
    return Mesh(v, np.array(faces))


def test_pose_composition():
    rng = np.random.default_rng(0)
    R_m2w, R_w2c = random_rotations(rng, 2)
    t_m2w, t_w2c = rng.normal(size=3), rng.normal(size=3)
    R, t = pose_m2c(R_m2w, t_m2w, R_w2c, t_w2c)
    x = rng.normal(size=3)
    assert np.allclose(R @ x + t, R_w2c @ (R_m2w @ x + t_m2w) + t_w2c)


def test_silhouette_agrees_with_independent_raycast_within_a_pixel():
    rng = np.random.default_rng(1)
    mesh = box_mesh(0.02, 0.01, 0.015)
    K = intrinsics_from_fov(80, 60, 45.0)
    for R in random_rotations(rng, 5):
        t = np.array([rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01), 0.15])
        sil = silhouette(mesh, K, R, t, 80, 60)
        tris = mesh.triangles @ R.T + t
        ids, _, _ = raycast_instances([(1, tris)], K, 80, 60)
        disagree = sil != (ids == 1)
        assert sil.sum() > 100
        # both sample pixel centres: no bias, at most a pixel whose centre lies on an edge within rounding
        assert disagree.sum() <= 1 and not (disagree & ~boundary_band(ids)).any()


def test_rasterizer_samples_pixel_centres_and_batches_big_triangles():
    from legodata.scene.ground_truth import rasterize_triangles

    square = np.array([[[0.5, 0.5], [3.5, 0.5], [3.5, 2.5]], [[0.5, 0.5], [3.5, 2.5], [0.5, 2.5]]])
    got = rasterize_triangles(square, 6, 5)
    expected = np.zeros((5, 6), bool)
    expected[1:3, 1:4] = True  # centres (1..3, 1..2) are inside; the half-covered edge pixels are not
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(rasterize_triangles(square[:, ::-1], 6, 5), expected)  # either winding
    on_edge = np.array([[[1.0, 1.0], [3.0, 1.0], [3.0, 3.0]]])  # corners exactly on pixel centres
    assert rasterize_triangles(on_edge, 5, 5).sum() == 6  # the centres on its edges count: 3 + 2 + 1
    big = np.array([[[-50.0, -50.0], [200.0, -50.0], [-50.0, 200.0]], [[10.0, 10.0], [20.0, 10.0], [10.0, 20.0]]])
    np.testing.assert_array_equal(rasterize_triangles(big, 64, 48, max_tests=100), rasterize_triangles(big, 64, 48))
    assert rasterize_triangles(big, 64, 48).all()
    assert not rasterize_triangles(np.array([[[0.0, 0.0], [5.0, 5.0], [10.0, 10.0]]]), 16, 16).any()  # degenerate


def test_view_instances_counts_occlusion():
    K = intrinsics_from_fov(64, 64, 40.0)
    R_w2c, t_w2c = look_at_w2c(np.array([0.0, 0.0, 0.5]), np.zeros(3), up=np.array([0.0, 1.0, 0.0]))
    mesh = box_mesh(0.02, 0.02, 0.02)
    near = (1, "a", 4, mesh, np.eye(3), np.array([0.0, 0.0, 0.1]))  # between camera and the far box
    far = (2, "a", 14, mesh, np.eye(3), np.array([0.035, 0.0, 0.0]))
    tris = {k: mesh.triangles + t for k, _, _, _, _, t in (near, far)}
    ids, _, sils = raycast_instances([(k, v @ R_w2c.T + t_w2c) for k, v in tris.items()], K, 64, 64)
    inst = {i.instance_id: i for i in view_instances([near, far], K, R_w2c, t_w2c, ids)}
    # unoccluded: every silhouette pixel is visible, counted the same way (visib_fract alone is capped at 1)
    assert inst[1].px_count_visib == inst[1].px_count_all == sils[1].sum() > 50 and inst[1].visib_fract == 1.0
    assert inst[1].bbox_visib == inst[1].bbox_obj == bbox_of(ids == 1)
    assert inst[2].px_count_all == sils[2].sum() and inst[2].px_count_visib == (ids == 2).sum()
    assert 0.0 < inst[2].visib_fract == (ids == 2).sum() / sils[2].sum() < 0.8
    assert inst[2].px_count_visib == int((ids == 2).sum())
    assert inst[2].bbox_visib == bbox_of(ids == 2)
    for i in inst.values():
        assert is_rotation(np.asarray(i.R_m2c))
        assert np.allclose(quat_wxyz_to_matrix(np.asarray(i.quat_m2c_wxyz)), i.R_m2c)
        assert i.quat_m2c_wxyz[0] >= 0


def test_hidden_instance_is_kept_with_zero_visibility():
    K = intrinsics_from_fov(32, 32, 40.0)
    mesh = box_mesh(0.01, 0.01, 0.01)
    part = (3, "a", 4, mesh, np.eye(3), np.array([0.0, 0.0, 0.3]))
    (inst,) = view_instances([part], K, np.eye(3), np.zeros(3), np.zeros((32, 32), np.uint16))
    assert inst.px_count_visib == 0 and inst.bbox_visib == (-1, -1, -1, -1) and inst.visib_fract == 0.0
    assert inst.px_count_all > 0


def _reference_raster(tri_uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """Per pixel centre, per triangle: inside or on an edge (edge functions), degenerate triangles cover nothing."""
    v, u = np.mgrid[0:height, 0:width].astype(float)
    out = np.zeros((height, width), bool)
    for a, b, c in np.asarray(tri_uv, float):
        area2 = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if abs(area2) <= 1e-12:
            continue
        s = np.sign(area2)
        e = [(q[0] - p[0]) * (v - p[1]) - (q[1] - p[1]) * (u - p[0]) for p, q in ((a, b), (b, c), (c, a))]
        out |= (s * e[0] >= 0) & (s * e[1] >= 0) & (s * e[2] >= 0)
    return out


def test_rasterizer_equals_a_per_pixel_reference_on_awkward_triangles():
    """Vertices on thirds and tenths of pixels, on pixel centres, degenerate and off-image triangles."""
    from legodata.scene.ground_truth import rasterize_triangles

    rng = np.random.default_rng(11)
    for trial in range(300):
        denom = (1, 2, 3, 10)[trial % 4]
        tris = rng.integers(-20, 15 * denom, size=(int(rng.integers(1, 6)), 3, 2)) / denom
        if trial % 7 == 0:
            tris[0, 2] = tris[0, 1]  # a degenerate triangle
        got = rasterize_triangles(tris, 13, 11)
        np.testing.assert_array_equal(got, _reference_raster(tris, 13, 11), err_msg=f"trial {trial}: {tris.tolist()}")
