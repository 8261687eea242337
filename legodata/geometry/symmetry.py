"""Rotational symmetry groups of meshes, found from the geometry (never typed by hand).

A symmetry is a proper rotation ``x -> R x + t`` that maps the mesh surface onto itself. Candidates are the 24
axis-aligned rotations about the centre ``c`` (in the part frame), plus the same 24 expressed in the principal-axis
frame when that frame is not axis-aligned. ``c`` and the principal axes are those of the surface of the convex hull
of the vertices: every symmetry of the surface maps its convex hull onto itself, so ``c`` lies on every symmetry
axis however the surface is tessellated and whatever it holds twice or inside (LDraw parts overlap coplanar
triangles, repeat faces and keep hidden ones; the area-weighted centroid of the triangles themselves then lies off
the axis by far more than the tolerance). A candidate is accepted when every vertex, edge midpoint and face centroid
of the moved mesh lies within ``tol`` of the original surface and vice versa (exact point-to-triangle distances,
Ericson's closest-point method).

A principal axis is continuous (a round part) when any rotation about it is a symmetry, or when the mesh is a
tessellated surface of revolution: exactly 16-fold symmetric about it (LDraw's circles are 16-gons) and moved by at
most a 16-gon's sagitta by the worst rotation, half a segment. A 16-tooth gear has the first but not the second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.core.mesh import Mesh
from legodata.core.rotations import axis_angle_to_matrix, cube_rotations
from legodata.geometry.surface import (
    Surface,
    hull_moments,
    surface_query_points,
)

# Turns (radians: 40.1 and 43.3 degrees) that a round part passes and an n-fold symmetric one does not: for every
# n <= 64 one of them is at least 1.7 degrees from a multiple of 360/n. One turn alone is not enough: 0.7 rad is
# 0.107 degrees from 2/18 of a turn, which the tread of the 18-fold tyre 4084 follows to within 0.019 mm.
CONTINUOUS_TEST_ANGLES = (0.7, 0.7552)
# Circles in LDraw parts are 16-gons (48-gons with p/48): an axis of exact 16-fold symmetry about which the worst
# rotation (half a segment) moves no point farther than a 16-gon's sagitta is a tessellated surface of revolution.
ROUND_MIN_FOLD = 16
# The tolerance is never below 0.02 mm (0.05 LDU). LDraw coordinates are typed with 2 to 4 decimals, so copies of one
# feature (a tilted one rounded in the part frame, a print on a curved face) land up to ~0.016 mm apart on parts that
# are symmetric (bench_ldraw: 3960ps2, 53550, 93252), while the smallest differences that do break a symmetry there
# are 0.054 mm (3010dm0: a 0.1 mm sticker on one face) and 0.2 mm (2972: its two ends differ by 0.5 LDU).
MIN_TOL_M = 2e-5
RELATIVE_TOL = 1e-4  # of the bounding-box diagonal: 0.0012 mm for a 1 x 1 plate, 0.036 mm for a 32 x 32 baseplate


@dataclass(frozen=True, eq=False)
class SymmetryGroup:
    """Finite rotation group of a part: ``x -> rotations[k] @ x + translations[k]`` (metres) maps it onto itself.

    ``rotations[0]`` is the identity. ``continuous_axes`` holds ``(axis, point)`` pairs of axes about which any
    rotation is a symmetry (round parts; empty for all built-in parts). ``rotations`` lists only the exact
    symmetries found among the candidates; :meth:`sampled` adds the continuous ones at a finite step.
    """

    rotations: np.ndarray
    translations: np.ndarray
    continuous_axes: tuple = ()

    def __post_init__(self) -> None:
        r = np.asarray(self.rotations, dtype=np.float64).reshape(-1, 3, 3)
        t = np.asarray(self.translations, dtype=np.float64).reshape(-1, 3)
        if len(r) != len(t) or not len(r):
            raise ValueError("a symmetry group needs as many translations as rotations, and at least the identity")
        if not np.allclose(r[0], np.eye(3), atol=1e-9):
            raise ValueError("the first rotation of a symmetry group must be the identity")
        axes = tuple((np.asarray(a, float), np.asarray(p, float)) for a, p in self.continuous_axes)
        object.__setattr__(self, "rotations", r)
        object.__setattr__(self, "translations", t)
        object.__setattr__(self, "continuous_axes", axes)

    def __len__(self) -> int:
        return len(self.rotations)

    def sampled(self, step_deg: float = 10.0) -> np.ndarray:
        """All rotations, continuous axes sampled every ``step_deg`` degrees (BOP's discretisation): ``(M, 3, 3)``
        with the identity first and no duplicates. Without continuous axes this is ``rotations``."""
        if not self.continuous_axes:
            return self.rotations
        n = max(1, int(np.ceil(360.0 / step_deg)))
        out = list(self.rotations)
        for axis, _ in self.continuous_axes:
            for k in range(1, n):
                spin = axis_angle_to_matrix(axis, 2 * np.pi * k / n)
                out.extend(r @ spin for r in self.rotations)
        unique: list[np.ndarray] = []
        for r in out:  # samples are step_deg apart, so the 1-degree test only merges true duplicates
            if not unique or not _contains(unique, r):
                unique.append(r)
        return np.stack(unique)

    def to_json(self) -> dict:
        return {
            "rotations": np.round(self.rotations, 12).tolist(),
            "translations_m": np.round(self.translations, 12).tolist(),
            "continuous_axes": [
                {"axis": np.round(a, 12).tolist(), "point_m": np.round(p, 12).tolist()} for a, p in self.continuous_axes
            ],
        }

    @staticmethod
    def from_json(d: dict) -> SymmetryGroup:
        axes = tuple(
            (np.asarray(c["axis"], float), np.asarray(c["point_m"], float)) for c in d.get("continuous_axes", [])
        )
        rotations = np.asarray(d["rotations"], float)
        translations = np.asarray(d.get("translations_m", np.zeros((len(rotations), 3))), float)
        return SymmetryGroup(rotations, translations, axes)


# --- exact point-to-triangle distance ------------------------------------------------------------------------------


class _Checker:
    """Accepts rotations about a fixed centre that map the mesh onto itself (both directions).

    Cheap rejection first: ``samples`` cover the surface within ``spacing``, so a point whose nearest sample is
    farther than ``spacing + tol`` is certainly off the surface. Acceptance always uses exact distances.
    """

    def __init__(self, mesh: Mesh, centre: np.ndarray, tol: float) -> None:
        lo, hi = mesh.bounds()
        self.spacing = 0.01 * float(np.linalg.norm(hi - lo))
        self.surface = Surface(mesh, self.spacing)
        points = surface_query_points(mesh)
        self.points = points[np.random.default_rng(0).permutation(len(points))]  # probes spread over the surface
        self.centre = centre
        self.tol = tol

    def surely_off(self, pts: np.ndarray, tol: float) -> bool:
        bound = self.spacing + tol
        for s in (slice(0, 128), slice(128, None)):  # a small probe rejects most wrong candidates
            if (self.surface.nearest_sample(pts[s], 2 * bound) > bound).any():
                return True
        return False

    def translation(self, r: np.ndarray) -> np.ndarray:
        return self.centre - r @ self.centre

    def accepts(self, r: np.ndarray, t: np.ndarray | None = None, tol: float | None = None) -> bool:
        t = self.translation(r) if t is None else np.asarray(t, dtype=np.float64)
        tol = self.tol if tol is None else tol
        r_inv, t_inv = r.T, -r.T @ t
        # moved mesh on original: moved points p' = R p + t must lie on the original surface; original on moved
        # surface <=> R^T (p - t) on the original surface.
        for rot, tr in ((r, t), (r_inv, t_inv)):
            if self.surely_off(self.points @ rot.T + tr, tol):
                return False
        return all(self.surface.all_within(self.points @ rot.T + tr, tol) for rot, tr in ((r, t), (r_inv, t_inv)))

    def error(self, r: np.ndarray, t: np.ndarray, cap: float) -> float:
        """How far (metres) ``x -> R x + t`` moves the worst query point off the surface, either way; inf if >= cap."""
        return max(self.surface.max_distance(self.points @ rot.T + tr, cap) for rot, tr in ((r, t), (r.T, -r.T @ t)))

    def is_round_about(self, axis: np.ndarray) -> bool:
        """A surface of revolution about ``axis`` through the centre: exactly, or tessellated (see ROUND_MIN_FOLD)."""
        if all(self.accepts(axis_angle_to_matrix(axis, a)) for a in CONTINUOUS_TEST_ANGLES):
            return True
        if not self.accepts(axis_angle_to_matrix(axis, 2 * np.pi / ROUND_MIN_FOLD)):
            return False
        rel = self.points - self.centre
        radius = float(np.linalg.norm(rel - np.outer(rel @ axis, axis), axis=1).max())
        sagitta = radius * (1 - np.cos(np.pi / ROUND_MIN_FOLD))
        return self.accepts(axis_angle_to_matrix(axis, np.pi / ROUND_MIN_FOLD), tol=sagitta + self.tol)


def default_tolerance(mesh: Mesh) -> float:
    """1e-4 of the bounding-box diagonal, and at least 0.02 mm (``MIN_TOL_M``, metres)."""
    lo, hi = mesh.bounds()
    return max(RELATIVE_TOL * float(np.linalg.norm(hi - lo)), MIN_TOL_M)


def is_symmetry(
    mesh: Mesh, rotation: np.ndarray, translation: np.ndarray | None = None, tol: float | None = None
) -> bool:
    """True if ``x -> R x + t`` maps the mesh surface onto itself within ``tol``. Without ``translation`` the
    rotation is taken about the centre of :func:`hull_moments`."""
    tol = default_tolerance(mesh) if tol is None else float(tol)
    centre, _ = hull_moments(mesh)
    return _Checker(mesh, centre, tol).accepts(np.asarray(rotation, dtype=np.float64), translation)


SAME_ROTATION_RAD = np.radians(1.0)  # no finite part symmetry has two elements this close


def _contains(rotations: list[np.ndarray], r: np.ndarray) -> bool:
    """``r`` is within SAME_ROTATION_RAD of one of ``rotations``."""
    cos = (np.einsum("kij,ij->k", np.asarray(rotations), r) - 1.0) / 2.0  # trace(A^T r) per element
    return bool((cos > np.cos(SAME_ROTATION_RAD)).any())


def _closed(accepted: list[np.ndarray], checker: _Checker) -> list[np.ndarray]:
    """Add the products of accepted symmetries that the checker also accepts, until the set is a group."""
    grew = True
    while grew and len(accepted) <= 48:
        grew = False
        for a in list(accepted):
            for b in list(accepted):
                ab = a @ b
                if not _contains(accepted, ab) and checker.accepts(ab):
                    accepted.append(ab)
                    grew = True
    return accepted


def find_symmetry_group(mesh: Mesh, tol: float | None = None) -> SymmetryGroup:
    """The rotational symmetry group of ``mesh`` (see the module docstring)."""
    return symmetry_search(mesh, tol).group


@dataclass(frozen=True, eq=False)
class SymmetrySearch:
    """What :func:`symmetry_search` found: the ``group``, and the candidate rotations (about the same centre) that
    fail at ``tol`` but pass at ``loose_tol`` (``near``: rotation, translation and the farthest any point is moved
    off the surface, metres). ``closed`` is False when a product of two accepted rotations failed the test."""

    group: SymmetryGroup
    tol: float
    loose_tol: float | None
    near: tuple = ()
    closed: bool = True


def symmetry_search(mesh: Mesh, tol: float | None = None, loose_factor: float | None = None) -> SymmetrySearch:
    """:func:`find_symmetry_group`, and with ``loose_factor`` also the borderline candidates: those that a tolerance
    ``loose_factor`` times larger would accept."""
    tol = default_tolerance(mesh) if tol is None else float(tol)
    centre, axes = hull_moments(mesh)
    checker = _Checker(mesh, centre, tol)

    cubes = cube_rotations()
    candidates = list(cubes)
    aligned = np.allclose(np.sort(np.abs(axes), axis=0)[:2], 0.0, atol=1e-6)  # every axis has a single non-zero
    if not aligned:
        candidates += [axes @ q @ axes.T for q in cubes]

    accepted = [np.eye(3)]
    rejected = []
    for r in candidates:
        # principal axes a hair off the part axes give near-copies of the exact cube rotations: one element each
        if _contains(accepted, r):
            continue
        if checker.accepts(r):
            accepted.append(r)
        else:
            rejected.append(r)
    accepted = _closed(accepted, checker)
    closed = all(_contains(accepted, a @ b) for a in accepted for b in accepted)
    rotations = np.stack(accepted)
    rotations = np.where(np.abs(rotations - np.round(rotations)) < 1e-12, np.round(rotations), rotations)
    translations = np.stack([checker.translation(r) for r in rotations])
    translations[0] = 0.0

    continuous = []
    for k in range(3):
        axis = axes[:, k]
        if checker.is_round_about(axis):
            continuous.append((axis.copy(), centre.copy()))
    group = SymmetryGroup(rotations, translations, tuple(continuous))

    near = []
    loose = None if loose_factor is None else loose_factor * tol
    if loose is not None:
        seen: list[np.ndarray] = []
        for r in rejected:
            if _contains(accepted, r) or (seen and _contains(seen, r)) or not checker.accepts(r, tol=loose):
                continue
            seen.append(r)
            t = checker.translation(r)
            near.append((r, t, checker.error(r, t, cap=loose)))
    return SymmetrySearch(group, tol, loose, tuple(near), closed)
