"""Assemblies from LDraw models: target poses are the file's transforms, steps in build order, sub-models
flattened as LPub3D lays them out."""

import numpy as np
import pytest
from support.assembly_models import RY90, THREE_STEPS, three_step_ldr

from legodata.assembly.steps import MIRROR_SUFFIX, Assembly, AssemblyPart, flattened_order, load_assembly, mirrored_mesh
from legodata.core.mesh import is_watertight
from legodata.core.units import LDU_M
from legodata.ldraw.model import parse_model
from legodata.parts.catalogue import get_part


def test_three_step_ldr_targets_are_the_file_transforms(tmp_path):
    path = tmp_path / "three_steps.ldr"
    path.write_text(three_step_ldr())
    a = load_assembly(path)
    assert a.name == "three_steps" and a.n_steps == 3
    assert [(p.step, p.colour_code, p.part_id) for p in a.parts] == [(s, c, pid) for s, c, pid, _, _ in THREE_STEPS]
    for p, (_, _, _, offset, R) in zip(a.parts, THREE_STEPS):
        assert np.array_equal(p.R, R)  # exactly, not approximately
        assert np.array_equal(p.t, np.asarray(offset, float) * LDU_M)
    for n in range(1, 4):
        before, now = set(a.built_before(n)), set(a.step_parts(n))
        assert not before & now and before == {i for i, p in enumerate(a.parts) if p.step < n}
        assert now and all(a.parts[i].step == n for i in now)


SUB_TWICE = """0 FILE house.mpd
1 0 0 0 0 1 0 0 0 1 0 0 0 1 3020.dat
0 STEP
1 16 -30 -8 0 1 0 0 0 1 0 0 0 1 pillar.ldr
1 16 30 -8 0 1 0 0 0 1 0 0 0 1 pillar.ldr
1 2 0 -8 0 1 0 0 0 1 0 0 0 1 3023.dat
0 STEP
1 4 0 -80 0 1 0 0 0 1 0 0 0 1 3001.dat
0 STEP
1 16 0 -80 0 0 0 1 0 1 0 -1 0 0 cap.ldr
0 NOFILE
0 FILE pillar.ldr
1 16 0 0 0 1 0 0 0 1 0 0 0 1 3005.dat
0 STEP
1 14 0 -24 0 1 0 0 0 1 0 0 0 1 3005.dat
0 STEP
1 15 0 -48 0 1 0 0 0 1 0 0 0 1 3005.dat
0 NOFILE
0 FILE cap.ldr
1 1 0 -24 0 1 0 0 0 1 0 0 0 1 3023.dat
0 NOFILE
"""


def test_mpd_submodel_used_twice_is_built_in_place_before_its_parent_step():
    a_parts = parse_model(SUB_TWICE, "house.mpd")
    from legodata.assembly.steps import from_ldraw_parts

    a = from_ldraw_parts(a_parts, "house")
    steps = [(p.step, p.part_id, p.colour_code) for p in a.parts]
    # 1 base plate; 2-4 the pillar's three steps, both copies at once (LPub3D's "2x"); 5 the parent step's own
    # plate; 6 the brick; 7 the cap sub-model
    assert steps == [
        (1, "3020", 0),
        (2, "3005", 16), (2, "3005", 16),
        (3, "3005", 14), (3, "3005", 14),
        (4, "3005", 15), (4, "3005", 15),
        (5, "3023", 2),
        (6, "3001", 4),
        (7, "3023", 1),
    ]  # fmt: skip
    tops = [p for p in a.parts if p.step == 4]
    assert sorted(np.round(p.t / LDU_M).tolist()[0] for p in tops) == [-30, 30]
    assert all(np.allclose(p.t / LDU_M, [p.t[0] / LDU_M, -56, 0]) for p in tops)  # -8 (pillar) + -48 (inside)
    cap = a.parts[-1]  # the cap sub-model turned 90 degrees: its plate's transform is composed
    assert np.allclose(cap.R, RY90) and np.allclose(cap.t / LDU_M, [0, -104, 0])


def test_flattened_order_puts_submodel_steps_before_the_parent_step_and_keeps_reference_order():
    keys = [(1,), (2, "b", 1), (2, "a", 1), (2,), (2, "b", 2), (2, "a", 1, "c", 1), (3,)]
    assert flattened_order(keys) == [(1,), (2, "b", 1), (2, "b", 2), (2, "a", 1, "c", 1), (2, "a", 1), (2,), (3,)]


def test_mirrored_placement_becomes_a_mirrored_part_at_a_rotation():
    text = "1 4 0 0 0 -1 0 0 0 1 0 0 0 1 3039.dat\n"
    (p,) = load_assembly_text(text).parts
    assert p.part_id == "3039" + MIRROR_SUFFIX and np.isclose(np.linalg.det(p.R), 1.0)
    mesh = get_part("3039").mesh
    mirrored = mirrored_mesh(mesh)
    assert is_watertight(mirrored) and mirrored.volume() == pytest.approx(mesh.volume())
    # the mirrored part at the proper rotation covers the same points as the original part at the mirroring matrix
    M = np.diag([-1.0, 1.0, 1.0])
    assert np.allclose(np.sort(mirrored.vertices @ p.R.T, axis=0), np.sort(mesh.vertices @ M.T, axis=0))


def load_assembly_text(text):
    from legodata.assembly.steps import from_ldraw_parts

    return from_ldraw_parts(parse_model(text, "m.ldr"), "m")


def test_assembly_checks_its_invariants():
    part = AssemblyPart("3001", 4, np.eye(3), np.zeros(3), 2)
    with pytest.raises(ValueError, match="steps 1..n"):
        Assembly("x", (part,))
    with pytest.raises(ValueError, match="proper rotation"):
        AssemblyPart("3001", 4, np.diag([-1.0, 1, 1]), np.zeros(3), 1)
