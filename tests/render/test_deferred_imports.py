"""Deferred imports: a placeholder inside the block, the real module on first use, nothing left behind."""

import importlib
import sys

from legodata_render.deferred_imports import deferred


def _package(tmp_path, monkeypatch):
    pkg = tmp_path / "heavypkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("LOADED = True\n")
    (pkg / "sub" / "__init__.py").write_text("def triple(x):\n    return 3 * x\n\nclass Thing:\n    size = 7\n")
    (tmp_path / "user_mod.py").write_text("from heavypkg.sub import Thing, triple\nimport heavypkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("heavypkg", "heavypkg.sub", "user_mod"):
        sys.modules.pop(name, None)


def test_deferred_modules_load_on_first_use_and_leave_no_placeholder(tmp_path, monkeypatch):
    _package(tmp_path, monkeypatch)
    with deferred(("heavypkg",)):
        user = importlib.import_module("user_mod")
        assert sys.modules["heavypkg"].LOADED is not True  # a placeholder: its names are references for later
    assert "heavypkg" not in sys.modules and "heavypkg.sub" not in sys.modules
    assert user.triple(5) == 15  # the call imports the real module
    assert user.Thing.size == 7
    assert sys.modules["heavypkg.sub"].triple(2) == 6 and sys.modules["heavypkg"].LOADED
    assert importlib.import_module("heavypkg").LOADED


def test_other_and_already_imported_modules_are_untouched(tmp_path, monkeypatch):
    _package(tmp_path, monkeypatch)
    real = importlib.import_module("heavypkg")
    with deferred(("heavypkg", "json")):
        import json

        import heavypkg

        assert heavypkg is real and heavypkg.LOADED and json.dumps([1]) == "[1]"
        assert importlib.import_module("textwrap").dedent("  a") == "a"
