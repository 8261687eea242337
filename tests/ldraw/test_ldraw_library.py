import numpy as np
import pytest
from support.ldraw_files import SQUARE, half_box

from legodata.core.mesh import is_watertight
from legodata.core.units import LDU_M
from legodata.errors import LegodataError
from legodata.ldraw.library import LDrawFileNotFoundError, LDrawLibrary, get_library
from legodata.ldraw.parser import flatten, parse_ldraw

BOX_VOLUME_LDU3 = 20 * 24 * 40


def test_box_from_nested_and_mirrored_subfiles(ldraw_dir):
    lib = LDrawLibrary(ldraw_dir)
    mesh = lib.part_mesh("9999")
    lo, hi = (b / LDU_M for b in mesh.bounds())
    np.testing.assert_allclose(lo, [-10, 0, -20], atol=1e-9)
    np.testing.assert_allclose(hi, [10, 24, 20], atol=1e-9)
    # 8 corners + 4 on the x = 0 seam after welding; 2 halves x 5 quads x 2 triangles
    assert len(mesh.vertices) == 12
    assert len(mesh.faces) == 20
    assert is_watertight(mesh)
    # outward normals everywhere, including the mirrored half, the INVERTNEXT face and the CW-section face
    assert mesh.volume() / LDU_M**3 == pytest.approx(BOX_VOLUME_LDU3, rel=1e-9)
    assert lib.geometry("9999.dat").certified.all()


def test_mirroring_flips_winding(ldraw_dir):
    lib = LDrawLibrary(ldraw_dir)
    half = lib.geometry("s/9999s01.dat")
    mirror = np.diag([-1.0, 1.0, 1.0])
    flipped = half.placed(16, mirror, np.zeros(3), invert=False, certified=True)
    # mirroring plus the flipped winding keeps each face normal pointing away from the box centre
    for tris in (half.triangles, flipped.triangles):
        n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
        outward = tris.mean(axis=1) - np.array([0.0, 12.0, 0.0])
        assert (np.einsum("ij,ij->i", n, outward) > 0).all()
    # without the flip the mirrored half would be inside out; INVERTNEXT on a mirror cancels the flip
    double = half.placed(16, mirror, np.zeros(3), invert=True, certified=True)
    np.testing.assert_allclose(double.triangles, half.triangles @ mirror)


def test_bfc_invertnext_and_cw_each_matter():
    # dropping INVERTNEXT or the CW switch makes exactly that face point inwards
    text = half_box()
    square = flatten(parse_ldraw(SQUARE, "square.dat"), resolve=None)
    for broken in (text.replace("0 BFC INVERTNEXT\n", ""), text.replace("0 BFC CW\n", "")):
        assert broken != text
        geo = flatten(parse_ldraw(broken, "half.dat"), lambda name: square)
        tris = geo.triangles
        n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
        outward = tris.mean(axis=1) - np.array([0.0, 12.0, 0.0])
        assert (np.einsum("ij,ij->i", n, outward) < 0).sum() == 2  # one quad


def test_uncertified_and_noclip(ldraw_dir):
    lib = LDrawLibrary(ldraw_dir)
    assert not lib.geometry("6666.dat").certified.any()
    assert lib.geometry("6665.dat").certified.tolist() == [True, False, False, False, True]
    # a certified primitive used from an uncertified file is not certified there
    assert not lib.geometry("6664.dat").certified.any()
    assert lib.geometry("square.dat").certified.all()


def test_colour_inheritance_and_edge_colour(ldraw_dir):
    lib = LDrawLibrary(ldraw_dir)
    geo = lib.geometry("8888.dat")
    # tri 4, tri 16, tri 24, square referenced with 24 (2 tris), square referenced with 2 (2 tris)
    assert geo.colours.tolist() == [4, 16, 16, 16, 16, 2, 2]
    assert geo.edge.tolist() == [False, False, True, True, True, False, False]
    placed = geo.placed(1, np.eye(3), np.zeros(3), invert=False, certified=True)
    assert placed.colours.tolist() == [4, 1, 1, 1, 1, 2, 2]
    hexes = [lib.resolve_colour(c, e) for c, e in zip(placed.colours, placed.edge)]
    assert hexes == ["#B40000", "#1E5AA8", "#333333", "#333333", "#333333", "#00852B", "#00852B"]
    # a colour-16 reference inside a reference with colour 14 inherits 14 (two levels of nesting)
    box = lib.geometry("9999.dat").placed(14, np.eye(3), np.zeros(3), invert=False, certified=True)
    assert set(box.colours.tolist()) == {14}
    assert lib.resolve_colour(0x2FF8000) == "#FF8000"
    assert lib.resolve_colour(16, main=4) == "#B40000"
    assert lib.resolve_colour(999) is None


def test_case_insensitive_and_backslash_lookup(ldraw_dir):
    lib = LDrawLibrary(ldraw_dir)
    assert lib.find("S\\9999S01.DAT") == ldraw_dir / "PARTS" / "S" / "9999s01.dat"
    assert lib.find("9999s01.dat") == ldraw_dir / "PARTS" / "S" / "9999s01.dat"  # parts/s/ is on the path
    assert lib.find("SQUARE.dat") == ldraw_dir / "P" / "Square.dat"
    assert lib.find("48\\Square.dat") == ldraw_dir / "P" / "48" / "square.dat"
    assert lib.has_part("9998") and lib.has_part("9998.dat") and not lib.has_part("1234")
    assert lib.part_title("9999") == "Test Box 20 x 24 x 40"


def test_high_res_primitives_are_optional(ldraw_dir):
    assert len(LDrawLibrary(ldraw_dir).geometry("square.dat")) == 2
    hi = LDrawLibrary(ldraw_dir, high_res=True)
    assert hi.find("square.dat") == ldraw_dir / "P" / "48" / "square.dat"
    assert hi.file("square.dat").title == "Square High-Res"


def test_missing_files_name_the_file_and_search_path(ldraw_dir):
    lib = LDrawLibrary(ldraw_dir)
    with pytest.raises(LDrawFileNotFoundError) as info:
        lib.part_mesh("7777")
    msg = str(info.value)
    assert "s\\gone.dat" in msg and "7777.dat" in msg
    assert str(ldraw_dir / "PARTS") in msg and str(ldraw_dir / "P") in msg
    assert "\n" not in msg
    with pytest.raises(LegodataError, match=r"'1234.dat'.*searched .*PARTS"):
        lib.part_mesh("1234")
    with pytest.raises(LegodataError, match="not a directory"):
        LDrawLibrary(ldraw_dir / "nope")


def test_each_file_is_parsed_once_per_library(ldraw_dir):
    lib = LDrawLibrary(ldraw_dir)
    lib.part_mesh("9999")
    lib.part_mesh("9998")  # shares s/9999s01.dat and square.dat, and contains 9999.dat itself
    lib.part_mesh("9999")
    assert dict(lib.parse_counts) == {"9999.dat": 1, "s/9999s01.dat": 1, "square.dat": 1, "9998.dat": 1}
    assert len(lib.part_mesh("9998").faces) == 10 + 20  # a half box and the whole box above it
    assert get_library(ldraw_dir) is get_library(str(ldraw_dir))


def test_reference_loop_is_an_error(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.dat").write_text("0 A\n1 16 0 0 0 1 0 0 0 1 0 0 0 1 b.dat\n")
    (tmp_path / "parts" / "b.dat").write_text("0 B\n1 16 0 0 0 1 0 0 0 1 0 0 0 1 A.DAT\n")
    with pytest.raises(LegodataError, match="loop: a.dat -> b.dat -> a.dat"):
        LDrawLibrary(tmp_path).part_mesh("a")


def test_bad_line_names_file_and_line():
    with pytest.raises(LegodataError, match=r"x.dat line 2: .*type 3"):
        parse_ldraw("0 title\n3 16 0 0 0 1 1\n", "x.dat")
