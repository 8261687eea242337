"""Seeded placement of distractors around the parts of a scene: they lie on the table, close to a part (0.5-3 mm
away, so they touch it in the image and occlude it from low views) and never intersect any part. Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.core.spec import Distractor
from legodata.scene.distractors import distractor_mesh

GAP_M = (0.0005, 0.003)
ATTEMPTS = 40


@dataclass(frozen=True)
class KindRange:
    """Size ranges (full extents in metres; see :func:`legodata.scene.distractors.distractor_mesh`) of one kind."""

    kind: str
    x: tuple[float, float]
    y: tuple[float, float]  # None-like (0, 0) = same as x
    z: tuple[float, float]


def footprint_distance(point: np.ndarray, tris_xy: np.ndarray) -> float:
    """Distance in the table plane from ``point`` (2,) to the union of triangles ``tris_xy`` (T, 3, 2); 0 inside."""
    a, b, c = tris_xy[:, 0], tris_xy[:, 1], tris_xy[:, 2]

    def cross(u, v):
        return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]

    s1, s2, s3 = cross(b - a, point - a), cross(c - b, point - b), cross(a - c, point - c)
    inside = ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))
    area = np.abs(cross(b - a, c - a)) > 1e-16
    if (inside & area).any():
        return 0.0
    best = np.inf
    for p, q in ((a, b), (b, c), (c, a)):
        d = q - p
        t = np.clip(np.einsum("ij,ij->i", point - p, d) / np.maximum(np.einsum("ij,ij->i", d, d), 1e-24), 0.0, 1.0)
        best = min(best, float(np.linalg.norm(p + t[:, None] * d - point, axis=1).min()))
    return best


def rot_z(angle: float) -> np.ndarray:
    """Rotation by ``angle`` radians about the world z axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def sample_size(rng: np.random.Generator, k: KindRange) -> tuple[float, float, float]:
    """Full extents of a new distractor of kind ``k``."""
    x = float(rng.uniform(*k.x))
    y = float(rng.uniform(*k.y)) if k.y != (0.0, 0.0) else x
    return x, y, float(rng.uniform(*k.z))


def place_distractor(
    rng: np.random.Generator, d: Distractor, discs: list[tuple[np.ndarray, float]]
) -> Distractor | None:
    """``d`` posed on the table next to one of the parts' footprint ``discs`` (xy centre, radius), clear of all of
    them; None when no spot is found in a few attempts (the scene simply has one distractor fewer)."""
    tris = distractor_mesh(d).triangles
    for _ in range(ATTEMPTS):
        centre, radius = discs[int(rng.integers(len(discs)))]
        R = rot_z(rng.uniform(0.0, 2.0 * np.pi))
        tris_w = tris @ R.T
        reach = float(np.linalg.norm(tris_w[..., :2].reshape(-1, 2), axis=1).max())
        gap = rng.uniform(*GAP_M)
        angle = rng.uniform(0.0, 2.0 * np.pi)
        offset = radius + gap + rng.uniform(0.1, 1.0) * reach
        t = np.array([centre[0] + offset * np.cos(angle), centre[1] + offset * np.sin(angle), 0.0])
        tris_xy = tris_w[..., :2] + t[:2]
        if all(footprint_distance(c, tris_xy) >= r + GAP_M[0] for c, r in discs):
            return Distractor(
                kind=d.kind,
                size=d.size,
                shape_seed=d.shape_seed,
                R_m2w=tuple(map(tuple, R)),
                t_m2w=tuple(float(x) for x in t),
                rgb=d.rgb,
                roughness=d.roughness,
                texture=d.texture,
            )
    return None
