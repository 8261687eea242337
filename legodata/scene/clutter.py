"""Seeded placement of distractors around the parts of a scene: they lie on the table against a part (0.5-3 mm from
its outline, so they touch it in the image and occlude it from some views) and never intersect any part. Pure
numpy (and OpenCV's convex hull)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from legodata.core.spec import Distractor
from legodata.scene.distractors import distractor_mesh

GAP_M = (0.0005, 0.003)
ATTEMPTS = 40
BISECTIONS = 10
HULL_STEP_M = 0.001
NEAR_M = GAP_M[1] + 0.001  # clearances are measured exactly up to here


@dataclass(frozen=True)
class KindRange:
    """Size ranges (full extents in metres; see :func:`legodata.scene.distractors.distractor_mesh`) of one kind."""

    kind: str
    x: tuple[float, float]
    y: tuple[float, float]  # None-like (0, 0) = same as x
    z: tuple[float, float]


def footprint_distance(points: np.ndarray, tris_xy: np.ndarray) -> np.ndarray:
    """Distance in the table plane from each of ``points`` (P, 2) to the union of triangles ``tris_xy`` (T, 3, 2);
    0 inside a triangle."""
    pts = np.asarray(points, float).reshape(-1, 1, 2)
    a, b, c = tris_xy[None, :, 0], tris_xy[None, :, 1], tris_xy[None, :, 2]

    def cross(u, v):
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    s1, s2, s3 = cross(b - a, pts - a), cross(c - b, pts - b), cross(a - c, pts - c)
    inside = ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))
    inside &= np.abs(cross(b - a, c - a)) > 1e-16
    best = np.full(len(pts), np.inf)
    for p, q in ((a, b), (b, c), (c, a)):
        d = q - p
        t = np.clip(np.sum((pts - p) * d, -1) / np.maximum(np.sum(d * d, -1), 1e-24), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(p + t[..., None] * d - pts, axis=-1).min(axis=1))
    return np.where(inside.any(axis=1), 0.0, best)


@dataclass(frozen=True)
class Footprint:
    """A part's outline on the table: the convex hull of its vertices projected on z = 0, its edges sampled every
    ``HULL_STEP_M`` (so a thin distractor cannot slip between two samples)."""

    hull: np.ndarray  # (H, 2) convex polygon
    samples: np.ndarray  # (S, 2) points along its edges
    centre: np.ndarray  # (2,)
    radius: float  # of the circle around centre holding the hull

    @staticmethod
    def of(vertices_world: np.ndarray) -> Footprint:
        """The footprint of a part whose world vertices are ``vertices_world``."""
        xy = np.asarray(vertices_world, float)[:, :2]
        hull = cv2.convexHull(xy.astype(np.float32)).reshape(-1, 2).astype(float)
        samples = []
        for p, q in zip(hull, np.roll(hull, -1, axis=0)):
            n = max(1, int(np.ceil(np.linalg.norm(q - p) / HULL_STEP_M)))
            samples.append(p + np.linspace(0.0, 1.0, n, endpoint=False)[:, None] * (q - p))
        centre = (hull.min(axis=0) + hull.max(axis=0)) / 2.0
        return Footprint(hull, np.vstack(samples), centre, float(np.linalg.norm(hull - centre, axis=1).max()))

    def clearance(self, tris_xy: np.ndarray) -> float:
        """Least distance between this outline and the triangles ``tris_xy``, 0 when they overlap; distances beyond
        ``NEAR_M`` come back as ``NEAR_M`` (only the triangles near the outline are measured)."""
        lo, hi = self.hull.min(axis=0) - NEAR_M, self.hull.max(axis=0) + NEAR_M
        near = (tris_xy.min(axis=1) <= hi).all(axis=1) & (tris_xy.max(axis=1) >= lo).all(axis=1)
        if not near.any():
            return NEAR_M
        tris_xy = tris_xy[near]
        d = min(NEAR_M, float(footprint_distance(self.samples, tris_xy).min()))
        corners = tris_xy.reshape(-1, 2)
        if d > 0 and _inside_convex(self.hull, corners).any():
            return 0.0
        return d


def _inside_convex(hull: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which ``points`` lie inside the convex polygon ``hull`` (either winding)."""
    e = np.roll(hull, -1, axis=0) - hull
    rel = points[:, None, :] - hull[None]
    side = e[None, :, 0] * rel[..., 1] - e[None, :, 1] * rel[..., 0]
    return (side > 0).all(axis=1) | (side < 0).all(axis=1)


def rot_z(angle: float) -> np.ndarray:
    """Rotation by ``angle`` radians about the world z axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def sample_size(rng: np.random.Generator, k: KindRange) -> tuple[float, float, float]:
    """Full extents of a new distractor of kind ``k``."""
    x = float(rng.uniform(*k.x))
    y = float(rng.uniform(*k.y)) if k.y != (0.0, 0.0) else x
    return x, y, float(rng.uniform(*k.z))


def place_distractor(rng: np.random.Generator, d: Distractor, parts: list[Footprint]) -> Distractor | None:
    """``d`` posed on the table against one of the ``parts`` (a gap of ``GAP_M`` to its outline, found by bisection
    along a random direction from its centre) and clear of all of them; None when no spot is found in a few
    attempts (the scene simply has one distractor fewer)."""
    tris = distractor_mesh(d).triangles
    for _ in range(ATTEMPTS):
        target = parts[int(rng.integers(len(parts)))]
        R = rot_z(rng.uniform(0.0, 2.0 * np.pi))
        tris_xy = (tris @ R.T)[..., :2]
        reach = float(np.linalg.norm(tris_xy.reshape(-1, 2), axis=1).max())
        gap = rng.uniform(*GAP_M)
        angle = rng.uniform(0.0, 2.0 * np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        lo, hi = 0.0, target.radius + reach + gap  # at hi the two circles, hence the shapes, are apart
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2.0
            lo, hi = (lo, mid) if target.clearance(tris_xy + target.centre + mid * direction) >= gap else (mid, hi)
        xy = target.centre + hi * direction
        if all(f.clearance(tris_xy + xy) >= GAP_M[0] for f in parts):
            return replace(d, R_m2w=tuple(map(tuple, R)), t_m2w=(float(xy[0]), float(xy[1]), 0.0))
    return None
