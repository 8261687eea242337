"""The built-in parts catalogue: LDraw ids, names, meshes (metres, LDraw part frame) and symmetry groups.

Symmetry groups are computed from the meshes on first use (cached), never typed by hand.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

from legodata.core.mesh import Mesh
from legodata.geometry.symmetry import SymmetryGroup, find_symmetry_group
from legodata.parts import builders


@dataclass(frozen=True)
class PartInfo:
    part_id: str
    name: str
    kind: str  # brick | plate | tile | slope (| other: LDraw parts named otherwise)


@dataclass(frozen=True, eq=False)
class Part:
    """A catalogue part: ``mesh`` in metres in the LDraw part frame (-Y up), and its symmetry group."""

    info: PartInfo
    mesh: Mesh
    symmetry: SymmetryGroup

    @property
    def part_id(self) -> str:
        return self.info.part_id


class UnknownPartError(KeyError):
    """A part id that is not in the built-in catalogue. ``str()`` and ``args[0]`` are a one-line message."""

    def __init__(self, part_id: str, known: tuple[str, ...] | list[str] | None = None) -> None:
        self.part_id = part_id
        self.known = tuple(known) if known is not None else tuple(_IDS)
        super().__init__(f"unknown part id {part_id!r}; known part ids: {', '.join(self.known)}")

    def __str__(self) -> str:
        return self.args[0]


def _box(length: int, width: int, height: float, studs: bool = True) -> Callable[[], Mesh]:
    return lambda: builders.box_mesh(length, width, height, studs)


_B, _P = builders.BRICK_HEIGHT, builders.PLATE_HEIGHT
_CATALOGUE: dict[str, tuple[PartInfo, Callable[[], Mesh]]] = {
    "3001": (PartInfo("3001", "Brick 2 x 4", "brick"), _box(4, 2, _B)),
    "3002": (PartInfo("3002", "Brick 2 x 3", "brick"), _box(3, 2, _B)),
    "3003": (PartInfo("3003", "Brick 2 x 2", "brick"), _box(2, 2, _B)),
    "3004": (PartInfo("3004", "Brick 1 x 2", "brick"), _box(2, 1, _B)),
    "3005": (PartInfo("3005", "Brick 1 x 1", "brick"), _box(1, 1, _B)),
    "3010": (PartInfo("3010", "Brick 1 x 4", "brick"), _box(4, 1, _B)),
    "3020": (PartInfo("3020", "Plate 2 x 4", "plate"), _box(4, 2, _P)),
    "3022": (PartInfo("3022", "Plate 2 x 2", "plate"), _box(2, 2, _P)),
    "3023": (PartInfo("3023", "Plate 1 x 2", "plate"), _box(2, 1, _P)),
    "3039": (PartInfo("3039", "Slope Brick 45 2 x 2", "slope"), builders.slope45_2x2_mesh),
    "3069b": (PartInfo("3069b", "Tile 1 x 2", "tile"), _box(2, 1, _P, studs=False)),
}
_IDS = tuple(sorted(_CATALOGUE))


def part_ids() -> tuple[str, ...]:
    """All built-in part ids, sorted."""
    return _IDS


def list_parts() -> list[PartInfo]:
    """Catalogue entries sorted by id."""
    return [_CATALOGUE[pid][0] for pid in _IDS]


def get_part(part_id: str, ldraw_dir: str | os.PathLike | None = None, high_res: bool = False) -> Part:
    """The part ``part_id`` with its mesh and symmetry group (built once, then cached).

    With ``ldraw_dir`` (an LDraw library: the folder holding ``parts/`` and ``p/``), the library's geometry wins for
    every id it has, and built-in ids it lacks fall back to the built-in meshes. Without it, only built-in ids exist
    (``LDRAWDIR`` is read by the CLI, not here). A part missing from both raises :class:`LegodataError` naming the
    file looked for and the search path. ``high_res`` resolves primitives in the library's ``p/48/`` first.
    """
    if ldraw_dir is None:
        return _builtin_part(part_id)
    from legodata.ldraw.library import get_library

    library = get_library(ldraw_dir, high_res)
    if part_id not in _CATALOGUE or library.has_part(part_id):
        return _ldraw_part(library.root, part_id, high_res)
    return _builtin_part(part_id)


@functools.lru_cache(maxsize=64)
def _builtin_part(part_id: str) -> Part:
    if part_id not in _CATALOGUE:
        raise UnknownPartError(part_id, _IDS)
    info, build = _CATALOGUE[part_id]
    mesh = build()
    return Part(info, mesh, find_symmetry_group(mesh))


_KINDS = {"brick": "brick", "plate": "plate", "tile": "tile", "slope": "slope"}


@functools.lru_cache(maxsize=256)
def _ldraw_part(root, part_id: str, high_res: bool) -> Part:
    from legodata.ldraw.library import get_library

    library = get_library(root, high_res)
    mesh = library.part_mesh(part_id)  # raises LDrawFileNotFoundError (a LegodataError) when missing
    name = library.part_title(part_id)
    words = name.split()
    kind = _KINDS.get(words[0].lower(), "other") if words else "other"
    return Part(PartInfo(part_id, name, kind), mesh, find_symmetry_group(mesh))


def parse_part_list(text: str, ldraw_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """``"3001,3003, 3039"`` -> ids in the given order (duplicates dropped); ``"all"`` -> every built-in id.

    With ``ldraw_dir``, ids that are not built in are checked against the LDraw library (a missing one raises
    :class:`LegodataError` naming the file looked for and the search path).
    """
    text = text.strip()
    if text.lower() == "all":
        return _IDS
    library = None
    if ldraw_dir is not None:
        from legodata.ldraw.library import get_library, part_file_name

        library = get_library(ldraw_dir)
    ids: list[str] = []
    for raw in text.split(","):
        pid = raw.strip()
        if not pid:
            continue
        if library is not None:
            if not library.has_part(pid) and pid not in _CATALOGUE:
                raise library.not_found(part_file_name(pid))
        elif pid not in _CATALOGUE:
            raise UnknownPartError(pid, _IDS)
        if pid not in ids:
            ids.append(pid)
    return tuple(ids)
