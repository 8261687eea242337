"""LDraw file syntax (line types 0-5) and flattening of a file with its sub-files into coloured triangles.

Flattening rules (LDraw spec, BFC extension):

- type 1 ``1 c x y z a b c d e f g h i file`` places ``file`` with ``p -> M p + (x, y, z)``; transforms compose down
  the reference tree. A reference whose matrix has a negative determinant (a mirror) reverses winding, and so does
  ``0 BFC INVERTNEXT`` on the line before it; both XOR down the tree.
- types 3/4: triangles and quads (a quad ``1 2 3 4`` becomes ``1 2 3`` and ``1 3 4``); types 2/5 (lines) are ignored.
- ``0 BFC CERTIFY [CCW|CW]`` certifies a file (default winding CCW); ``0 BFC CW``/``CCW`` change the winding,
  ``0 BFC NOCLIP``/``CLIP`` switch culling off/on, ``0 BFC NOCERTIFY`` marks the file as not certified. Triangles of
  certified files (with every file above them certified and clipping) come out counter-clockwise seen from outside;
  the others keep their file order and are flagged ``certified=False`` (their orientation is unknown).
- colour 16 is "the colour of the referencing line" and 24 its edge colour: a triangle keeps ``(code, edge)`` where
  ``code == 16`` is still to be inherited and ``edge`` asks for the edge colour of whatever ``code`` becomes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from legodata.errors import LegodataError

MAIN_COLOUR = 16
EDGE_COLOUR = 24


@dataclass(frozen=True, eq=False)
class Reference:
    """A type-1 line: ``colour`` (16/24 relative), ``matrix`` (3, 3) and ``offset`` (3,) in LDU, sub-file ``name``."""

    colour: int
    matrix: np.ndarray
    offset: np.ndarray
    name: str


@dataclass(frozen=True, eq=False)
class Polygon:
    """A type-3 (3 points) or type-4 (4 points) line, ``points`` (k, 3) in LDU."""

    colour: int
    points: np.ndarray


@dataclass(frozen=True)
class Meta:
    """A type-0 line: ``keyword`` is its first word upper-cased (``BFC``, ``STEP``, ...), ``args`` the rest."""

    keyword: str
    args: tuple[str, ...]
    text: str


Command = Reference | Polygon | Meta


@dataclass(frozen=True, eq=False)
class LDrawFile:
    """One parsed LDraw file (or one ``0 FILE`` section of an MPD)."""

    name: str
    title: str  # the text of the first line's comment ("Brick  2 x  4")
    commands: tuple[Command, ...]

    @property
    def ldraw_org(self) -> str:
        """The ``0 !LDRAW_ORG`` value (``"Part UPDATE 2004-03"``), or ``""``."""
        for c in self.commands:
            if isinstance(c, Meta) and c.keyword == "!LDRAW_ORG":
                return " ".join(c.args)
        return ""


def parse_colour_code(text: str) -> int:
    """``"4"`` -> 4; direct colours ``"0x2FF0000"`` -> their integer value."""
    return int(text, 0) if text.lower().startswith("0x") else int(text)


def normalise_name(name: str) -> str:
    """Case-insensitive, ``/``-separated form of a sub-file reference (``S\\3001S01.DAT`` -> ``s/3001s01.dat``)."""
    return name.strip().replace("\\", "/").lower()


def parse_ldraw(text: str, name: str = "") -> LDrawFile:
    """Parse LDraw text into commands. Raises :class:`LegodataError` naming ``name`` and the line on bad syntax."""
    commands: list[Command] = []
    title = ""
    first = True
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        kind = parts[0]
        try:
            if kind == "0":
                rest = line[1:].strip()
                if first:
                    title = rest
                if len(parts) > 1:
                    commands.append(Meta(parts[1].upper(), tuple(parts[2:]), rest))
            elif kind == "1":
                v = [float(x) for x in parts[2:14]]
                if len(v) != 12 or len(parts) < 15:
                    raise ValueError("type 1 needs colour, 12 numbers and a file name")
                # the file name may contain spaces: take everything after the 14th token
                fname = line.split(None, 14)[14]
                commands.append(
                    Reference(parse_colour_code(parts[1]), np.array(v[3:]).reshape(3, 3), np.array(v[:3]), fname)
                )
            elif kind in ("3", "4"):
                k = int(kind)
                v = [float(x) for x in parts[2 : 2 + 3 * k]]
                if len(v) != 3 * k:
                    raise ValueError(f"type {k} needs colour and {3 * k} numbers")
                commands.append(Polygon(parse_colour_code(parts[1]), np.array(v).reshape(k, 3)))
            elif kind in ("2", "5"):
                pass  # edge and conditional lines: not part of the mesh
            else:
                raise ValueError(f"unknown line type {kind!r}")
        except (ValueError, IndexError) as exc:
            where = f"{name} line {lineno}" if name else f"line {lineno}"
            raise LegodataError(f"LDraw file {where}: {exc}: {line[:80]!r}") from None
        first = False
    return LDrawFile(name, title, tuple(commands))


@dataclass(frozen=True, eq=False)
class Geometry:
    """Flattened triangles of a file in its own frame: ``triangles`` (K, 3, 3) LDU; per triangle ``colours`` (16 =
    still to inherit), ``edge`` (use the edge colour of ``colours``), ``certified`` (winding is CCW-outward)."""

    triangles: np.ndarray
    colours: np.ndarray
    edge: np.ndarray
    certified: np.ndarray

    @staticmethod
    def empty() -> Geometry:
        return Geometry(np.zeros((0, 3, 3)), np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool))

    def __len__(self) -> int:
        return len(self.triangles)

    def placed(self, colour: int, matrix: np.ndarray, offset: np.ndarray, invert: bool, certified: bool) -> Geometry:
        """This geometry referenced by a type-1 line with ``colour`` (16/24 relative) and ``M p + offset``;
        ``invert`` (INVERTNEXT) XOR a mirroring matrix reverses the winding; ``certified`` False un-certifies all."""
        tris = self.triangles @ matrix.T + offset
        if invert ^ bool(np.linalg.det(matrix) < 0):
            tris = tris[:, ::-1]
        line_code, line_edge = (MAIN_COLOUR, True) if colour == EDGE_COLOUR else (colour, False)
        inherit = self.colours == MAIN_COLOUR
        colours = np.where(inherit, line_code, self.colours)
        edge = self.edge | (inherit & line_edge)
        cert = self.certified & certified
        return Geometry(tris, colours, edge, cert)


def concat_geometry(parts: list[Geometry]) -> Geometry:
    if not parts:
        return Geometry.empty()
    return Geometry(
        np.concatenate([g.triangles for g in parts]).reshape(-1, 3, 3),
        np.concatenate([g.colours for g in parts]).astype(np.int64),
        np.concatenate([g.edge for g in parts]).astype(bool),
        np.concatenate([g.certified for g in parts]).astype(bool),
    )


def _switch(words: set[str], on: str, off: str, state: bool) -> bool:
    """A BFC setting after a meta line with ``words``: ``off`` wins over ``on``; neither keeps ``state``."""
    if off in words:
        return False
    return True if on in words else state


def flatten(file: LDrawFile, resolve: Callable[[str], Geometry]) -> Geometry:
    """All triangles of ``file`` with its sub-files (``resolve(name)`` gives a sub-file's flattened geometry)."""
    certified, ccw, clip, invert_next = False, True, True, False
    out: list[Geometry] = []
    tris: list[np.ndarray] = []
    tri_colours: list[int] = []
    tri_cert: list[bool] = []

    def flush() -> None:
        if tris:
            codes = np.array(tri_colours, dtype=np.int64)
            edge = codes == EDGE_COLOUR
            codes = np.where(edge, MAIN_COLOUR, codes)
            out.append(Geometry(np.array(tris), codes, edge, np.array(tri_cert, dtype=bool)))
            tris.clear()
            tri_colours.clear()
            tri_cert.clear()

    for cmd in file.commands:
        if isinstance(cmd, Meta):
            if cmd.keyword != "BFC":
                continue
            words = {a.upper() for a in cmd.args}
            certified = _switch(words, "CERTIFY", "NOCERTIFY", certified)
            ccw = _switch(words, "CCW", "CW", ccw)
            clip = _switch(words, "CLIP", "NOCLIP", clip)
            invert_next = invert_next or "INVERTNEXT" in words
        elif isinstance(cmd, Reference):
            flush()
            sub = resolve(cmd.name)
            out.append(sub.placed(cmd.colour, cmd.matrix, cmd.offset, invert_next, certified and clip))
            invert_next = False
        else:
            invert_next = False
            p = cmd.points
            corners = [p[[0, 1, 2]]] if len(p) == 3 else [p[[0, 1, 2]], p[[0, 2, 3]]]
            for c in corners:
                tris.append(c if (ccw or not certified) else c[::-1])
                tri_colours.append(cmd.colour)
                tri_cert.append(certified and clip)
    flush()
    return concat_geometry(out)
