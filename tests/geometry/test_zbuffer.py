"""The z-buffer's masks and depth against an independent ray cast through every pixel centre."""

import numpy as np
from support.raycast import boundary_band, raycast_depth, raycast_instances

from legodata.core.rotations import random_rotations
from legodata.geometry.zbuffer import clip_near, depth_units, surface_maps
from legodata.parts.catalogue import get_part
from legodata.scene.camera import intrinsics_from_fov, look_at_w2c
from legodata.scene.ground_truth import rasterize_triangles


def _scene(seed: int, width: int, height: int):
    """Real part meshes over a table slab (label 0) seen from above at an angle; camera-frame triangles."""
    rng = np.random.default_rng(seed)
    K = intrinsics_from_fov(width, height, 50.0)
    K[0, 2] += 0.3  # an off-centre principal point
    R_w2c, t_w2c = look_at_w2c(np.array([0.02, -0.09, 0.13]), np.zeros(3))
    parts = []
    for k, (pid, R) in enumerate(zip(("3001", "3039", "3023", "3005"), random_rotations(rng, 4)), start=1):
        mesh = get_part(pid).mesh
        t = np.array([rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02), rng.uniform(0.03, 0.05)])  # above the table
        world = mesh.triangles @ R.T + t
        parts.append((k, world @ R_w2c.T + t_w2c))
    s = 0.5  # the table top z = 0 reaches behind the camera: near-plane clipping matters
    quad = np.array([[-s, -s, 0.0], [s, -s, 0.0], [s, s, 0.0], [-s, s, 0.0]])
    table = np.array([quad[[0, 1, 2]], quad[[0, 2, 3]]]) @ R_w2c.T + t_w2c
    return K, parts, table


def test_masks_and_depth_equal_the_ray_cast_at_every_pixel_off_the_edges():
    width, height = 96, 72
    K, parts, table = _scene(0, width, height)
    tris = np.concatenate([table] + [t for _, t in parts])
    labels = np.concatenate([np.zeros(len(table), int)] + [np.full(len(t), k) for k, t in parts])
    got = surface_maps(tris, labels, K, width, height)

    ids, part_depth, _ = raycast_instances(parts, K, width, height)
    table_depth = raycast_depth(table, K, width, height)
    ids = np.where(table_depth < part_depth, 0, ids)  # the table hides what is below it
    depth = np.minimum(table_depth, part_depth)
    assert (ids > 0).sum() > 300 and len(np.unique(ids)) >= 4
    # pixel centres only: disagreement is possible at most where a centre lies on an edge, never inside a region
    assert not ((got.labels != ids) & ~boundary_band(ids)).any()
    assert (got.labels != ids).sum() <= 2
    hit = np.isfinite(depth)
    np.testing.assert_array_equal(np.isfinite(got.depth), hit)
    inside = hit & ~boundary_band(ids)
    assert np.abs(got.depth[inside] - depth[inside]).max() < 1e-9


def test_an_unoccluded_part_covers_exactly_its_silhouette():
    width, height = 80, 60
    K, parts, _ = _scene(1, width, height)
    k, tris = parts[0]
    got = surface_maps(tris, np.full(len(tris), k), K, width, height)
    uv = (tris @ K.T)[:, :, :2] / tris[:, :, 2:3]
    np.testing.assert_array_equal(got.labels == k, rasterize_triangles(uv, width, height))


def test_batches_and_triangle_order_do_not_change_the_result():
    width, height = 64, 48
    K, parts, table = _scene(2, width, height)
    tris = np.concatenate([table] + [t for _, t in parts])
    labels = np.concatenate([np.zeros(len(table), int)] + [np.full(len(t), k) for k, t in parts])
    whole = surface_maps(tris, labels, K, width, height)
    small = surface_maps(tris, labels, K, width, height, max_fragments=37)
    np.testing.assert_array_equal(whole.labels, small.labels)
    np.testing.assert_array_equal(whole.depth, small.depth)
    flipped = surface_maps(tris[:, ::-1], labels, K, width, height)  # the other winding
    np.testing.assert_array_equal(whole.labels, flipped.labels)
    np.testing.assert_allclose(whole.depth, flipped.depth, rtol=1e-12)


def test_near_clipping_keeps_the_front_and_drops_the_back():
    tri = np.array([[[0.0, 0.0, -1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]])  # one corner behind the camera
    front, labels = clip_near(tri, np.array([7]), near=0.5)
    assert front.shape == (2, 3, 3) and (front[:, :, 2] >= 0.5 - 1e-12).all() and (labels == 7).all()
    back, _ = clip_near(-tri, np.array([7]), near=0.5)  # two corners behind
    assert back.shape == (1, 3, 3) and (back[:, :, 2] >= 0.5 - 1e-12).all()
    assert clip_near(tri - [0, 0, 5], np.array([7]))[0].shape == (0, 3, 3)


def test_depth_units_are_rounded_and_zero_where_nothing():
    d = np.array([[np.inf, 0.12344, 0.12346, 7.0]])
    np.testing.assert_array_equal(depth_units(d, 1e-4), [[0, 1234, 1235, 0]])
