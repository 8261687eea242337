import subprocess
import sys

import pytest


def cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "legodata.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_import_does_not_pull_heavy_modules():
    code = (
        "import sys, legodata, legodata.cli, legodata.jobs.render_job;"
        "heavy = [m for m in ('bpy', 'blenderproc', 'torch', 'datasets', 'label_studio_sdk') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_help_lists_commands():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("render", "parts", "colours"):
        assert command in result.stdout


def test_parts_lists_catalogue_with_symmetries():
    result = cli("parts")
    assert result.returncode == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert {"3001", "3003", "3039", "3069b", "3023"} <= set(lines)
    assert "symmetries=2" in lines["3001"] and "symmetries=1" in lines["3039"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--parts", "3001,99999"], "99999"),
        (["--colours", "4,123456"], "123456"),
        (["--orientation", "sideways"], "--orientation"),
        (["--resolution", "3"], "--resolution"),
        (["--shard", "2/2"], "--shard"),
        (["--config", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_render_input_gives_one_line_error(tmp_path, args, needle):
    result = cli("render", "--out", str(tmp_path / "o"), *args)
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.startswith("legodata: error:") and needle in err and "\n" not in err
    assert "Traceback" not in result.stderr
