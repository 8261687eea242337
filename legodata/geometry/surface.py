"""Exact distances from points to a mesh surface, surface samples and moments: what the symmetry detector measures
with (pure numpy/scipy). Distances are Ericson's closest point on a triangle, over the triangles near each point."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError, cKDTree

from legodata.core.mesh import Mesh


def closest_points_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest point on triangle (a, b, c) to p, all ``(N, 3)`` (broadcast), Ericson's Real-Time Collision Detection."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2

    # interior by default
    denom = va + vb + vc
    denom = np.where(np.abs(denom) < 1e-300, 1e-300, denom)
    v = vb / denom
    w = vc / denom
    out = a + ab * v[:, None] + ac * w[:, None]

    def put(mask, value):
        nonlocal out
        out = np.where(mask[:, None], value, out)

    def safe(num, den):
        den = np.where(np.abs(den) < 1e-300, 1e-300, den)
        return num / den

    # edge BC (tested last by Ericson, so applied first here)
    m = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
    put(m, b + (c - b) * safe(d4 - d3, (d4 - d3) + (d5 - d6))[:, None])
    # edge AC
    m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    put(m, a + ac * safe(d2, d2 - d6)[:, None])
    # Ericson tests A, B, AB, C, AC, BC, interior with early outs: apply in reverse so earlier tests win
    put((d6 >= 0) & (d5 <= d6), c)
    m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    put(m, a + ab * safe(d1, d1 - d3)[:, None])
    put((d3 >= 0) & (d4 <= d3), b)
    put((d1 <= 0) & (d2 <= 0), a)
    return out


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", u, v)


class Surface:
    """A mesh prepared for 'is every query point within tol of the surface' questions.

    Every point of a triangle is within ``spacing`` of one of that triangle's :func:`surface_samples`, so a point
    within ``tol`` of a triangle is within ``spacing + tol`` of one of its samples: the exact distances to the
    triangles owning the samples in that ball decide 'within tol' exactly. Most points of a true symmetry land on a
    triangle owning one of their few nearest samples, so those are tried first.
    """

    def __init__(self, mesh: Mesh, spacing: float) -> None:
        self.tris = mesh.triangles
        self.spacing = spacing
        samples, self.owner = surface_samples(mesh, spacing, with_owner=True)
        self.tree = cKDTree(samples)

    def nearest_sample(self, pts: np.ndarray, cap: float) -> np.ndarray:
        """Distance from each point to its nearest sample (inf beyond ``cap``): more than ``spacing + tol`` means
        farther than ``tol`` from the surface."""
        return self.tree.query(pts, k=1, distance_upper_bound=cap)[0]

    def upper_distances(self, pts: np.ndarray, cap: float) -> np.ndarray:
        """An upper bound on each point's distance to the surface (exact distance to the triangles owning its 8
        nearest samples within ``spacing + cap``); inf where that finds nothing nearer than ``cap``."""
        d = self._min_distance(pts, *self._pairs(pts, self.spacing + cap, k=8, whole_ball=False))
        return np.where(d < cap, d, np.inf)

    def distances(self, pts: np.ndarray, cap: float) -> np.ndarray:
        """Exact distance of each point to the surface where it is below ``cap``; inf where it is not."""
        d = self._min_distance(pts, *self._pairs(pts, self.spacing + cap))
        return np.where(d < cap, d, np.inf)

    def all_within(self, pts: np.ndarray, tol: float, chunk: int = 4096) -> bool:
        """True if every point lies within ``tol`` of the surface; stops at the first chunk with a point off it."""
        for s in range(0, len(pts), chunk):
            p = pts[s : s + chunk]
            unsettled = p[~np.isfinite(self.upper_distances(p, tol))]
            if len(unsettled) and not np.isfinite(self.distances(unsettled, tol)).all():
                return False
        return True

    def max_distance(self, pts: np.ndarray, cap: float, batch: int = 512) -> float:
        """The largest distance of any point to the surface, exact; inf if it is ``cap`` or more."""
        upper = self.upper_distances(pts, cap)
        order = np.argsort(-upper)
        best = 0.0
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            if upper[idx[0]] <= best:  # no point left can beat it
                break
            best = max(best, float(self.distances(pts[idx], cap).max()))
            if not np.isfinite(best):
                break
        return best

    def _min_distance(self, p: np.ndarray, point: np.ndarray, tri: np.ndarray) -> np.ndarray:
        d = np.full(len(p), np.inf)
        if len(point):
            t = self.tris[tri]
            q = closest_points_on_triangles(p[point], t[:, 0], t[:, 1], t[:, 2])
            np.minimum.at(d, point, np.linalg.norm(q - p[point], axis=1))
        return d

    def _pairs(self, p: np.ndarray, radius: float, k: int = 16, whole_ball: bool = True):
        """(point, triangle) index pairs, each once: the triangles owning the ``k`` nearest samples within
        ``radius`` of each point, or (``whole_ball``) every sample within ``radius``."""
        n = len(self.owner)
        points, tris = [], []
        todo = np.arange(len(p))
        while len(todo):
            k = min(k, n)
            d, i = self.tree.query(p[todo], k=k, distance_upper_bound=radius)
            d, i = d.reshape(len(todo), k), i.reshape(len(todo), k)
            more = np.isfinite(d[:, -1]) & (k < n) & whole_ball  # the ball may hold more than k samples
            rows, cols = np.nonzero(np.isfinite(d[~more]))
            points.append(todo[~more][rows])
            tris.append(self.owner[i[~more][rows, cols]])
            todo, k = todo[more], 4 * k
        pairs = np.unique(np.concatenate(points) * len(self.tris) + np.concatenate(tris))
        return pairs // len(self.tris), pairs % len(self.tris)


def surface_query_points(mesh: Mesh) -> np.ndarray:
    """Vertices, edge midpoints and face centroids of ``mesh``."""
    f = mesh.faces
    edges = np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0)
    mids = mesh.vertices[edges].mean(axis=1)
    return np.concatenate([mesh.vertices, mids, mesh.triangles.mean(axis=1)])


def surface_moments(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted centroid ``c`` of the mesh's triangles and the principal axes (columns, eigenvalues ascending)
    of their second moment about ``c``. Triangles that overlap or repeat count twice: see :func:`hull_moments`."""
    return _triangle_moments(mesh.triangles)


def hull_moments(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """:func:`surface_moments` of the surface of the convex hull of the vertices (of the convex polygon, both sides,
    for a flat mesh): invariant under every symmetry of the mesh, whatever its triangles repeat, overlap or hide."""
    pts = np.unique(mesh.vertices, axis=0)
    try:
        hull = ConvexHull(pts)
        return _triangle_moments(pts[hull.simplices])
    except (QhullError, ValueError):
        pass
    mean = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - mean, full_matrices=False)
    try:  # flat: the convex polygon in its plane, fanned into triangles
        ring = pts[ConvexHull((pts - mean) @ vt[:2].T).vertices]
        tris = np.stack([np.broadcast_to(ring[0], ring[1:-1].shape), ring[1:-1], ring[2:]], axis=1)
        return _triangle_moments(tris)
    except (QhullError, ValueError):  # a line or a point
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        axes = vt.T if np.linalg.det(vt) > 0 else vt.T * [1, 1, -1]
        return (lo + hi) / 2, axes[:, ::-1].copy()


def _triangle_moments(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    total = area.sum()
    c = (area[:, None] * t.mean(axis=1)).sum(axis=0) / total
    d = t - c
    s = d.sum(axis=1)
    # second moment of a uniform triangle: (sum v v^T + s s^T) / 12, times area
    m = np.einsum("k,kij->ij", area, np.einsum("kvi,kvj->kij", d, d) + np.einsum("ki,kj->kij", s, s)) / 12.0
    _, vecs = np.linalg.eigh(m / total)
    if np.linalg.det(vecs) < 0:
        vecs[:, 2] *= -1
    return c, vecs


def surface_samples(mesh: Mesh, spacing: float, with_owner: bool = False):
    """Points such that every point of every triangle is within ``spacing`` of one of its own triangle's points: a
    triangle whose corners all lie within ``spacing`` of its centroid is represented by the centroid; a larger one is
    split into n x n similar sub-triangles with edges <= spacing, whose corners are its points. With ``with_owner``,
    also the index of the triangle each point comes from."""
    tris = mesh.triangles
    centroids = tris.mean(axis=1)
    small = np.linalg.norm(tris - centroids[:, None], axis=2).max(axis=1) <= spacing
    out, owners = [centroids[small]], [np.flatnonzero(small)]
    longest = np.linalg.norm(tris - np.roll(tris, 1, axis=1), axis=2).max(axis=1)
    n_sub = np.where(small, 0, np.maximum(1, np.ceil(longest / spacing).astype(int)))
    for n in np.unique(n_sub[~small]):
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        u, v = i[keep] / n, j[keep] / n
        which = np.flatnonzero(n_sub == n)
        t = tris[which]
        pts = t[:, None, 0] + u[None, :, None] * (t[:, None, 1] - t[:, None, 0])
        pts = pts + v[None, :, None] * (t[:, None, 2] - t[:, None, 0])
        out.append(pts.reshape(-1, 3))
        owners.append(np.repeat(which, len(u)))
    if with_owner:
        return np.concatenate(out), np.concatenate(owners)
    return np.concatenate(out)
