import numpy as np
import pytest

from legodata.core.mesh import is_watertight, read_ply, write_obj, write_ply
from legodata.core.units import LDU_M
from legodata.parts.builders import polygon_area
from legodata.parts.catalogue import Part, PartInfo, UnknownPartError, get_part, list_parts, parse_part_list

ALL_IDS = ["3001", "3002", "3003", "3004", "3005", "3010", "3020", "3022", "3023", "3039", "3069b"]

# (x half-extent, top y, bottom y, z half-extent) in LDU
BOUNDS = {
    "3001": (40, -4, 24, 20),
    "3002": (30, -4, 24, 20),
    "3003": (20, -4, 24, 20),
    "3004": (20, -4, 24, 10),
    "3005": (10, -4, 24, 10),
    "3010": (40, -4, 24, 10),
    "3020": (40, -4, 8, 20),
    "3022": (20, -4, 8, 20),
    "3023": (20, -4, 8, 10),
    "3039": (20, -4, 24, 20),
    "3069b": (20, 0, 8, 10),
}

STUD = polygon_area(6.0) * 4  # one stud: 16-gon of radius 6, 4 high
TUBE = polygon_area(8.0) - polygon_area(6.0)  # tube cross-section
POST = polygon_area(4.0)


def expected_box_volume(length, width, height, n_studs, n_tubes, n_posts):
    """Solid volume in LDU^3 of a hollow brick/plate worked out by hand."""
    X, Z = 20 * length, 20 * width
    body = X * Z * height - (X - 8) * (Z - 8) * (height - 4)
    return body + n_studs * STUD + (n_tubes * TUBE + n_posts * POST) * (height - 4)


def ldu(mesh_value):
    return np.asarray(mesh_value) / LDU_M


def test_list_parts_sorted_with_kinds_and_names():
    infos = list_parts()
    assert [i.part_id for i in infos] == ALL_IDS
    assert all(isinstance(i, PartInfo) for i in infos)
    kinds = {i.part_id: i.kind for i in infos}
    assert kinds["3001"] == "brick" and kinds["3023"] == "plate" and kinds["3069b"] == "tile"
    assert kinds["3039"] == "slope"
    assert {i.part_id: i.name for i in infos}["3001"] == "Brick 2 x 4"


@pytest.mark.parametrize("part_id", ALL_IDS)
def test_bounding_box_is_ldraw_exact(part_id):
    part = get_part(part_id)
    assert isinstance(part, Part)
    lo, hi = part.mesh.bounds()
    x, top, bottom, z = BOUNDS[part_id]
    np.testing.assert_allclose(ldu(lo), [-x, top, -z], atol=1e-6)
    np.testing.assert_allclose(ldu(hi), [x, bottom, z], atol=1e-6)


@pytest.mark.parametrize("part_id", ALL_IDS)
def test_mesh_is_closed_outward_and_non_degenerate(part_id):
    mesh = get_part(part_id).mesh
    assert is_watertight(mesh)
    assert mesh.volume() > 0
    t = mesh.triangles
    areas = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    assert areas.min() > 1e-6 * LDU_M**2
    assert mesh.vertices.dtype == np.float64 and mesh.faces.dtype == np.int64


@pytest.mark.parametrize(
    "part_id, expected",
    [
        ("3001", expected_box_volume(4, 2, 24, 8, 3, 0)),
        ("3002", expected_box_volume(3, 2, 24, 6, 2, 0)),
        ("3003", expected_box_volume(2, 2, 24, 4, 1, 0)),
        ("3004", expected_box_volume(2, 1, 24, 2, 0, 1)),
        ("3005", expected_box_volume(1, 1, 24, 1, 0, 0)),
        ("3010", expected_box_volume(4, 1, 24, 4, 0, 3)),
        ("3020", expected_box_volume(4, 2, 8, 8, 3, 0)),
        ("3022", expected_box_volume(2, 2, 8, 4, 1, 0)),
        ("3023", expected_box_volume(2, 1, 8, 2, 0, 1)),
        ("3069b", expected_box_volume(2, 1, 8, 0, 0, 1)),
        # slope: pentagon profile (40 x 24 minus the 20 x 20 / 2 cut) x 40, minus the cavity (32 x 20 minus the
        # 16 x 16 / 2 cut) x 32, plus two studs
        ("3039", (40 * 24 - 200) * 40 - (32 * 20 - 128) * 32 + 2 * STUD),
    ],
)
def test_volume_matches_hand_computed_solid(part_id, expected):
    assert get_part(part_id).mesh.volume() / LDU_M**3 == pytest.approx(expected, rel=1e-6)


def test_hand_volume_of_2x4_brick_in_numbers():
    # body 80*40*24 - cavity 72*32*20, 8 studs, 3 tubes 20 high: ~39390 LDU^3 (~2.52 cm^3)
    assert get_part("3001").mesh.volume() / LDU_M**3 == pytest.approx(39390.08, abs=0.05)


def test_studs_tubes_and_posts_where_ldraw_puts_them():
    v = ldu(get_part("3001").mesh.vertices)
    # stud tops: 8 centre vertices at y = -4
    centres = v[(np.abs(v[:, 1] + 4) < 1e-9) & (np.abs(np.hypot(v[:, 0] % 20 - 10, v[:, 2] % 20 - 10)) < 1e-9)]
    assert sorted(map(tuple, np.round(centres[:, [0, 2]]).tolist())) == sorted(
        (x, z) for x in (-30, -10, 10, 30) for z in (-10, 10)
    )
    # tube outer rings (radius 8) at x = -20, 0, 20, z = 0 reach the bottom (y = 24)
    bottom = v[np.abs(v[:, 1] - 24) < 1e-9]
    for cx in (-20, 0, 20):
        r = np.hypot(bottom[:, 0] - cx, bottom[:, 2])
        assert np.sum(np.abs(r - 8) < 1e-6) == 16 and np.sum(np.abs(r - 6) < 1e-6) == 16
    # 1 x 2 plate: one solid post of radius 4 at x = 0
    w = ldu(get_part("3023").mesh.vertices)
    bottom = w[np.abs(w[:, 1] - 8) < 1e-9]
    r = np.hypot(bottom[:, 0], bottom[:, 2])
    assert np.sum(np.abs(r - 4) < 1e-6) == 16
    # the tile has nothing above y = 0
    assert ldu(get_part("3069b").mesh.vertices)[:, 1].min() == pytest.approx(0.0)


def test_slope_face_is_45_degrees_and_front_lip_is_4_ldu():
    mesh = get_part("3039").mesh
    t = ldu(mesh.triangles)
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    slope = np.isclose(n, [0, -np.sqrt(0.5), -np.sqrt(0.5)], atol=1e-9).all(axis=1)
    area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    assert area[slope].sum() == pytest.approx(40 * 20 * np.sqrt(2))
    front = np.isclose(n, [0, 0, -1], atol=1e-9).all(axis=1) & np.isclose(t[..., 2], -20).all(axis=1)
    assert area[front].sum() == pytest.approx(40 * 4)
    assert np.allclose(t[front][..., 2], -20) and t[front][..., 1].min() == pytest.approx(20)


def test_get_part_is_cached():
    assert get_part("3001") is get_part("3001")


def test_unknown_part_error_names_the_id_and_known_ids():
    with pytest.raises(UnknownPartError) as info:
        get_part("9999")
    message = str(info.value)
    assert "'9999'" in message and "3001" in message and "3069b" in message and "\n" not in message
    assert info.value.args[0] == message and info.value.part_id == "9999"
    assert isinstance(info.value, KeyError)


def test_parse_part_list():
    assert parse_part_list("3001,3003, 3039") == ("3001", "3003", "3039")
    assert parse_part_list(" all ") == tuple(ALL_IDS)
    assert parse_part_list("3001,,3001") == ("3001",)
    assert parse_part_list("") == ()
    with pytest.raises(UnknownPartError, match="'30x1'"):
        parse_part_list("3001,30x1")


def test_ply_round_trip(tmp_path):
    mesh = get_part("3039").mesh
    path = tmp_path / "3039.ply"
    write_ply(mesh, path)
    back = read_ply(path)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_allclose(back.vertices, mesh.vertices, atol=1e-9)
    assert back.volume() == pytest.approx(mesh.volume(), rel=1e-5)
    write_ply(mesh, tmp_path / "mm.ply", scale=1000.0)
    np.testing.assert_allclose(read_ply(tmp_path / "mm.ply").vertices, mesh.vertices * 1000, atol=1e-4)


def test_obj_writes_right_counts(tmp_path):
    mesh = get_part("3001").mesh
    path = tmp_path / "3001.obj"
    write_obj(mesh, path)
    lines = path.read_text().splitlines()
    assert sum(line.startswith("v ") for line in lines) == len(mesh.vertices)
    faces = [line for line in lines if line.startswith("f ")]
    assert len(faces) == len(mesh.faces)
    idx = np.array([[int(k) for k in line.split()[1:]] for line in faces])
    np.testing.assert_array_equal(idx - 1, mesh.faces)
