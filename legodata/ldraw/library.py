"""An LDraw parts library on disk: file lookup, parsing with a per-library cache, part meshes in metres.

Lookup follows LDraw: a reference such as ``s\\3001s01.dat`` or ``48/4-4cyli.dat`` is searched in ``parts/``,
``parts/s/`` and ``p/`` (``p/48/`` first when ``high_res``), case-insensitively, with ``\\`` or ``/`` separators.
Each file is parsed and flattened at most once per :class:`LDrawLibrary` (``parse_counts`` counts the parses), so
primitives shared by many parts (``stud.dat``) are read once.
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from legodata.core.mesh import Mesh
from legodata.core.units import LDU_M
from legodata.errors import LegodataError
from legodata.ldraw.colours import LDrawColour, load_ldconfig
from legodata.ldraw.parser import Geometry, LDrawFile, flatten, normalise_name, parse_ldraw

WELD_TOL_LDU = 1e-5  # vertices closer than this (after rounding to this grid) are one vertex


class LDrawFileNotFoundError(LegodataError):
    """A file the library does not have. ``str()`` names the file and the search path."""


def part_file_name(part_id: str) -> str:
    """``"3001"`` -> ``"3001.dat"``; ``"3001.DAT"`` -> ``"3001.dat"``."""
    name = normalise_name(part_id)
    return name if name.endswith((".dat", ".ldr")) else name + ".dat"


class LDrawLibrary:
    """The LDraw library rooted at ``root`` (the folder holding ``parts/``, ``p/`` and ``LDConfig.ldr``)."""

    def __init__(self, root: str | Path, high_res: bool = False) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise LegodataError(f"LDraw library {self.root} is not a directory (--ldraw-dir / LDRAWDIR)")
        self.high_res = high_res
        self._listings: dict[Path, dict[str, str]] = {}
        parts = self._child(self.root, "parts")
        prims = self._child(self.root, "p")
        if parts is None:
            raise LegodataError(f"LDraw library {self.root} has no parts/ folder (--ldraw-dir / LDRAWDIR)")
        dirs = [parts, self._child(parts, "s")]
        if prims is not None:
            if high_res:
                dirs.append(self._child(prims, "48"))
            dirs.append(prims)
        self.search_path: tuple[Path, ...] = tuple(d for d in dirs if d is not None)
        self.parse_counts: Counter[str] = Counter()  # file key -> times parsed (1 with the cache)
        self._files: dict[str, LDrawFile] = {}
        self._geometry: dict[str, Geometry] = {}
        self._in_progress: list[str] = []
        self._colours: dict[int, LDrawColour] | None = None

    # --- lookup -------------------------------------------------------------------------------------------------

    def _listing(self, directory: Path) -> dict[str, str]:
        """Lower-case name -> real name of the entries of ``directory`` (listed once per library)."""
        hit = self._listings.get(directory)
        if hit is None:
            try:
                hit = {n.lower(): n for n in sorted(os.listdir(directory))}
            except OSError:
                hit = {}
            self._listings[directory] = hit
        return hit

    def _child(self, directory: Path, name: str) -> Path | None:
        real = self._listing(directory).get(name.lower())
        return directory / real if real is not None else None

    def _resolve_in(self, directory: Path, rel: str) -> Path | None:
        path = directory
        for part in rel.split("/"):
            if not part:
                continue
            nxt = self._child(path, part)
            if nxt is None:
                return None
            path = nxt
        return path if path.is_file() else None

    def find(self, name: str) -> Path | None:
        """The file a reference ``name`` resolves to, or ``None``."""
        rel = normalise_name(name)
        for d in self.search_path:
            hit = self._resolve_in(d, rel)
            if hit is not None:
                return hit
        return None

    def search_path_text(self) -> str:
        return ", ".join(str(d) for d in self.search_path)

    def not_found(self, name: str, referenced_from: str | None = None) -> LDrawFileNotFoundError:
        """The error for a file the library lacks: names the file and the search path."""
        frm = f" (referenced from {referenced_from})" if referenced_from else ""
        return LDrawFileNotFoundError(
            f"LDraw file '{name.strip()}'{frm} not found in the library; searched {self.search_path_text()}"
        )

    def has_part(self, part_id: str) -> bool:
        return self.find(part_file_name(part_id)) is not None

    def list_parts(self, search: str = "", include_aliases: bool = False) -> list[tuple[str, str]]:
        """``(part id, title)`` of every ``parts/*.dat``, sorted by id, reading only each file's first line.

        ``search`` keeps entries whose id or title contains it (case-insensitive). Unless ``include_aliases``,
        entries whose title starts with ``~`` (moved, sub-assembly) or ``=`` (alias) are left out, as LDraw editors
        do in their part pickers.
        """
        parts_dir = self.search_path[0]
        needle = search.lower()
        out = []
        for lower, real in self._listing(parts_dir).items():
            if not lower.endswith(".dat") or not (parts_dir / real).is_file():
                continue
            part_id, title = real[: -len(".dat")], read_title(parts_dir / real)
            if not include_aliases and title.startswith(("~", "=")):
                continue
            if needle and needle not in part_id.lower() and needle not in title.lower():
                continue
            out.append((part_id, title))
        return sorted(out, key=lambda entry: _natural_key(entry[0]))

    # --- parsing (cached) ---------------------------------------------------------------------------------------

    def file(self, name: str, referenced_from: str | None = None) -> LDrawFile:
        """The parsed file ``name`` (parsed once per library)."""
        key = normalise_name(name)
        if key not in self._files:
            path = self.find(key)
            if path is None:
                raise self.not_found(name, referenced_from)
            self.parse_counts[key] += 1
            self._files[key] = parse_ldraw(path.read_text(encoding="utf-8", errors="replace"), key)
        return self._files[key]

    def geometry(self, name: str, referenced_from: str | None = None) -> Geometry:
        """Flattened triangles of ``name`` with all its sub-files, in LDU in its own frame (cached)."""
        key = normalise_name(name)
        if key in self._geometry:
            return self._geometry[key]
        if key in self._in_progress:
            chain = " -> ".join([*self._in_progress, key])
            raise LegodataError(f"LDraw files reference each other in a loop: {chain}")
        f = self.file(name, referenced_from)
        self._in_progress.append(key)
        try:
            geo = flatten(f, lambda sub: self.geometry(sub, key))
        finally:
            self._in_progress.pop()
        self._geometry[key] = geo
        return geo

    # --- parts --------------------------------------------------------------------------------------------------

    def part_title(self, part_id: str) -> str:
        """The part's name from its first line (``"Brick  2 x  4"`` -> ``"Brick 2 x 4"``)."""
        title = " ".join(self.file(part_file_name(part_id)).title.split())
        return title or part_id

    def part_geometry(self, part_id: str) -> Geometry:
        name = part_file_name(part_id)
        if self.find(name) is None:
            raise self.not_found(name)
        return self.geometry(name)

    def part_mesh(self, part_id: str) -> Mesh:
        """The part's triangles welded into a :class:`Mesh` in metres (LDraw part frame, -Y up)."""
        return geometry_to_mesh(self.part_geometry(part_id), LDU_M)

    # --- colours ------------------------------------------------------------------------------------------------

    @property
    def colours(self) -> dict[int, LDrawColour]:
        """Colours from ``LDConfig.ldr`` at the library root (empty if the library has none)."""
        if self._colours is None:
            real = self._listing(self.root).get("ldconfig.ldr")
            self._colours = load_ldconfig(self.root / real) if real else {}
        return self._colours

    def resolve_colour(self, code: int, edge: bool = False, main: int | None = None) -> str | None:
        """``#RRGGBB`` for ``code`` (16 -> ``main``; ``edge`` -> the edge colour), or ``None`` if unknown."""
        if code == 16 and main is not None:
            code = main
        if code >= 0x2000000:  # direct colour 0x2RRGGBB
            return f"#{code & 0xFFFFFF:06X}"
        c = self.colours.get(code)
        if c is None:
            return None
        return c.edge_hex if edge else c.rgb_hex


def read_title(path: Path) -> str:
    """The title of an LDraw file: its first line's comment text (``0 Brick  2 x  4`` -> ``Brick 2 x 4``)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            words = line.split()
            if words:
                return " ".join(words[1:]) if words[0] == "0" else ""
    return ""


def _natural_key(part_id: str) -> tuple:
    """``3001`` before ``3001a`` before ``30010``: digits compared as numbers."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.findall(r"\d+|\D+", part_id))


def weld(triangles: np.ndarray, tol: float = WELD_TOL_LDU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shared vertices for triangle soup ``(K, 3, 3)``: ``(vertices, faces, kept)`` where ``kept`` marks the
    triangles that stay non-degenerate after welding."""
    if not len(triangles):
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, bool)
    pts = triangles.reshape(-1, 3)
    keys = np.round(pts / tol).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    faces = inverse.reshape(-1, 3)
    kept = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return pts[first], faces[kept], kept


def geometry_to_mesh(geo: Geometry, scale: float = LDU_M) -> Mesh:
    """Weld the triangles of ``geo`` (LDU) and scale them (metres by default)."""
    vertices, faces, _ = weld(geo.triangles)
    return Mesh(vertices * scale, faces)


@functools.lru_cache(maxsize=8)
def _cached_library(root: str, high_res: bool) -> LDrawLibrary:
    return LDrawLibrary(root, high_res)


def get_library(root: str | Path, high_res: bool = False) -> LDrawLibrary:
    """The (process-wide cached) library at ``root``, so every part of a run shares one parse cache."""
    return _cached_library(str(Path(root).expanduser().resolve()), high_res)
