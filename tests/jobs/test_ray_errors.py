"""The Ray executor's one-line errors: Ray not installed, a cluster address nothing answers at, a malformed address,
--address without --executor ray. None of them leaves a store behind."""

from __future__ import annotations

import subprocess
import sys

import pytest

from legodata.config import RenderConfig
from legodata.errors import LegodataError
from legodata.jobs.import_log import run_import
from legodata.jobs.render_job import run_render

ARGS = ["--scenes", "1", "--views", "1", "--resolution", "32", "--parts", "3003", "--preset", "fast", "--quiet"]


def render_cli(out, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "legodata.cli", "render", "--out", str(out), *ARGS, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_ray_not_installed_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as without the extra
    with pytest.raises(LegodataError) as err:
        run_render(RenderConfig(out=str(tmp_path / "s"), scenes=1, executor="ray"), progress=False)
    assert str(err.value) == '--executor ray: ray is not installed; install it with: pip install "legodata[ray]"'
    with pytest.raises(LegodataError, match=r"legodata\[ray\]"):
        run_import(tmp_path / "log", tmp_path / "i", executor="ray")
    assert not (tmp_path / "s").exists() and not (tmp_path / "i").exists()


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("127.0.0.1:1", "--address 127.0.0.1:1: no Ray cluster answers there"),
        ("no-port", "--address 'no-port': expected auto or HOST:PORT"),
    ],
)
def test_unreachable_or_malformed_address_is_one_line(tmp_path, address, says):
    out = tmp_path / "s"
    r = render_cli(out, "--executor", "ray", "--address", address)
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("legodata: error: ") and says in line
    assert not out.exists()


def test_address_needs_the_ray_executor(tmp_path):
    r = render_cli(tmp_path / "s", "--address", "auto")
    assert r.returncode == 2 and "use it with --executor ray" in r.stderr
    with pytest.raises(LegodataError, match="use it with --executor ray"):
        run_import(tmp_path / "log", tmp_path / "i", address="auto")
