import numpy as np
import pytest

from legodata.core.units import LDU_M
from legodata.errors import LegodataError
from legodata.ldraw.model import load_model, parse_model

RY90 = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float)  # 90 degrees about Y
MIRROR_X = np.diag([-1.0, 1.0, 1.0])

MPD = """0 FILE Main.ldr
0 Main model
0 Name: Main.ldr
1 4 0 0 0 1 0 0 0 1 0 0 0 1 3001.dat
0 STEP
1 2 100 0 0 0 0 1 0 1 0 -1 0 0 SUB.LDR
0 STEP
1 14 0 -24 0 -1 0 0 0 1 0 0 0 1 3003.DAT
0 STEP
0 NOFILE
0 FILE sub.ldr
0 Sub model
1 1 10 0 0 1 0 0 0 1 0 0 0 1 3004.dat
0 STEP
1 16 0 -8 20 1 0 0 0 1 0 0 0 1 s\\3023.dat
0 STEP
1 16 0 -16 0 1 0 0 0 1 0 0 0 1 inner.ldr
0 NOFILE
0 FILE inner.ldr
0 ROTSTEP 0 45 0 ABS
1 16 0 0 0 1 0 0 0 1 0 0 0 1 3005.dat
0 NOFILE
0 FILE 99999.dat
0 Embedded unofficial part
0 !LDRAW_ORG Unofficial_Part
3 16 0 0 0 1 0 0 0 0 1
0 NOFILE
"""


def test_mpd_flattens_submodels_with_transforms_steps_and_colours():
    parts = parse_model(MPD, "main.mpd")
    assert [p.part_id for p in parts] == ["3001", "3004", "s/3023", "3005", "3003"]
    by_id = {p.part_id: p for p in parts}

    p = by_id["3001"]
    assert (p.colour_code, p.step, p.sub_steps, p.submodels) == (4, 1, (), ())
    np.testing.assert_allclose(p.R, np.eye(3))
    np.testing.assert_allclose(p.t, 0)

    p = by_id["3004"]  # inside sub.ldr, which is placed at (100, 0, 0) rotated 90 deg about Y, in main step 2
    assert (p.colour_code, p.step, p.sub_steps, p.submodels) == (1, 2, (1,), ("sub.ldr",))
    np.testing.assert_allclose(p.R, RY90)
    np.testing.assert_allclose(p.t_ldu, RY90 @ [10, 0, 0] + [100, 0, 0], atol=1e-9)
    np.testing.assert_allclose(p.t, (RY90 @ [10, 0, 0] + [100, 0, 0]) * LDU_M, atol=1e-12)

    p = by_id["s/3023"]  # colour 16 inherits the sub-model reference's colour 2
    assert (p.colour_code, p.step, p.sub_steps) == (2, 2, (2,))
    np.testing.assert_allclose(p.t_ldu, RY90 @ [0, -8, 20] + [100, 0, 0], atol=1e-9)

    p = by_id["3005"]  # two levels down; ROTSTEP ends a step too (step 1 of inner is before it)
    assert (p.colour_code, p.step, p.sub_steps, p.submodels) == (2, 2, (3, 2), ("sub.ldr", "inner.ldr"))
    np.testing.assert_allclose(p.t_ldu, RY90 @ [0, -16, 0] + [100, 0, 0], atol=1e-9)

    p = by_id["3003"]  # mirrored placement keeps det -1
    assert (p.colour_code, p.step) == (14, 3)
    np.testing.assert_allclose(p.R, MIRROR_X)
    assert np.linalg.det(p.R) == pytest.approx(-1)
    np.testing.assert_allclose(p.t_ldu, [0, -24, 0])


def test_embedded_part_counts_as_a_part():
    text = MPD.replace("1 14 0 -24 0 -1 0 0 0 1 0 0 0 1 3003.DAT", "1 14 0 -24 0 1 0 0 0 1 0 0 0 1 99999.dat")
    parts = parse_model(text, "main.mpd")
    assert parts[-1].part_id == "99999" and parts[-1].step == 3
    # without the !LDRAW_ORG line, an embedded .dat with its own polygons is still a part
    parts = parse_model(text.replace("0 !LDRAW_ORG Unofficial_Part\n", ""), "main.mpd")
    assert parts[-1].part_id == "99999"


def test_plain_ldr_with_external_submodel_file(tmp_path):
    (tmp_path / "Wing.LDR").write_text("1 15 0 0 0 1 0 0 0 1 0 0 0 1 3020.dat\n0 STEP\n")
    main = tmp_path / "plane.ldr"
    main.write_text(
        "0 Plane\n1 16 0 0 0 1 0 0 0 1 0 0 0 1 3001.dat\n0 STEP\n0 STEP\n1 4 0 -8 0 1 0 0 0 1 0 0 0 1 wing.ldr\n"
    )
    parts = load_model(main)
    assert [(p.part_id, p.colour_code, p.step, p.sub_steps) for p in parts] == [
        ("3001", 16, 1, ()),
        ("3020", 15, 3, (1,)),
    ]
    np.testing.assert_allclose(parts[1].t_ldu, [0, -8, 0])
    with pytest.raises(LegodataError, match="not found"):
        load_model(tmp_path / "nope.ldr")


def test_submodel_loop_is_an_error():
    text = "0 FILE a.ldr\n1 16 0 0 0 1 0 0 0 1 0 0 0 1 b.ldr\n0 FILE b.ldr\n1 16 0 0 0 1 0 0 0 1 0 0 0 1 a.ldr\n"
    with pytest.raises(LegodataError, match="loop"):
        parse_model(text, "x.mpd")
