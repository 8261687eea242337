"""A tiny hand-written LDraw library: parts/, parts/s/, p/, LDConfig.ldr (all names in mixed case on purpose)."""

from __future__ import annotations

import numpy as np
import pytest

LDCONFIG = """0 LDraw.org Configuration File
0 !COLOUR Black                                                 CODE   0   VALUE #1B2A34   EDGE #2B4354
0 !COLOUR Blue                                                  CODE   1   VALUE #1E5AA8   EDGE #333333
0 !COLOUR Green                                                 CODE   2   VALUE #00852B   EDGE #333333
0 !COLOUR Red                                                   CODE   4   VALUE #B40000   EDGE #333333
0 !COLOUR Yellow                                                CODE  14   VALUE #FAC80A   EDGE #333333
0 !COLOUR Light_Bluish_Grey                                     CODE  71   VALUE #A0A5A9   EDGE #333333
0 !COLOUR Trans_Clear                                           CODE  47   VALUE #FCFCFC   EDGE #C3C3C3   ALPHA 128
0 !COLOUR Chrome_Gold                                           CODE 334   VALUE #DFC176   EDGE #B3B3B3   CHROME
0 !COLOUR Main_Colour                                           CODE  16   VALUE #FFFF80   EDGE #333333
0 !COLOUR Edge_Colour                                           CODE  24   VALUE #7F7F7F   EDGE #333333
"""

# unit square in the y = 0 plane, x and z in [-1, 1], wound CCW seen from +Y (normal +Y)
SQUARE = """0 Square Test Primitive
0 BFC CERTIFY CCW
4 16 1 0 1 1 0 -1 -1 0 -1 -1 0 1
2 24 1 0 1 1 0 -1
"""


def ref(colour, matrix, offset, name) -> str:
    m = np.asarray(matrix, float).ravel()
    nums = " ".join(f"{x:g}" for x in [*offset, *m])
    return f"1 {colour} {nums} {name}"


def face(normal, centre, u, v, name="SQUARE.DAT", colour=16) -> str:
    """A type-1 line placing the square primitive with its +Y normal turned to ``normal`` (a proper transform)."""
    normal, u, v = (np.asarray(x, float) for x in (normal, u, v))
    m = np.column_stack([u, normal, v])
    if np.linalg.det(m) < 0:
        m = np.column_stack([v, normal, u])
    return ref(colour, m, centre, name)


def half_box() -> str:
    """Right half (x in [0, 10]) of a 20 x 24 x 40 box, open at x = 0, certified, outward normals; uses a CW
    section and an INVERTNEXT on purpose."""
    lines = ["0 Test Box Half", "0 BFC CERTIFY CCW"]
    lines.append(face((0, -1, 0), (5, 0, 0), (5, 0, 0), (0, 0, 20)))  # top (y = 0, -Y is up/out)
    lines.append(face((0, 1, 0), (5, 24, 0), (5, 0, 0), (0, 0, 20)))  # bottom
    lines.append(face((0, 0, -1), (5, 12, -20), (5, 0, 0), (0, 12, 0)))  # back
    lines.append("0 BFC INVERTNEXT")  # front: placed facing inwards, then inverted
    lines.append(face((0, 0, -1), (5, 12, 20), (5, 0, 0), (0, 12, 0)))
    # +x side written directly, clockwise seen from outside (+X), in a CW section
    lines += ["0 BFC CW", "4 16 10 0 -20 10 0 20 10 24 20 10 24 -20", "0 BFC CCW"]
    return "\n".join(lines) + "\n"


BOX_PART = """0 Test Box  20 x 24 x 40
0 Name: 9999.dat
0 !LDRAW_ORG Part UPDATE 2026-01
0 BFC CERTIFY CCW
1 16 0 0 0 1 0 0 0 1 0 0 0 1 s\\9999S01.DAT
0 the left half is the right half mirrored in x
1 16 0 0 0 -1 0 0 0 1 0 0 0 1 s/9999s01.dat
2 24 -10 0 -20 10 0 -20
5 24 -10 0 -20 10 0 -20 0 0 0 1 1 1
"""

# a second part sharing the sub-file and the primitive (for the cache test): the box moved up by 24
TALL_PART = """0 Test Box Twice
0 BFC CERTIFY CCW
1 16 0 0 0 1 0 0 0 1 0 0 0 1 s\\9999s01.dat
1 16 0 -24 0 1 0 0 0 1 0 0 0 1 9999.dat
"""

COLOUR_PART = """0 Colour Test
0 BFC CERTIFY CCW
3 4 0 0 0 0 0 10 10 0 0
3 16 0 0 0 0 0 10 10 0 0
3 24 0 0 0 0 0 10 10 0 0
1 24 0 0 0 1 0 0 0 1 0 0 0 1 square.dat
1 2 0 5 0 1 0 0 0 1 0 0 0 1 square.dat
"""

UNCERTIFIED_PART = """0 No BFC
3 16 0 0 0 0 0 10 10 0 0
"""

NOCLIP_PART = """0 Partly Two-Sided
0 BFC CERTIFY CCW
3 16 0 0 0 0 0 10 10 0 0
0 BFC NOCLIP
3 16 0 0 0 0 0 10 10 0 0
1 16 0 0 0 1 0 0 0 1 0 0 0 1 square.dat
0 BFC CLIP
3 16 0 0 0 0 0 10 10 0 0
"""

# a certified sub-file used from an uncertified file: everything becomes uncertified
UNCERT_PARENT = """0 Uncertified Parent
1 16 0 0 0 1 0 0 0 1 0 0 0 1 square.dat
"""

MISSING_SUB = """0 Broken Part
0 BFC CERTIFY CCW
1 16 0 0 0 1 0 0 0 1 0 0 0 1 s\\gone.dat
"""

HIGH_RES = "0 Square High-Res\n0 BFC CERTIFY CCW\n3 16 1 0 1 1 0 -1 -1 0 -1\n3 16 1 0 1 -1 0 -1 -1 0 1\n"


@pytest.fixture
def ldraw_dir(tmp_path):
    root = tmp_path / "LDraw"
    (root / "PARTS" / "S").mkdir(parents=True)
    (root / "P" / "48").mkdir(parents=True)
    (root / "LDConfig.ldr").write_text(LDCONFIG)
    (root / "P" / "Square.dat").write_text(SQUARE)
    (root / "P" / "48" / "square.dat").write_text(HIGH_RES)
    (root / "PARTS" / "S" / "9999s01.dat").write_text(half_box())
    (root / "PARTS" / "9999.dat").write_text(BOX_PART)
    (root / "PARTS" / "9998.DAT").write_text(TALL_PART)
    (root / "PARTS" / "8888.dat").write_text(COLOUR_PART)
    (root / "PARTS" / "6666.dat").write_text(UNCERTIFIED_PART)
    (root / "PARTS" / "6665.dat").write_text(NOCLIP_PART)
    (root / "PARTS" / "6664.dat").write_text(UNCERT_PARENT)
    (root / "PARTS" / "7777.dat").write_text(MISSING_SUB)
    return root
