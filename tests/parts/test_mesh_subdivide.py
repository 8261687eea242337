import numpy as np
import pytest

from legodata.core.mesh import Mesh, is_watertight, subdivide
from legodata.parts.catalogue import get_part


def _edge_lengths(mesh: Mesh) -> np.ndarray:
    t = mesh.triangles
    return np.linalg.norm(t - np.roll(t, 1, axis=1), axis=2)


@pytest.mark.parametrize("part_id", ["3001", "3039", "3069b"])
def test_subdivide_keeps_the_surface_and_bounds_every_edge(part_id):
    mesh = get_part(part_id).mesh.scaled(1000.0)  # mm
    fine = subdivide(mesh, 2.0)
    assert _edge_lengths(mesh).max() > 2.0  # there was work to do
    assert _edge_lengths(fine).max() <= 2.0 + 1e-9
    assert len(fine.vertices) > 5 * len(mesh.vertices)
    assert fine.area() == pytest.approx(mesh.area(), rel=1e-9)
    assert fine.volume() == pytest.approx(mesh.volume(), rel=1e-9)  # winding kept: still outward
    assert is_watertight(fine)  # no T-junctions: shared edges are split in both triangles
    for lo_hi_fine, lo_hi in zip(fine.bounds(), mesh.bounds()):
        np.testing.assert_allclose(lo_hi_fine, lo_hi, atol=1e-9)
    # a midpoint shared by two triangles is one vertex, not two
    assert len(np.unique(fine.vertices.round(9), axis=0)) == len(fine.vertices)


def test_subdivide_single_triangle_patterns():
    tri = Mesh(np.array([[0.0, 0, 0], [4.0, 0, 0], [0.0, 1.0, 0]]), np.array([[0, 1, 2]]))
    fine = subdivide(tri, 1.2)  # the long edges split, the short one (1.0) never
    normals = np.cross(fine.triangles[:, 1] - fine.triangles[:, 0], fine.triangles[:, 2] - fine.triangles[:, 0])
    assert (normals[:, 2] > 0).all()  # every piece keeps the counter-clockwise winding
    assert fine.area() == pytest.approx(2.0)
    assert _edge_lengths(fine).max() <= 1.2
    assert subdivide(tri, 10.0).faces.tolist() == [[0, 1, 2]]
    with pytest.raises(ValueError):
        subdivide(tri, 0.0)
