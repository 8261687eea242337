import os
import subprocess
import sys

import numpy as np
import pytest

from legodata.config import RenderConfig
from legodata.core.mesh import is_watertight
from legodata.core.units import LDU_M
from legodata.errors import LegodataError
from legodata.geometry.symmetry import is_symmetry
from legodata.jobs.render_job import _resolve_parts_and_colours
from legodata.ldraw.colours import parse_ldconfig, parse_ldraw_colour_list
from legodata.parts.catalogue import UnknownPartError, get_part, parse_part_list


def test_get_part_from_library_computes_symmetry(ldraw_dir):
    part = get_part("9999", ldraw_dir=ldraw_dir)
    assert part.info.name == "Test Box 20 x 24 x 40"
    assert part.info.part_id == "9999"
    assert is_watertight(part.mesh)
    lo, hi = part.mesh.bounds()
    np.testing.assert_allclose((hi - lo) / LDU_M, [20, 24, 40], atol=1e-9)
    # a 20 x 24 x 40 box: identity and the half turns about X, Y and Z (found from the mesh)
    assert len(part.symmetry) == 4
    for r, t in zip(part.symmetry.rotations, part.symmetry.translations):
        assert is_symmetry(part.mesh, r, t)
    assert not is_symmetry(part.mesh, np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float))
    assert get_part("9999", ldraw_dir=str(ldraw_dir)) is part  # cached


def test_library_wins_for_ids_it_has_builtins_fill_in(ldraw_dir):
    (ldraw_dir / "PARTS" / "3005.dat").write_text("0 Brick 1 x 1 (library)\n1 16 0 0 0 1 0 0 0 1 0 0 0 1 9999.dat\n")
    lib_part = get_part("3005", ldraw_dir=ldraw_dir)
    assert lib_part.info.name == "Brick 1 x 1 (library)" and lib_part.info.kind == "brick"
    assert len(lib_part.mesh.faces) == 20
    assert get_part("3005").info.name == "Brick 1 x 1"  # no library: the built-in
    assert get_part("3001", ldraw_dir=ldraw_dir) is get_part("3001")  # not in the library: built-in
    with pytest.raises(LegodataError, match=r"'1234.dat' not found in the library; searched .*PARTS"):
        get_part("1234", ldraw_dir=ldraw_dir)
    with pytest.raises(UnknownPartError):
        get_part("9999")


def test_parse_part_list_checks_the_library(ldraw_dir):
    assert parse_part_list("9999, 3001,9999", ldraw_dir) == ("9999", "3001")
    with pytest.raises(LegodataError, match=r"'4321.dat' not found.*searched"):
        parse_part_list("9999,4321", ldraw_dir)
    with pytest.raises(UnknownPartError):
        parse_part_list("9999")


def test_ldconfig_colours():
    from support.ldraw_files import LDCONFIG

    table = parse_ldconfig(LDCONFIG)
    assert table[71].name == "Light Bluish Grey" and table[71].rgb_hex == "#A0A5A9"
    assert table[0].edge_hex == "#2B4354"
    assert table[47].alpha == 128 and not table[47].is_solid
    assert table[334].finish == "CHROME"
    assert [c.code for c in parse_ldraw_colour_list("71, 4,71", table)] == [71, 4]
    assert 47 not in [c.code for c in parse_ldraw_colour_list("all", table)]
    with pytest.raises(LegodataError, match="999"):
        parse_ldraw_colour_list("999", table)
    with pytest.raises(LegodataError, match="line 2"):
        parse_ldconfig("0 header\n0 !COLOUR Bad CODE 3 VALUE #12\n")


def test_render_config_threads_the_library(ldraw_dir, tmp_path):
    cfg = RenderConfig(out=str(tmp_path / "o"), parts="9999,3001", colours="71,4", ldraw_dir=str(ldraw_dir))
    assert cfg.validate().data_settings()["ldraw_dir"] == str(ldraw_dir)
    assert RenderConfig(out="x").data_settings()["ldraw_dir"] is None
    part_ids, colours = _resolve_parts_and_colours(cfg)
    assert part_ids == ("9999", "3001")
    assert [(c.code, c.name) for c in colours] == [(71, "Light Bluish Grey"), (4, "Red")]
    with pytest.raises(LegodataError, match="^--parts: .*'777.dat'"):
        _resolve_parts_and_colours(RenderConfig(out="x", parts="777", ldraw_dir=str(ldraw_dir)))
    with pytest.raises(LegodataError, match="^--colours: .*999"):
        _resolve_parts_and_colours(RenderConfig(out="x", parts="9999", colours="999", ldraw_dir=str(ldraw_dir)))
    with pytest.raises(LegodataError, match="--ldraw-dir"):
        RenderConfig(out="x", ldraw_dir=str(tmp_path / "missing")).validate()


@pytest.mark.parametrize("via", ["flag", "env"])
def test_cli_missing_library_part_is_one_line(ldraw_dir, tmp_path, via):
    args = [sys.executable, "-m", "legodata.cli", "render", "--out", str(tmp_path / "o"), "--parts", "9999,4242"]
    env = {k: v for k, v in os.environ.items() if k != "LDRAWDIR"}
    if via == "flag":
        args += ["--ldraw-dir", str(ldraw_dir)]
    else:
        env["LDRAWDIR"] = str(ldraw_dir)
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2
    err = result.stderr.strip()
    assert "\n" not in err and "4242.dat" in err and str(ldraw_dir / "PARTS") in err


def test_high_res_primitives_reach_the_part_mesh_and_the_manifest(ldraw_dir, tmp_path):
    # a 48-segment stand-in: the square split into 4 triangles about its centre (the built fixture has 2)
    fan = "\n".join(f"3 16 0 0 0 {a} {b}" for a, b in [("1 0 1", "1 0 -1"), ("1 0 -1", "-1 0 -1"),
                                                       ("-1 0 -1", "-1 0 1"), ("-1 0 1", "1 0 1")])  # fmt: skip
    (ldraw_dir / "P" / "48" / "square.dat").write_text("0 Square Fan\n0 BFC CERTIFY CCW\n" + fan + "\n")
    low = get_part("9999", str(ldraw_dir))
    high = get_part("9999", str(ldraw_dir), high_res=True)
    assert len(high.mesh.faces) > len(low.mesh.faces)
    assert np.allclose(high.mesh.vertices.min(0), low.mesh.vertices.min(0))
    assert np.allclose(high.mesh.vertices.max(0), low.mesh.vertices.max(0))
    assert get_part("9999", str(ldraw_dir)) is low  # each setting cached on its own
    cfg = RenderConfig(out=str(tmp_path / "o"), parts="9999", ldraw_dir=str(ldraw_dir), ldraw_hires=True)
    assert cfg.validate().data_settings()["ldraw_hires"] is True
    assert "ldraw_hires" not in RenderConfig(out="x").data_settings()  # older stores resume unchanged


def _circle(n=16):
    a = np.arange(n + 1) * 2 * np.pi / n
    return np.round(np.stack([np.cos(a), np.sin(a)], 1), 6)


def test_round_ldraw_part_from_16_segment_primitives_gets_a_continuous_axis(ldraw_dir):
    # LDraw-style unit primitives (radius 1, cylinder height 1, y down) scaled by the part's type-1 lines
    c = _circle()
    segments = list(zip(c, c[1:]))
    cyli = [f"4 16 {x1:g} 1 {z1:g} {x0:g} 1 {z0:g} {x0:g} 0 {z0:g} {x1:g} 0 {z1:g}" for (x0, z0), (x1, z1) in segments]
    disc = [f"3 16 0 0 0 {x0:g} 0 {z0:g} {x1:g} 0 {z1:g}" for (x0, z0), (x1, z1) in segments]
    (ldraw_dir / "P" / "t4cyli.dat").write_text("0 Test Cylinder 16\n0 BFC CERTIFY CCW\n" + "\n".join(cyli) + "\n")
    (ldraw_dir / "P" / "t4disc.dat").write_text("0 Test Disc 16\n0 BFC CERTIFY CCW\n" + "\n".join(disc) + "\n")
    part = "\n".join(
        ["0 Test Round 1 x 1", "0 BFC CERTIFY CCW", "1 16 0 0 0 10 0 0 0 24 0 0 0 10 t4cyli.dat",
         "1 16 0 0 0 10 0 0 0 1 0 0 0 10 t4disc.dat", "0 BFC INVERTNEXT", "1 16 0 24 0 10 0 0 0 1 0 0 0 10 t4disc.dat"]
    )  # fmt: skip
    (ldraw_dir / "PARTS" / "4444.dat").write_text(part + "\n")
    round_part = get_part("4444", ldraw_dir=ldraw_dir)
    lo, hi = round_part.mesh.bounds()
    np.testing.assert_allclose((hi - lo) / LDU_M, [20, 24, 20], atol=1e-6)
    assert len(round_part.symmetry.continuous_axes) == 1
    axis, _ = round_part.symmetry.continuous_axes[0]
    assert abs(abs(axis[1]) - 1) < 1e-9  # LDraw's vertical axis
    assert len(round_part.symmetry.sampled()) == 72
    assert get_part("9999", ldraw_dir=ldraw_dir).symmetry.continuous_axes == ()  # a box is not round


def _parts_cli(args, env_ldraw=None):
    from typer.testing import CliRunner

    from legodata.cli import app

    env = {"LDRAWDIR": env_ldraw} if env_ldraw else {}
    with pytest.MonkeyPatch.context() as mp:
        if not env_ldraw:
            mp.delenv("LDRAWDIR", raising=False)
        return CliRunner().invoke(app, ["parts", *args], env=env)


def test_parts_command_lists_the_library(ldraw_dir):
    (ldraw_dir / "PARTS" / "5555.dat").write_text("0 ~Moved to 9999\n1 16 0 0 0 1 0 0 0 1 0 0 0 1 9999.dat\n")
    (ldraw_dir / "PARTS" / "10000.dat").write_text("0 =Test Box Alias\n1 16 0 0 0 1 0 0 0 1 0 0 0 1 9999.dat\n")
    r = _parts_cli(["--ldraw-dir", str(ldraw_dir)])
    assert r.exit_code == 0, r.output
    lines = [line.split(None, 1) for line in r.stdout.splitlines()]
    ids = [words[0] for words in lines]
    assert ids == ["6664", "6665", "6666", "7777", "8888", "9998", "9999"]  # numeric order, no ~ or = entries
    assert dict(lines)["9999"] == "Test Box 20 x 24 x 40"
    everything = _parts_cli(["--ldraw-dir", str(ldraw_dir), "--all"]).stdout.split()
    assert "5555" in everything and "10000" in everything
    assert everything.index("9999") < everything.index("10000")
    found = _parts_cli(["--search", "BOX 20", "--limit", "5"], env_ldraw=str(ldraw_dir))
    assert [line.split()[0] for line in found.stdout.splitlines()] == ["9999"]
    assert _parts_cli(["--ldraw-dir", str(ldraw_dir), "--limit", "2"]).stdout.count("\n") == 2
    with_groups = _parts_cli(["--ldraw-dir", str(ldraw_dir), "--search", "box 20", "--symmetry"])
    assert with_groups.exit_code == 0 and with_groups.stdout.split()[-1] == "symmetries=4"  # the box's half turns


def test_parts_command_without_a_library_and_with_a_bad_one(tmp_path):
    builtin = _parts_cli(["--search", "plate"])
    assert builtin.exit_code == 0
    assert {line.split()[0] for line in builtin.stdout.splitlines()} == {"3020", "3022", "3023"}
    bad = _parts_cli(["--ldraw-dir", str(tmp_path / "nowhere")])
    # the CLI entry point prints a LegodataError as one line with exit code 2 (see the subprocess test above)
    assert isinstance(bad.exception, LegodataError)
    assert "nowhere" in str(bad.exception) and "not a directory" in str(bad.exception)
