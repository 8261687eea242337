"""LDraw models (``.ldr``, ``.mpd``) as a flat list of placed parts with colours and build steps.

An ``.mpd`` holds several files between ``0 FILE name`` and ``0 NOFILE`` (or the next ``0 FILE``); the first is the
main model. A type-1 line refers to a sub-model if the name is one of those files (or an ``.ldr``/``.mpd`` file next to
the model on disk), and otherwise to a library part. Sub-models are flattened: their parts get the composed
transform and inherit the reference's colour where they use colour 16. Embedded files whose ``0 !LDRAW_ORG`` says
``Part`` (unofficial parts shipped inside an MPD), or ``.dat`` files with polygons of their own, count as parts.

Steps: ``0 STEP`` (and ``0 ROTSTEP``) end a step; steps are numbered from 1 in each file. ``step`` is the main-model
step in which a part enters the assembly (for a part inside a sub-model, the step of the sub-model's reference);
``sub_steps`` holds the steps inside the nested sub-models, outermost first (empty for parts of the main model).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from legodata.core.units import LDU_M
from legodata.errors import LegodataError
from legodata.ldraw.parser import MAIN_COLOUR, LDrawFile, Meta, Polygon, Reference, normalise_name, parse_ldraw

MODEL_SUFFIXES = (".ldr", ".mpd")


@dataclass(frozen=True, eq=False)
class PlacedLDrawPart:
    """A part of a model: ``x_model = R @ x_part + t``; ``R`` (3, 3) as written in the file (det -1 for a mirrored
    part), ``t`` (3,) in metres, both in the LDraw frame (-Y up). ``colour_code`` is 16 where the model leaves the
    colour to the user."""

    part_id: str
    colour_code: int
    R: np.ndarray
    t: np.ndarray
    step: int
    sub_steps: tuple[int, ...] = ()
    submodels: tuple[str, ...] = ()  # names of the sub-models the part sits in, outermost first

    @property
    def t_ldu(self) -> np.ndarray:
        return self.t / LDU_M


def split_mpd(text: str, name: str = "model.ldr") -> list[LDrawFile]:
    """The files of a multi-part document (one file named ``name`` when there is no ``0 FILE`` line)."""
    sections: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    loose: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "0" and words[1].upper() == "FILE":
            fname = line.split(None, 2)[2].strip() if len(words) > 2 else ""
            current = []
            sections.append((fname, current))
        elif len(words) >= 2 and words[0] == "0" and words[1].upper() == "NOFILE":
            current = None
        elif current is not None:
            current.append(line)
        elif not sections:
            loose.append(line)
    if not sections:
        return [parse_ldraw("\n".join(loose), name)]
    return [parse_ldraw("\n".join(lines), fname) for fname, lines in sections]


def _part_id(name: str) -> str:
    key = normalise_name(name)
    return key[:-4] if key.endswith(".dat") else key


class _ModelReader:
    def __init__(self, files: list[LDrawFile], base_dir: Path | None) -> None:
        self.files = {normalise_name(f.name): f for f in files}
        self.main = files[0]
        self.base_dir = base_dir
        self.out: list[PlacedLDrawPart] = []

    def submodel(self, name: str) -> LDrawFile | None:
        key = normalise_name(name)
        f = self.files.get(key)
        if f is not None:
            return None if _is_part(f) else f
        if self.base_dir is not None and key.endswith(MODEL_SUFFIXES):
            path = _find_case_insensitive(self.base_dir, key)
            if path is not None:
                for sub in split_mpd(path.read_text(encoding="utf-8", errors="replace"), key):
                    self.files.setdefault(normalise_name(sub.name), sub)
                return self.files.get(key) or self.files[normalise_name(path.name)]
        return None

    def walk(self, f: LDrawFile, R, t, colour: int, steps: tuple[int, ...], path: tuple[str, ...]) -> None:
        step = 1
        for cmd in f.commands:
            if isinstance(cmd, Meta):
                if cmd.keyword in ("STEP", "ROTSTEP"):
                    step += 1
                continue
            if not isinstance(cmd, Reference):
                continue
            c = colour if cmd.colour == MAIN_COLOUR else cmd.colour
            R2 = R @ cmd.matrix
            t2 = R @ (cmd.offset * LDU_M) + t
            sub = self.submodel(cmd.name)
            if sub is not None:
                key = normalise_name(sub.name)
                if key in path or len(path) > 64:
                    raise LegodataError(f"LDraw model: sub-models reference each other in a loop: {key}")
                self.walk(sub, R2, t2, c, (*steps, step), (*path, key))
            else:
                full = (*steps, step)
                self.out.append(PlacedLDrawPart(_part_id(cmd.name), int(c), R2, t2, full[0], full[1:], path[1:]))


def _is_part(f: LDrawFile) -> bool:
    """An embedded file is a part if its ``!LDRAW_ORG`` says so, or if it is a ``.dat`` with its own polygons."""
    words = f.ldraw_org.lower().split()
    if words:
        return words[0] in ("part", "unofficial_part", "shortcut", "unofficial_shortcut")
    return normalise_name(f.name).endswith(".dat") and any(isinstance(c, Polygon) for c in f.commands)


def _find_case_insensitive(directory: Path, rel: str) -> Path | None:
    path = directory
    for part in rel.split("/"):
        try:
            names = {n.name.lower(): n.name for n in path.iterdir()}
        except OSError:
            return None
        if part.lower() not in names:
            return None
        path = path / names[part.lower()]
    return path if path.is_file() else None


def parse_model(text: str, name: str = "model.ldr", base_dir: str | Path | None = None) -> list[PlacedLDrawPart]:
    """Placed parts of the model in ``text`` (see the module docstring); ``base_dir`` is where external
    ``.ldr`` sub-models are looked up."""
    files = split_mpd(text, name)
    reader = _ModelReader(files, Path(base_dir) if base_dir is not None else None)
    main = files[0]
    reader.walk(main, np.eye(3), np.zeros(3), MAIN_COLOUR, (), (normalise_name(main.name),))
    return reader.out


def load_model(path: str | Path) -> list[PlacedLDrawPart]:
    """Placed parts of the ``.ldr``/``.mpd`` file at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise LegodataError(f"LDraw model {path} not found")
    return parse_model(path.read_text(encoding="utf-8", errors="replace"), path.name, path.parent)
