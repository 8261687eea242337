"""Logging: the CLI's handler on the ``legodata`` logger (levels, one line per message); library code only logs."""

import ast
import io
import logging
from pathlib import Path

import pytest

from legodata import log

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_logger():
    yield
    log.reset()


def _emit(**kw) -> list[str]:
    stream = io.StringIO()
    log.configure(stream=stream, **kw)
    lib = logging.getLogger("legodata.some.module")
    lib.debug("a debug line")
    lib.info("an info line")
    lib.warning("a warning\nover two lines")
    try:
        raise ValueError("boom")
    except ValueError:
        lib.error("failed", exc_info=True)
    return stream.getvalue().splitlines()


def test_default_level_is_info_one_line_per_message():
    assert _emit() == ["an info line", "warning: a warning over two lines", "error: failed (ValueError: boom)"]


def test_quiet_keeps_warnings_and_errors_only():
    assert _emit(quiet=True) == ["warning: a warning over two lines", "error: failed (ValueError: boom)"]


def test_verbose_adds_debug_and_the_logger_name():
    lines = _emit(verbose=True)
    assert lines[0] == "legodata.some.module: debug: a debug line" and len(lines) == 4


def test_configure_twice_keeps_one_handler_and_leaves_the_root_logger_alone():
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    log.configure()
    log.configure(verbose=True)
    assert len(logging.getLogger("legodata").handlers) == 1
    assert (list(root.handlers), root.level) == before
    log.reset()
    assert logging.getLogger("legodata").handlers == [] and logging.getLogger("legodata").propagate


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            yield node.lineno, owner, name, node


def test_library_code_logs_instead_of_printing_and_never_configures_logging():
    """print / tqdm.write / bar.write only in the CLI; basicConfig or root-logger handlers nowhere."""
    cli_side = {ROOT / "legodata" / "cli.py", ROOT / "legodata" / "log.py"}
    bad = []
    for path in sorted((ROOT / "legodata").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        in_cli = path in cli_side or "commands" in path.relative_to(ROOT / "legodata").parts
        for line, owner, name, node in _calls(tree):
            where = f"{path.relative_to(ROOT)}:{line}"
            if name == "print" and owner == "" and not in_cli:
                bad.append(f"{where}: print()")
            if name == "write" and owner in ("tqdm", "bar") and not in_cli:
                bad.append(f"{where}: {owner}.write()")
            if name == "basicConfig":
                bad.append(f"{where}: logging.basicConfig()")
            if name == "getLogger" and not node.args and not node.keywords:
                bad.append(f"{where}: the root logger")
    assert bad == [], "library code logs: logger = logging.getLogger(__name__); logger.info(...) (see legodata/log.py)"
