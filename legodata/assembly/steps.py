"""An assembly: placed parts in the build frame with the step that adds each one. Pure numpy.

The build frame is the LDraw model frame (-Y up) in metres, so every target pose is the model file's own transform
(``x_build = R @ x_part + t``, ``t`` = the file's offset in LDU times 0.4 mm). Steps are numbered from 1.

LDraw sub-models are flattened in build order, as LPub3D lays out a manual: a sub-model placed in step ``k`` of its
parent is built first, in its own steps, then the parent's own parts of step ``k`` follow. Sub-model parts are
built in place (at their final pose in the main model). A sub-model referenced several times in the same parent
step is built once per step with all its copies at once (LPub3D's "2x" sub-model pages); references in different
parent steps are separate builds. Empty steps are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from legodata.errors import LegodataError

MIRROR_SUFFIX = "-mirror"  # part id suffix of a part placed with a mirroring transform (det -1)
_MIRROR_X = np.diag([-1.0, 1.0, 1.0])


@dataclass(frozen=True, eq=False)
class AssemblyPart:
    """One part of an assembly: ``x_build = R @ x_part + t`` with ``R`` a proper rotation, ``t`` in metres."""

    part_id: str
    colour_code: int
    R: np.ndarray
    t: np.ndarray
    step: int

    def __post_init__(self) -> None:
        R = np.asarray(self.R, dtype=np.float64).reshape(3, 3)
        t = np.asarray(self.t, dtype=np.float64).reshape(3)
        if not np.allclose(R.T @ R, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise ValueError(f"part {self.part_id}: R must be a proper rotation (mirrored parts use {MIRROR_SUFFIX})")
        if self.step < 1:
            raise ValueError(f"part {self.part_id}: step {self.step} must be >= 1")
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)


@dataclass(frozen=True, eq=False)
class Assembly:
    """Parts in build order (step by step, file order within a step); steps are 1..``n_steps``, none empty."""

    name: str
    parts: tuple[AssemblyPart, ...]
    source: str = ""  # where it came from: "ldraw:<file>" or "random:<seed>/<index>"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        steps = [p.step for p in self.parts]
        if not steps:
            raise ValueError(f"assembly {self.name!r} has no parts")
        if steps != sorted(steps) or sorted(set(steps)) != list(range(1, max(steps) + 1)):
            raise ValueError(f"assembly {self.name!r}: parts must come in step order with steps 1..n, none empty")

    @property
    def n_steps(self) -> int:
        return self.parts[-1].step

    def step_parts(self, n: int) -> list[int]:
        """Indices of the parts added in step ``n``."""
        return [i for i, p in enumerate(self.parts) if p.step == n]

    def built_before(self, n: int) -> list[int]:
        """Indices of the parts in the build before step ``n`` (steps 1..n-1)."""
        return [i for i, p in enumerate(self.parts) if p.step < n]

    def part_keys(self) -> list[str]:
        """The distinct part ids, in order of first use."""
        return list(dict.fromkeys(p.part_id for p in self.parts))


def _proper(part_id: str, R: np.ndarray) -> tuple[str, np.ndarray]:
    """A mirrored placement (det -1) becomes the mirrored part ``<id>-mirror`` (mesh x -> -x) at a rotation."""
    if np.linalg.det(R) < 0:
        return part_id + MIRROR_SUFFIX, R @ _MIRROR_X
    return part_id, R


def _step_key(part) -> tuple:
    """(parent step, sub-model name, its step, ...) of a :class:`~legodata.ldraw.model.PlacedLDrawPart`."""
    key: list = [int(part.step)]
    for name, sub in zip(part.submodels, part.sub_steps):
        key += [name, int(sub)]
    return tuple(key)


def flattened_order(keys: Sequence[tuple]) -> list[tuple]:
    """The distinct step keys in build order: at every step, the sub-models it places (in order of first reference,
    each in its own step order) come before the step's own parts."""
    own = set(keys)
    children: dict[tuple, dict] = {}  # step node -> {sub-model name: {step number}} in first-appearance order
    for key in keys:
        for depth in range(1, len(key), 2):
            node, name, step = key[:depth], key[depth], key[depth + 1]
            children.setdefault(node, {}).setdefault(name, set()).add(step)
    roots = sorted({k[0] for k in keys})
    out: list[tuple] = []

    def visit(node: tuple) -> None:
        for name, steps in children.get(node, {}).items():
            for step in sorted(steps):
                visit((*node, name, step))
        if node in own:
            out.append(node)

    for root in roots:
        visit((root,))
    return out


def from_ldraw_parts(placed: Iterable, name: str, source: str = "") -> Assembly:
    """An assembly from :func:`legodata.ldraw.model.load_model`'s placed parts (see the module docstring)."""
    placed = list(placed)
    if not placed:
        raise LegodataError(f"LDraw model {name}: no parts")
    keys = [_step_key(p) for p in placed]
    rank = {key: n for n, key in enumerate(flattened_order(keys), 1)}
    order = sorted(range(len(placed)), key=lambda i: (rank[keys[i]], i))
    parts = []
    for i in order:
        p = placed[i]
        part_id, R = _proper(p.part_id, np.asarray(p.R, float))
        parts.append(AssemblyPart(part_id, int(p.colour_code), R, np.asarray(p.t, float), rank[keys[i]]))
    return Assembly(name, tuple(parts), source)


def load_assembly(path: str | Path) -> Assembly:
    """The assembly of the LDraw model file at ``path`` (``.ldr``, ``.mpd`` or ``.dat`` with ``0 STEP`` lines)."""
    from legodata.ldraw.model import load_model

    path = Path(path)
    return from_ldraw_parts(load_model(path), path.stem, f"ldraw:{path.name}")


def mirrored_mesh(mesh):
    """The mesh of a ``-mirror`` part: x -> -x with the winding flipped (normals stay outward)."""
    from legodata.core.mesh import Mesh

    return Mesh(mesh.vertices @ _MIRROR_X, mesh.faces[:, ::-1])
