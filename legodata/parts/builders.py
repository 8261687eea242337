"""Procedural, watertight meshes of simple LEGO parts in LDraw-exact dimensions.

Everything is built in LDU in the LDraw part frame (-Y up, origin at the centre of the top face of the body, the
body fills ``y in [0, H]``, studs reach ``y = -4``) and scaled to metres at the end (1 LDU = 0.4 mm).

A part is described as a list of flat or cylindrical *features* (convex polygons, rectangles with one circular hole,
cylinder walls, disks, annuli), each with the direction pointing out of the solid. Triangulation runs in two passes:
first every corner / ring point goes into a pool, then each flat face inserts the pool points that lie on its edges,
so neighbouring faces share every edge vertex (no T-junctions) and welding by coordinate gives a closed 2-manifold.
Cylinders use :data:`SEGMENTS` segments starting at angle 0, so 90 degree turns about Y map them onto themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from legodata.core.mesh import Mesh
from legodata.core.units import LDU_M

SEGMENTS = 16
STUD_RADIUS = 6.0
STUD_HEIGHT = 4.0
PITCH = 20.0
BRICK_HEIGHT = 24.0
PLATE_HEIGHT = 8.0
WALL = 4.0
TOP = 4.0
TUBE_OUTER = 8.0
TUBE_INNER = 6.0
POST_RADIUS = 4.0

_EPS = 1e-7
_DECIMALS = 9


def _unit_circle() -> tuple[np.ndarray, np.ndarray]:
    angles = np.arange(SEGMENTS) * (2.0 * np.pi / SEGMENTS)
    c, s = np.cos(angles), np.sin(angles)
    for arr in (c, s):  # exact zeros and ones so that 90 degree turns map the ring onto itself bit for bit
        arr[np.abs(arr) < 1e-12] = 0.0
        arr[np.abs(np.abs(arr) - 1.0) < 1e-12] = np.sign(arr[np.abs(np.abs(arr) - 1.0) < 1e-12])
    return c, s


_COS, _SIN = _unit_circle()


def _ring(cx: float, cz: float, r: float, y: float) -> np.ndarray:
    """The SEGMENTS points of a horizontal circle, (SEGMENTS, 3)."""
    pts = np.stack([cx + r * _COS, np.full(SEGMENTS, float(y)), cz + r * _SIN], axis=1)
    return np.round(pts, _DECIMALS)


@dataclass
class _Polygon:
    """A flat convex polygon: corners in cyclic order, ``outward`` the normal pointing out of the solid."""

    corners: np.ndarray
    outward: np.ndarray


@dataclass
class _HoleCell:
    """A horizontal rectangle ``[x0, x1] x [z0, z1]`` at height ``y`` with a circular hole centred in it."""

    y: float
    x0: float
    x1: float
    z0: float
    z1: float
    radius: float
    outward: np.ndarray

    @property
    def centre(self) -> tuple[float, float]:
        return 0.5 * (self.x0 + self.x1), 0.5 * (self.z0 + self.z1)

    def corners(self) -> np.ndarray:
        y = self.y
        return np.array([[self.x0, y, self.z0], [self.x1, y, self.z0], [self.x1, y, self.z1], [self.x0, y, self.z1]])

    def projections(self) -> np.ndarray:
        """The SEGMENTS ring directions pushed out radially onto the rectangle's boundary."""
        cx, cz = self.centre
        hx, hz = 0.5 * (self.x1 - self.x0), 0.5 * (self.z1 - self.z0)
        pts = []
        for c, s in zip(_COS, _SIN):
            if abs(c) * hz >= abs(s) * hx - 1e-12:  # leaves through an x = const edge
                pts.append([cx + np.sign(c) * hx, self.y, cz + hx * s / abs(c)])
            else:
                pts.append([cx + hz * c / abs(s), self.y, cz + np.sign(s) * hz])
        return np.round(np.array(pts), _DECIMALS)


@dataclass
class _Tube:
    """A cylinder wall (``inward`` for the inside of a hollow tube) between heights y0 < y1."""

    cx: float
    cz: float
    radius: float
    y0: float
    y1: float
    inward: bool = False


@dataclass
class _Annulus:
    """A flat horizontal ring between two radii (inner 0 means a disk), normal ``+-Y`` given by ``down``."""

    cx: float
    cz: float
    r_inner: float
    r_outer: float
    y: float
    down: bool


@dataclass
class _Features:
    polygons: list[_Polygon] = field(default_factory=list)
    cells: list[_HoleCell] = field(default_factory=list)
    tubes: list[_Tube] = field(default_factory=list)
    annuli: list[_Annulus] = field(default_factory=list)

    def polygon(self, corners, outward) -> None:
        self.polygons.append(_Polygon(np.round(np.asarray(corners, float), _DECIMALS), np.asarray(outward, float)))


def _points_on_segment(pool: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pool points strictly inside segment a-b, ordered from a to b."""
    d = b - a
    length2 = float(d @ d)
    t = (pool - a) @ d / length2
    off = pool - a - t[:, None] * d
    keep = (t > _EPS) & (t < 1 - _EPS) & (np.linalg.norm(off, axis=1) < 1e-6)
    order = np.argsort(t[keep])
    return pool[keep][order]


def _with_edge_points(corners: np.ndarray, pool: np.ndarray) -> np.ndarray:
    out = []
    for i in range(len(corners)):
        a, b = corners[i], corners[(i + 1) % len(corners)]
        out.append(a[None])
        out.append(_points_on_segment(pool, a, b))
    return np.concatenate(out)


def _orient(tris: np.ndarray, outward: np.ndarray) -> np.ndarray:
    """Flip triangles (K,3,3) whose normal points against ``outward`` ((3,) or (K,3))."""
    n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    flip = np.einsum("ij,ij->i", n, np.broadcast_to(outward, n.shape)) < 0
    tris = tris.copy()
    tris[flip] = tris[flip][:, [0, 2, 1]]
    return tris


def _fan(boundary: np.ndarray, centre: np.ndarray) -> np.ndarray:
    nxt = np.roll(boundary, -1, axis=0)
    return np.stack([np.broadcast_to(centre, boundary.shape), boundary, nxt], axis=1)


def _zipper(inner: np.ndarray, outer: np.ndarray, centre_xz: tuple[float, float]) -> np.ndarray:
    """Triangulate the ring between a closed inner polyline and a closed outer one, merging by angle."""

    def angles(p):
        a = np.arctan2(p[:, 2] - centre_xz[1], p[:, 0] - centre_xz[0])
        a = np.where(a < -1e-9, a + 2 * np.pi, a)
        return np.where(np.abs(a) < 1e-9, 0.0, a)

    ai, ao = angles(inner), angles(outer)
    oi, oo = np.argsort(ai, kind="stable"), np.argsort(ao, kind="stable")
    inner, ai, outer, ao = inner[oi], ai[oi], outer[oo], ao[oo]
    ni, no = len(inner), len(outer)
    ai = np.append(ai, 2 * np.pi)
    ao = np.append(ao, 2 * np.pi)
    i = j = 0
    tris = []
    while i < ni or j < no:
        if j < no and (i == ni or ao[j + 1] <= ai[i + 1] + 1e-12):
            tris.append([inner[i % ni], outer[j % no], outer[(j + 1) % no]])
            j += 1
        else:
            tris.append([inner[i % ni], outer[j % no], inner[(i + 1) % ni]])
            i += 1
    return np.array(tris)


def _triangulate(features: _Features) -> np.ndarray:
    """All triangles (K,3,3) in LDU, oriented outwards."""
    pool = [p.corners for p in features.polygons]
    for cell in features.cells:
        pool += [cell.corners(), cell.projections()]
    pool = np.unique(np.round(np.concatenate(pool), _DECIMALS), axis=0)

    out = []
    for poly in features.polygons:
        boundary = _with_edge_points(poly.corners, pool)
        out.append(_orient(_fan(boundary, poly.corners.mean(axis=0)), poly.outward))
    for cell in features.cells:
        outer = np.unique(np.concatenate([_with_edge_points(cell.corners(), pool), cell.projections()]), axis=0)
        cx, cz = cell.centre
        out.append(_orient(_zipper(_ring(cx, cz, cell.radius, cell.y), outer, (cx, cz)), cell.outward))
    for tube in features.tubes:
        lo, hi = _ring(tube.cx, tube.cz, tube.radius, tube.y0), _ring(tube.cx, tube.cz, tube.radius, tube.y1)
        lo1, hi1 = np.roll(lo, -1, axis=0), np.roll(hi, -1, axis=0)
        tris = np.concatenate([np.stack([lo, lo1, hi1], 1), np.stack([lo, hi1, hi], 1)])
        radial = tris.mean(axis=1) - np.array([tube.cx, 0.0, tube.cz])
        radial[:, 1] = 0.0
        out.append(_orient(tris, -radial if tube.inward else radial))
    for ann in features.annuli:
        outer = _ring(ann.cx, ann.cz, ann.r_outer, ann.y)
        normal = np.array([0.0, 1.0 if ann.down else -1.0, 0.0])
        if ann.r_inner <= 0:
            tris = _fan(outer, np.array([ann.cx, ann.y, ann.cz]))
        else:
            inner = _ring(ann.cx, ann.cz, ann.r_inner, ann.y)
            o1, i1 = np.roll(outer, -1, axis=0), np.roll(inner, -1, axis=0)
            tris = np.concatenate([np.stack([inner, outer, o1], 1), np.stack([inner, o1, i1], 1)])
        out.append(_orient(tris, normal))
    tris = np.concatenate(out)
    area2 = np.linalg.norm(np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]), axis=1)
    if (area2 < 1e-9).any():
        raise AssertionError("degenerate triangle in part mesh")
    return tris


def _weld(tris: np.ndarray) -> Mesh:
    pts = np.round(tris.reshape(-1, 3), 6)
    vertices, inverse = np.unique(pts, axis=0, return_inverse=True)
    return Mesh(vertices * LDU_M, inverse.reshape(-1, 3))


# --- features of the part families -------------------------------------------------------------------------------


def _add_studs(f: _Features, centres: list[tuple[float, float]], cell_z: tuple[float, float] | None = None) -> None:
    """Stud cells on the top face (y = 0) plus the studs themselves."""
    for cx, cz in centres:
        z0, z1 = (cz - PITCH / 2, cz + PITCH / 2) if cell_z is None else cell_z
        f.cells.append(_HoleCell(0.0, cx - PITCH / 2, cx + PITCH / 2, z0, z1, STUD_RADIUS, np.array([0.0, -1, 0])))
        f.tubes.append(_Tube(cx, cz, STUD_RADIUS, -STUD_HEIGHT, 0.0))
        f.annuli.append(_Annulus(cx, cz, 0.0, STUD_RADIUS, -STUD_HEIGHT, down=False))


def _box_features(length: int, width: int, height: float, studs: bool) -> _Features:
    """A ``length x width`` brick/plate/tile (length along X) with a hollow underside."""
    f = _Features()
    X, Z, H = PITCH / 2 * length, PITCH / 2 * width, float(height)
    Xi, Zi = X - WALL, Z - WALL
    if studs:
        xs = [-X + PITCH / 2 + PITCH * i for i in range(length)]
        zs = [-Z + PITCH / 2 + PITCH * k for k in range(width)]
        _add_studs(f, [(x, z) for x in xs for z in zs])
    else:
        f.polygon([[-X, 0, -Z], [X, 0, -Z], [X, 0, Z], [-X, 0, Z]], [0, -1, 0])
    # outer walls
    f.polygon([[X, 0, -Z], [X, 0, Z], [X, H, Z], [X, H, -Z]], [1, 0, 0])
    f.polygon([[-X, 0, -Z], [-X, 0, Z], [-X, H, Z], [-X, H, -Z]], [-1, 0, 0])
    f.polygon([[-X, 0, Z], [X, 0, Z], [X, H, Z], [-X, H, Z]], [0, 0, 1])
    f.polygon([[-X, 0, -Z], [X, 0, -Z], [X, H, -Z], [-X, H, -Z]], [0, 0, -1])
    _add_rim_and_cavity_walls(f, X, Z, Xi, Zi, H)
    # cavity ceiling with tubes (2 wide) or posts (1 wide) between the studs
    if width >= 2:
        holes, radius = [-X + PITCH * i for i in range(1, length)], TUBE_OUTER
    else:
        holes, radius = [-X + PITCH * i for i in range(1, length)], POST_RADIUS
    y = TOP
    down = np.array([0.0, 1, 0])
    if not holes:
        f.polygon([[-Xi, y, -Zi], [Xi, y, -Zi], [Xi, y, Zi], [-Xi, y, Zi]], down)
    else:
        # cells of one pitch around each hole; a single hole takes the whole cavity (keeps 2 x 2 parts 4-fold)
        left, right = (-Xi, Xi) if len(holes) == 1 else (holes[0] - PITCH / 2, holes[-1] + PITCH / 2)
        if left > -Xi + _EPS:
            f.polygon([[-Xi, y, -Zi], [left, y, -Zi], [left, y, Zi], [-Xi, y, Zi]], down)
        if right < Xi - _EPS:
            f.polygon([[right, y, -Zi], [Xi, y, -Zi], [Xi, y, Zi], [right, y, Zi]], down)
        for cx in holes:
            x0, x1 = (left, right) if len(holes) == 1 else (cx - PITCH / 2, cx + PITCH / 2)
            f.cells.append(_HoleCell(y, x0, x1, -Zi, Zi, radius, down))
            f.tubes.append(_Tube(cx, 0.0, radius, y, H))
            if width >= 2:  # hollow tube: inner wall, bottom ring, the ceiling inside the tube
                f.tubes.append(_Tube(cx, 0.0, TUBE_INNER, y, H, inward=True))
                f.annuli.append(_Annulus(cx, 0.0, TUBE_INNER, TUBE_OUTER, H, down=True))
                f.annuli.append(_Annulus(cx, 0.0, 0.0, TUBE_INNER, y, down=True))
            else:  # solid post
                f.annuli.append(_Annulus(cx, 0.0, 0.0, POST_RADIUS, H, down=True))
    return f


def _add_rim_and_cavity_walls(f: _Features, X: float, Z: float, Xi: float, Zi: float, H: float) -> None:
    """The bottom rim (ring at y = H) between the outer and cavity rectangles."""
    down = [0, 1, 0]
    f.polygon([[X, H, -Z], [X, H, Z], [Xi, H, Zi], [Xi, H, -Zi]], down)
    f.polygon([[-X, H, -Z], [-X, H, Z], [-Xi, H, Zi], [-Xi, H, -Zi]], down)
    f.polygon([[-X, H, Z], [X, H, Z], [Xi, H, Zi], [-Xi, H, Zi]], down)
    f.polygon([[-X, H, -Z], [X, H, -Z], [Xi, H, -Zi], [-Xi, H, -Zi]], down)


def box_mesh(length: int, width: int, height: float, studs: bool = True) -> Mesh:
    """Brick (height 24), plate (8) or tile (8, no studs) of ``length x width`` studs, length along X."""
    if length < width:
        raise ValueError("length must be >= width (the longer side lies along X)")
    f = _box_features(length, width, height, studs)
    X, Z = PITCH / 2 * length, PITCH / 2 * width
    Xi, Zi, H, y = X - WALL, Z - WALL, float(height), TOP
    f.polygon([[Xi, y, -Zi], [Xi, y, Zi], [Xi, H, Zi], [Xi, H, -Zi]], [-1, 0, 0])
    f.polygon([[-Xi, y, -Zi], [-Xi, y, Zi], [-Xi, H, Zi], [-Xi, H, -Zi]], [1, 0, 0])
    f.polygon([[-Xi, y, Zi], [Xi, y, Zi], [Xi, H, Zi], [-Xi, H, Zi]], [0, 0, -1])
    f.polygon([[-Xi, y, -Zi], [Xi, y, -Zi], [Xi, H, -Zi], [-Xi, H, -Zi]], [0, 0, 1])
    return _weld(_triangulate(f))


def slope45_2x2_mesh() -> Mesh:
    """Slope 45 2 x 2 (3039): back half full height with two studs, front half a 45 degree face down to a 4 LDU lip.

    The underside is a hollow (walls 4 LDU) whose ceiling follows the slope 4 LDU lower; no tube.
    """
    f = _Features()
    H = BRICK_HEIGHT
    _add_studs(f, [(-10.0, 10.0), (10.0, 10.0)], cell_z=(0.0, 20.0))
    f.polygon([[-20, 0, 0], [20, 0, 0], [20, 20, -20], [-20, 20, -20]], [0, -1, -1])  # slope face
    f.polygon([[-20, 20, -20], [20, 20, -20], [20, H, -20], [-20, H, -20]], [0, 0, -1])  # front lip
    f.polygon([[-20, 0, 20], [20, 0, 20], [20, H, 20], [-20, H, 20]], [0, 0, 1])  # back
    for s in (1, -1):
        x = 20 * s
        f.polygon([[x, 0, 20], [x, 0, 0], [x, 20, -20], [x, H, -20], [x, H, 20]], [s, 0, 0])
        xi = 16 * s
        f.polygon([[xi, H, 16], [xi, 4, 16], [xi, 4, 0], [xi, 20, -16], [xi, H, -16]], [-s, 0, 0])
    _add_rim_and_cavity_walls(f, 20.0, 20.0, 16.0, 16.0, H)
    f.polygon([[-16, 4, 16], [16, 4, 16], [16, H, 16], [-16, H, 16]], [0, 0, -1])  # cavity back
    f.polygon([[-16, 20, -16], [16, 20, -16], [16, H, -16], [-16, H, -16]], [0, 0, 1])  # cavity front
    f.polygon([[-16, 4, 0], [16, 4, 0], [16, 4, 16], [-16, 4, 16]], [0, 1, 0])  # flat ceiling
    f.polygon([[-16, 4, 0], [16, 4, 0], [16, 20, -16], [-16, 20, -16]], [0, 1, 1])  # sloped ceiling
    return _weld(_triangulate(f))


def polygon_area(radius: float, segments: int = SEGMENTS) -> float:
    """Area of the regular ``segments``-gon inscribed in a circle of ``radius`` (the cross-section of a stud)."""
    return 0.5 * segments * radius**2 * np.sin(2 * np.pi / segments)
