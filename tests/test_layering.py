"""The package structure: no import cycle between packages nor between modules (packages' ``__init__`` re-exports
aside), and ``legodata.core`` imports nothing else of ours.

Imports are read from the source (also the lazy ones inside functions: a cycle dodged by a lazy import is still
a cycle). A node is a subpackage (``legodata.publish``) or a top-level module (``legodata.cli``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import legodata

ROOT = Path(legodata.__file__).parent


def _node(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 2 and (ROOT / parts[1]).is_dir():
        return ".".join(parts[:2])
    if len(parts) >= 2 and (ROOT / f"{parts[1]}.py").is_file():
        return ".".join(parts[:2])
    return "legodata"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``legodata...`` module the file imports, at any depth of the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "legodata"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name.split(".")[0] == "legodata":
                out.add(name)
                out |= {
                    f"{name}.{a.name}" for a in node.names if (ROOT.parent / name.replace(".", "/") / a.name).is_dir()
                }
    return out


def package_graph() -> dict[str, set[str]]:
    """``{node: nodes it imports}`` over every module of the package."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        src = _node(_module_name(path))
        deps = {_node(m) for m in _imports(path)} - {src}
        graph.setdefault(src, set()).update(deps)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_find_cycles_sees_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_packages():
    graph = package_graph()
    assert "legodata.core" in graph and "legodata.publish" in graph, sorted(graph)
    assert find_cycles(graph) == []


def test_core_imports_nothing_else_of_legodata():
    for path in sorted((ROOT / "core").rglob("*.py")):
        outside = {m for m in _imports(path) if not m.startswith("legodata.core")}
        assert not outside, f"{path.name} imports {sorted(outside)}"


def _module_of(name: str) -> str | None:
    """``name`` (a dotted import target) as a module of the package: a ``.py`` file or a package's ``__init__``."""
    path = ROOT.parent / name.replace(".", "/")
    if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
        return name
    return None


def module_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}`` over every module of the package; ``from legodata.train import data``
    counts as importing ``legodata.train.data``, lazy and type-checking imports included."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        src = _module_name(path)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("legodata"):
                targets = [f"{node.module}.{a.name}" for a in node.names]
                found = [m for m in map(_module_of, targets) if m]
                deps |= set(found) if len(found) == len(targets) else {node.module, *found}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("legodata.")}
        graph[src] = {m for m in deps if _module_of(m) and m != src}
    return graph


def test_no_import_cycle_between_modules():
    graph = module_graph()
    assert "legodata.train.tasks" in graph["legodata.train.loop"], graph["legodata.train.loop"]
    facades = {m for m in graph if (ROOT.parent / m.replace(".", "/") / "__init__.py").is_file()}
    inner = {m: deps - facades for m, deps in graph.items() if m not in facades}  # __init__ re-exports aside
    assert find_cycles(inner) == []
