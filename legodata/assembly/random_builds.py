"""Random stud-grid builds from the built-in parts, like MEPNet's synthetic manuals. Pure numpy, seeded.

A build lives on a grid: x and z in studs (20 LDU), height in plates (8 LDU). The first part (a plate when the
part set has one) is the base and lies on the ground; every later part sits on at least one stud of the build
(the studs of the part below go into its underside), shares no grid cell with another part, and turns only about
the vertical axis. So every build is connected at every step and nothing overlaps. Parts come in steps of one or
a few parts (a part may sit on another part of its own step, as in real manuals).

Coordinates: the LDraw frame (-Y up), metres; the ground is y = 0 and the base is centred on the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.assembly.steps import Assembly, AssemblyPart
from legodata.core.units import LDU_M, PLATE_HEIGHT_LDU, STUD_PITCH_LDU


@dataclass(frozen=True)
class GridPart:
    """A part's grid shape: ``length`` studs along its X, ``width`` along its Z, ``height`` in plates, and its studs
    as (x, z) cell offsets from the footprint's min corner (in the part's own orientation)."""

    part_id: str
    length: int
    width: int
    height: int
    studs: tuple[tuple[int, int], ...]

    @property
    def is_plate(self) -> bool:
        return self.height == 1 and bool(self.studs)


def _all(length: int, width: int) -> tuple[tuple[int, int], ...]:
    return tuple((i, k) for i in range(length) for k in range(width))


# Shapes of the built-in parts (legodata.parts.catalogue; tests check them against the meshes' stud tips).
GRID_PARTS: dict[str, GridPart] = {
    "3001": GridPart("3001", 4, 2, 3, _all(4, 2)),
    "3002": GridPart("3002", 3, 2, 3, _all(3, 2)),
    "3003": GridPart("3003", 2, 2, 3, _all(2, 2)),
    "3004": GridPart("3004", 2, 1, 3, _all(2, 1)),
    "3005": GridPart("3005", 1, 1, 3, _all(1, 1)),
    "3010": GridPart("3010", 4, 1, 3, _all(4, 1)),
    "3020": GridPart("3020", 4, 2, 1, _all(4, 2)),
    "3022": GridPart("3022", 2, 2, 1, _all(2, 2)),
    "3023": GridPart("3023", 2, 1, 1, _all(2, 1)),
    "3069b": GridPart("3069b", 2, 1, 1, ()),  # a tile: nothing can sit on it
    "3039": GridPart("3039", 2, 2, 3, ((0, 1), (1, 1))),  # 45-degree slope: studs on the back (+Z) row only
}


@dataclass(frozen=True)
class BuildConfig:
    """Knobs of the random builds."""

    part_ids: tuple[str, ...] = tuple(GRID_PARTS)
    colours: tuple[int, ...] = (0, 1, 2, 4, 14, 15, 25, 71, 72, 19)
    parts_per_build: tuple[int, int] = (4, 10)
    parts_per_step: tuple[int, int] = (1, 3)
    attempts: int = 200  # placements tried per part before another part is drawn


def yaw_matrix(quarter_turns: int) -> np.ndarray:
    """Rotation by ``quarter_turns`` x 90 degrees about the LDraw Y axis, with exact integer entries."""
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][quarter_turns % 4]
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)


@dataclass(frozen=True)
class Placement:
    """A part on the grid: footprint min corner (x0, z0) in studs, bottom level in plates, yaw in quarter turns."""

    part_id: str
    x0: int
    z0: int
    level: int
    yaw: int

    def footprint(self, g: GridPart) -> tuple[int, int]:
        """(extent along x, extent along z) in studs."""
        return (g.length, g.width) if self.yaw % 2 == 0 else (g.width, g.length)

    def cells(self, g: GridPart) -> list[tuple[int, int, int]]:
        lx, lz = self.footprint(g)
        return [
            (x, z, y)
            for x in range(self.x0, self.x0 + lx)
            for z in range(self.z0, self.z0 + lz)
            for y in range(self.level, self.level + g.height)
        ]

    def origin_ldu(self, g: GridPart) -> np.ndarray:
        """The part origin (top centre of the body) in LDU, LDraw frame."""
        lx, lz = self.footprint(g)
        x = (self.x0 + lx / 2.0) * STUD_PITCH_LDU
        z = (self.z0 + lz / 2.0) * STUD_PITCH_LDU
        return np.array([x, -(self.level + g.height) * PLATE_HEIGHT_LDU, z])

    def stud_cells(self, g: GridPart) -> list[tuple[int, int]]:
        """The (x, z) grid cells of this part's studs (their tops are at level ``level + height``)."""
        R = yaw_matrix(self.yaw)
        origin = self.origin_ldu(g)
        out = []
        for i, k in g.studs:
            local = np.array(
                [(i + 0.5 - g.length / 2.0) * STUD_PITCH_LDU, 0.0, (k + 0.5 - g.width / 2.0) * STUD_PITCH_LDU]
            )
            world = R @ local + origin
            out.append((int(np.floor(world[0] / STUD_PITCH_LDU)), int(np.floor(world[2] / STUD_PITCH_LDU))))
        return out


class _Grid:
    """Occupied cells and free studs of a growing build."""

    def __init__(self) -> None:
        self.cells: set[tuple[int, int, int]] = set()
        self.studs: dict[tuple[int, int, int], int] = {}  # (x, z, level of the stud's base) -> part index

    def fits(self, p: Placement, g: GridPart) -> bool:
        return not any(c in self.cells for c in p.cells(g))

    def supported(self, p: Placement, g: GridPart) -> bool:
        lx, lz = p.footprint(g)
        return any((x, z, p.level) in self.studs for x in range(p.x0, p.x0 + lx) for z in range(p.z0, p.z0 + lz))

    def add(self, p: Placement, g: GridPart, index: int) -> None:
        self.cells.update(p.cells(g))
        for x, z in p.stud_cells(g):
            self.studs[(x, z, p.level + g.height)] = index

    def free_studs(self) -> list[tuple[int, int, int]]:
        return sorted(s for s in self.studs if s not in self.cells)

    def free_after(self, p: Placement, g: GridPart) -> int:
        """How many studs would stay free with ``p`` added."""
        cells = set(p.cells(g))
        kept = sum(1 for s in self.free_studs() if s not in cells)
        return kept + len(p.stud_cells(g))


def _base(rng: np.random.Generator, cfg: BuildConfig) -> Placement:
    plates = [p for p in cfg.part_ids if GRID_PARTS[p].is_plate]
    pool = plates or [p for p in cfg.part_ids if GRID_PARTS[p].studs]
    pid = pool[int(rng.integers(len(pool)))]
    g, yaw = GRID_PARTS[pid], int(rng.integers(2))
    lx, lz = (g.length, g.width) if yaw == 0 else (g.width, g.length)
    return Placement(pid, -(lx // 2), -(lz // 2), 0, yaw)


def _try_place(rng: np.random.Generator, grid: _Grid, pid: str, attempts: int, last: bool) -> Placement | None:
    """A placement of ``pid`` on a free stud; unless it is the ``last`` part, one that leaves a stud free."""
    g = GRID_PARTS[pid]
    free = grid.free_studs()
    for _ in range(attempts):
        if not free:
            return None
        sx, sz, level = free[int(rng.integers(len(free)))]
        yaw = int(rng.integers(4))
        lx, lz = (g.length, g.width) if yaw % 2 == 0 else (g.width, g.length)
        p = Placement(pid, sx - int(rng.integers(lx)), sz - int(rng.integers(lz)), level, yaw)
        if grid.fits(p, g) and grid.supported(p, g) and (last or grid.free_after(p, g) > 0):
            return p
    return None


def random_placements(rng: np.random.Generator, cfg: BuildConfig) -> list[Placement]:
    """The grid placements of one build, base first."""
    unknown = [p for p in cfg.part_ids if p not in GRID_PARTS]
    if unknown or not any(GRID_PARTS[p].studs for p in cfg.part_ids):
        raise ValueError(f"random builds need built-in parts with studs; unknown: {unknown or 'none'}")
    n = int(rng.integers(cfg.parts_per_build[0], cfg.parts_per_build[1] + 1))
    grid = _Grid()
    placements = [_base(rng, cfg)]
    grid.add(placements[0], GRID_PARTS[placements[0].part_id], 0)
    while len(placements) < n:
        pid = cfg.part_ids[int(rng.integers(len(cfg.part_ids)))]
        p = _try_place(rng, grid, pid, cfg.attempts, last=len(placements) == n - 1)
        if p is None:
            if not grid.free_studs():
                break  # only tiles and slopes on top: the build is complete
            continue
        grid.add(p, GRID_PARTS[pid], len(placements))
        placements.append(p)
    return placements


def _step_sizes(rng: np.random.Generator, n_after_base: int, lo: int, hi: int) -> list[int]:
    sizes = []
    while sum(sizes) < n_after_base:
        sizes.append(min(int(rng.integers(lo, hi + 1)), n_after_base - sum(sizes)))
    return sizes


def random_build(rng: np.random.Generator, cfg: BuildConfig, name: str = "build") -> Assembly:
    """One random build as an :class:`Assembly`: the base in step 1, then steps of ``parts_per_step`` parts."""
    placements = random_placements(rng, cfg)
    colours = [int(cfg.colours[int(rng.integers(len(cfg.colours)))]) for _ in placements]
    sizes = [1] + _step_sizes(rng, len(placements) - 1, *cfg.parts_per_step)
    steps = [s for s, size in enumerate(sizes, 1) for _ in range(size)]
    parts = tuple(
        AssemblyPart(p.part_id, c, yaw_matrix(p.yaw), p.origin_ldu(GRID_PARTS[p.part_id]) * LDU_M, step)
        for p, c, step in zip(placements, colours, steps)
    )
    grid = [{"part_id": p.part_id, "x0": p.x0, "z0": p.z0, "level": p.level, "yaw": p.yaw} for p in placements]
    return Assembly(name, parts, source=f"random:{name}", meta={"grid": grid})


def build_rng(seed: int, index: int) -> np.random.Generator:
    """The independent random stream of build ``index`` under ``seed``."""
    return np.random.default_rng([seed, index, 0x5EB])
