import numpy as np

from legodata.core.rotations import geodesic_angle, is_rotation, random_rotations
from legodata.geometry.so3_grid import grid_neighbours, nearest_angle_to_grid, super_fibonacci_rotations


def test_grid_is_rotations_and_deterministic():
    grid = super_fibonacci_rotations(512)
    assert grid.shape == (512, 3, 3)
    assert all(is_rotation(r) for r in grid)
    assert np.array_equal(grid, super_fibonacci_rotations(512))


def test_grid_covers_so3_evenly():
    grid = super_fibonacci_rotations(4096)
    far = np.degrees(nearest_angle_to_grid(random_rotations(np.random.default_rng(0), 4000), grid))
    # the module's promise: median 8 deg, worst 13 deg; a clumped grid would leave holes far wider than that
    assert np.median(far) < 8.5
    assert far.max() < 14.0
    # no two grid rotations coincide
    trace = np.einsum("aij,bij->ab", grid[:500], grid)
    trace[np.arange(500), np.arange(500)] = -1
    assert np.degrees(np.arccos(np.clip((trace.max(1) - 1) / 2, -1, 1))).min() > 1.0


def test_neighbours_start_with_self_and_grow_in_angle():
    grid = super_fibonacci_rotations(300)
    nb = grid_neighbours(grid, 8)
    assert nb.shape == (300, 8)
    assert np.array_equal(nb[:, 0], np.arange(300))
    for i in (0, 17, 299):
        angles = geodesic_angle(grid[nb[i]], grid[i])
        assert np.all(np.diff(angles) >= -1e-9)
        others = np.delete(geodesic_angle(grid, grid[i]), nb[i])
        assert angles.max() <= others.min() + 1e-9
