"""Named 3D keypoints of a part, derived from its mesh (never typed by hand). Pure numpy/scipy.

Two kinds, both points an annotator can find on a photo:

- ``corner``: corners of the body's convex hull (the studs left out), merged when closer than 1 LDU; a box has 8.
  Round or many-sided bodies are thinned by farthest-point sampling to ``max_corners``.
- ``stud``: the centre of each stud's top face: clusters of the topmost vertices that lie on a circle of a stud's
  radius (LDraw: 6 LDU). More than ``max_studs`` are thinned the same way (the outermost first).

Numbers (1-based, what annotators see and click) run over corners first (top to bottom), then studs. Names say where
the point is in the LDraw part frame (-Y up): ``corner top -x -z`` is the top corner at negative x and z; ``stud
x1 z2`` is the stud in the first column along x and the second along z. Coordinates are in the model frame, metres.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from legodata.core.mesh import Mesh
from legodata.core.units import LDU_M

STUD_RADIUS_LDU = 6.0
STUD_HEIGHT_LDU = 4.0
MAX_CORNERS = 16
MAX_STUDS = 8


@dataclass(frozen=True)
class Keypoint:
    number: int  # 1-based label an annotator sees and clicks
    name: str
    kind: str  # corner | stud
    xyz_m: tuple[float, float, float]  # model frame (LDraw part frame), metres

    def to_json(self) -> dict:
        return {"number": self.number, "name": self.name, "kind": self.kind, "xyz_m": list(self.xyz_m)}


def part_keypoints(mesh: Mesh, max_corners: int = MAX_CORNERS, max_studs: int = MAX_STUDS) -> tuple[Keypoint, ...]:
    """The part's keypoints, numbered (see the module doc). Deterministic for a given mesh."""
    v = np.asarray(mesh.vertices, float) / LDU_M  # work in LDU: the tolerances are LDraw's
    studs = _stud_centres(v)
    if len(studs):
        top = v[:, 1].min()
        body = v[v[:, 1] >= top + STUD_HEIGHT_LDU - 0.05]
        if len(body) < 4:
            body = v
    else:
        body = v
    corners = _hull_corners(body)
    corners = _thin(corners, max_corners)
    studs = _thin(studs, max_studs)
    corners = corners[np.lexsort((corners[:, 2], corners[:, 0], corners[:, 1]))] if len(corners) else corners
    studs = studs[np.lexsort((studs[:, 2], studs[:, 0]))] if len(studs) else studs

    lo, hi = body.min(axis=0), body.max(axis=0)
    centre = (lo + hi) / 2
    out: list[Keypoint] = []
    names: set[str] = set()
    for p in corners:
        name = "corner " + " ".join(
            [_level(p[1], lo[1], hi[1]), _side(p[0] - centre[0], "x"), _side(p[2] - centre[2], "z")]
        )
        out.append(_make(len(out) + 1, _unique(name, names), "corner", p))
    xs, zs = np.unique(np.round(studs[:, 0], 3)) if len(studs) else [], np.unique(np.round(studs[:, 2], 3))
    for p in studs:
        ix = int(np.searchsorted(xs, round(p[0], 3))) + 1
        iz = int(np.searchsorted(zs, round(p[2], 3))) + 1
        out.append(_make(len(out) + 1, _unique(f"stud x{ix} z{iz}", names), "stud", p))
    return tuple(out)


@functools.lru_cache(maxsize=256)
def catalogue_keypoints(part_id: str, ldraw_dir: str | None = None) -> tuple[Keypoint, ...]:
    """:func:`part_keypoints` of a catalogue part (built-in, or from an LDraw library), cached."""
    from legodata.parts.catalogue import get_part

    return part_keypoints(get_part(part_id, ldraw_dir).mesh)


def keypoint_array(keypoints: tuple[Keypoint, ...]) -> np.ndarray:
    """``(N, 3)`` model-frame coordinates in metres, row k-1 for keypoint number k."""
    return np.array([k.xyz_m for k in keypoints], float).reshape(-1, 3)


def _make(number: int, name: str, kind: str, p_ldu: np.ndarray) -> Keypoint:
    xyz = tuple(float(round(c, 6)) * LDU_M + 0.0 for c in p_ldu)
    return Keypoint(number, name, kind, tuple(float(c) for c in xyz))


def _unique(name: str, seen: set[str]) -> str:
    out, n = name, 2
    while out in seen:
        out = f"{name} ({n})"
        n += 1
    seen.add(out)
    return out


def _side(d: float, axis: str) -> str:
    return f"-{axis}" if d < -0.5 else f"+{axis}" if d > 0.5 else f"0{axis}"


def _level(y: float, lo: float, hi: float) -> str:
    return "top" if y <= lo + 0.5 else "bottom" if y >= hi - 0.5 else "mid"


def _stud_centres(v: np.ndarray) -> np.ndarray:
    """Centres of the stud tops among the topmost vertices (LDU), ``(S, 3)``."""
    top = v[:, 1].min()
    ring = np.unique(np.round(v[np.abs(v[:, 1] - top) < 0.05], 4), axis=0)
    if len(ring) < 8:
        return np.zeros((0, 3))
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(ring[:, [0, 2]]).query_pairs(STUD_RADIUS_LDU * 0.75, output_type="ndarray")
    n = len(ring)
    from scipy.sparse import coo_matrix

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else None
    if graph is None:
        return np.zeros((0, 3))
    _, labels = connected_components(graph, directed=False)
    centres = []
    for lab in np.unique(labels):
        pts = ring[labels == lab]
        c = pts[:, [0, 2]].mean(axis=0)
        r = np.linalg.norm(pts[:, [0, 2]] - c, axis=1)
        rim = r > 0.5  # a stud top may also hold its centre vertex
        if rim.sum() >= 8 and np.all(np.abs(r[rim] - STUD_RADIUS_LDU) < 0.5):
            centres.append([c[0], top, c[1]])
    return np.array(centres, float).reshape(-1, 3)


def _hull_corners(points: np.ndarray) -> np.ndarray:
    """Vertices of the convex hull, merged when closer than 1 LDU, ``(C, 3)``."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.unique(np.round(points, 4), axis=0)
    try:
        hull = ConvexHull(pts)
    except (QhullError, ValueError):
        return np.zeros((0, 3))
    corners = pts[hull.vertices]
    merged: list[np.ndarray] = []
    for p in corners[np.lexsort(corners.T[::-1])]:
        if not merged or np.min(np.linalg.norm(np.array(merged) - p, axis=1)) >= 1.0:
            merged.append(p)
    return np.array(merged, float).reshape(-1, 3)


def _thin(points: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` points by farthest-point sampling, starting from the one farthest from the centroid."""
    if len(points) <= limit:
        return points
    c = points.mean(axis=0)
    chosen = [int(np.argmax(np.linalg.norm(points - c, axis=1)))]
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    while len(chosen) < limit:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return points[sorted(chosen)]
