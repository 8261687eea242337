import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    # The package list is explicit (render/ installs as legodata_render); a forgotten entry breaks
    # non-editable installs only, which the editable test environment would not notice.
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "legodata").rglob("__init__.py")} | {
        "legodata_render"
    }
    assert found == listed
