"""Import a package without paying, at import time, for the heavy libraries it only needs in functions we never call.

BlenderProc 2.8 imports scikit-learn (face slicing), trimesh (mesh export), matplotlib.pyplot (GIF writer) and
scipy.stats (post-processing) at module level: together about 1 s of each render worker's start-up, for code the
worker never runs. Inside :func:`deferred`, importing one of the named modules gives a placeholder; any name taken
from it (``from trimesh import Trimesh``) imports the real module on first use (a call or an attribute), so nothing
breaks if it is used after all. Leaving the block removes the placeholders from ``sys.modules``, so later imports get
the real modules.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager


class _Placeholder(types.ModuleType):
    """Stands for a module during the block; its attributes are :class:`_Later` references."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Later(self.__name__, attr)


class _Later:
    """``module.attr``, imported when first called or looked into."""

    def __init__(self, module: str, attr: str) -> None:
        self._where = (module, attr)

    def _real(self):
        module, attr = self._where
        return getattr(importlib.import_module(module), attr)

    def __call__(self, *args, **kwargs):
        return self._real()(*args, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def __repr__(self) -> str:
        return f"<deferred {'.'.join(self._where)}>"


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, fullname, path, target=None):
        if any(fullname == n or fullname.startswith(n + ".") for n in self.names):
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Placeholder(spec.name)

    def exec_module(self, module) -> None:
        module.__path__ = []  # a package, so that its submodules are deferred too


@contextmanager
def deferred(names: tuple[str, ...]) -> Iterator[None]:
    """Within the block, modules ``names`` (and their submodules) not yet imported are placeholders."""
    finder = _Finder(names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n, m in sys.modules.items() if isinstance(m, _Placeholder)]:
            placeholder = sys.modules.pop(name)
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and getattr(sys.modules[parent], child, None) is placeholder:
                delattr(sys.modules[parent], child)  # the import system set it on the real parent package
