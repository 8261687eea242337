"""Random stud-grid builds: seeded, every part on studs of the build, nothing overlapping (checked on the meshes)."""

import numpy as np
import pytest
from support.mesh_overlap import shared_volume_points

from legodata.assembly.random_builds import GRID_PARTS, BuildConfig, Placement, build_rng, random_build, yaw_matrix
from legodata.core.units import LDU_M
from legodata.parts.catalogue import get_part

STUD_TIP_LDU = -4.0


def stud_centres(part_id: str) -> np.ndarray:
    """Stud centres (x, z) in LDU of a part mesh, from its vertices at the stud tips (y = -4 LDU)."""
    v = get_part(part_id).mesh.vertices / LDU_M
    lo = v.min(axis=0)[[0, 2]]
    tips = v[np.isclose(v[:, 1], STUD_TIP_LDU, atol=1e-6)][:, [0, 2]]
    # studs sit 10 + 20 k LDU from the body's edge; a stud's vertices lie within 6 LDU of its centre
    snapped = lo + 10.0 + np.round((tips - lo - 10.0) / 20.0) * 20.0
    return np.unique(snapped, axis=0)


def placed_triangles(p) -> np.ndarray:
    return get_part(p.part_id).mesh.triangles @ p.R.T + p.t


def test_grid_table_matches_the_meshes():
    for pid, g in GRID_PARTS.items():
        lo, hi = get_part(pid).mesh.bounds()
        size = (hi - lo) / LDU_M
        assert np.allclose(size[[0, 2]], [20 * g.length, 20 * g.width]), pid
        assert np.isclose(hi[1] / LDU_M, 8 * g.height), pid  # body from y = 0 down to the underside
        p = Placement(pid, 0, 0, 0, 0)
        expected = {(x, z) for x, z in p.stud_cells(g)}
        found = {(int((x + 10 * g.length) // 20), int((z + 10 * g.width) // 20)) for x, z in stud_centres(pid)}
        assert found == expected, pid


def test_same_seed_same_builds_and_different_seeds_differ():
    cfg = BuildConfig()

    def key(a):
        return [(p.part_id, p.colour_code, p.step, p.R.tobytes(), p.t.tobytes()) for p in a.parts]

    assert key(random_build(build_rng(7, 3), cfg)) == key(random_build(build_rng(7, 3), cfg))
    assert key(random_build(build_rng(7, 3), cfg)) != key(random_build(build_rng(7, 4), cfg))
    assert key(random_build(build_rng(7, 3), cfg)) != key(random_build(build_rng(8, 3), cfg))


def test_builds_respect_their_configuration():
    cfg = BuildConfig(parts_per_build=(5, 8), parts_per_step=(1, 2))
    for i in range(40):
        a = random_build(build_rng(1, i), cfg)
        assert 5 <= len(a.parts) <= 8 or not any(GRID_PARTS[p.part_id].studs for p in a.parts[-1:])
        assert a.parts[0].step == 1 and len(a.step_parts(1)) == 1  # the base alone in step 1
        assert GRID_PARTS[a.parts[0].part_id].is_plate
        assert all(1 <= len(a.step_parts(n)) <= 2 for n in range(2, a.n_steps + 1))
        assert all(p.colour_code in cfg.colours for p in a.parts)
        for p in a.parts:  # turns about the vertical axis only, by quarter turns
            assert any(np.array_equal(p.R, yaw_matrix(k)) for k in range(4))


def test_every_part_sits_on_studs_of_the_build_before_it():
    for i in range(30):
        a = random_build(build_rng(11, i), BuildConfig())
        studs = []  # (x, tip y, z) in LDU of the studs placed so far
        for k, p in enumerate(a.parts):
            v = get_part(p.part_id).mesh.vertices @ p.R.T + p.t
            v = v / LDU_M
            bottom = v[:, 1].max()
            lo, hi = v.min(axis=0), v.max(axis=0)
            if k == 0:
                assert np.isclose(bottom, 0.0)  # the base lies on the ground
            else:
                under = [
                    s for s in studs
                    if np.isclose(s[1], bottom + STUD_TIP_LDU) and lo[0] < s[0] < hi[0] and lo[2] < s[2] < hi[2]
                ]  # fmt: skip
                assert under, f"build {i} part {k} ({p.part_id}) does not sit on a stud"
            for x, z in stud_centres(p.part_id):
                c = p.R @ np.array([x, STUD_TIP_LDU, z]) * LDU_M + p.t
                studs.append(tuple(c / LDU_M))


def test_no_two_parts_of_a_build_intersect():
    checked = 0
    for i in range(3):
        a = random_build(build_rng(5, i), BuildConfig(parts_per_build=(6, 8)))
        tris = [placed_triangles(p) for p in a.parts]
        for x in range(len(tris)):
            for y in range(x):
                shared = shared_volume_points(tris[x] / LDU_M, tris[y] / LDU_M, spacing=2.0)
                assert shared == 0, f"build {i}: parts {y} and {x} share volume"
                checked += 1
    assert checked > 30


def test_the_overlap_check_sees_an_overlap():
    a = get_part("3003").mesh.triangles / LDU_M
    assert shared_volume_points(a, a + np.array([10.0, 0.0, 0.0]), spacing=3.0) > 100
    assert shared_volume_points(a, a + np.array([0.0, -24.0, 0.0]), spacing=3.0) == 0  # stacked: studs in tubes


@pytest.mark.parametrize("bad", [("9999",), ("3069b",)])
def test_unusable_part_sets_are_refused(bad):
    with pytest.raises(ValueError, match="random builds need"):
        random_build(build_rng(0, 0), BuildConfig(part_ids=bad))
