"""Distractor geometry: objects in a scene that are not instances (mask value 0). Pure numpy.

:func:`distractor_mesh` is the one definition of each shape, used by the renderer and by anyone who rasterises or
ray-casts the scene (the tests' oracle). Every shape rests on the plane z = 0 of its model frame, centred on the
z axis, so a yaw rotation and a translation in the table plane put it on the table.

Kinds: ``box``, ``cylinder`` (standing or lying, by the shape seed), ``cable`` (a tube along a smooth random curve),
``paper`` (a flat sheet), ``mark`` (a thin flat stroke, like tape or a marker line) for training; ``sphere``,
``torus`` (a ring, like a rubber band) and ``cone`` held out for ``--domain shift``.
"""

from __future__ import annotations

import numpy as np

from legodata.core.mesh import Mesh
from legodata.core.spec import Distractor

KINDS = ("box", "cylinder", "cable", "paper", "mark", "sphere", "torus", "cone")
SEGMENTS = 16  # around every round cross-section
CURVE_SAMPLES = 48  # along cables and marks


def box_mesh(sx: float, sy: float, sz: float) -> Mesh:
    """An axis-aligned box of full extents ``sx, sy, sz`` standing on z = 0, centred on the z axis."""
    v = np.array([[x, y, z] for x in (-sx / 2, sx / 2) for y in (-sy / 2, sy / 2) for z in (0.0, sz)])
    faces = [
        (0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
        (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3),
    ]  # fmt: skip
    return Mesh(v, np.array(faces))


def sweep(path: np.ndarray, profile: np.ndarray, closed: bool = False) -> Mesh:
    """A tube: the 2D ``profile`` (P, 2: across the path in the table plane, up) carried along the 3D ``path``
    (N, 3, in the table plane) and capped at both ends unless ``closed`` (the path returns to its start)."""
    tangent = np.gradient(path, axis=0)
    if closed:
        tangent = np.roll(path, -1, axis=0) - np.roll(path, 1, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    up = np.array([0.0, 0.0, 1.0])
    side = np.cross(up, tangent)
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    n, p = len(path), len(profile)
    rings = path[:, None, :] + profile[None, :, 0, None] * side[:, None, :] + profile[None, :, 1, None] * up
    vertices = rings.reshape(-1, 3)
    faces = []
    for i in range(n if closed else n - 1):
        a, b = i * p, ((i + 1) % n) * p
        for j in range(p):
            k = (j + 1) % p
            faces += [(a + j, b + j, b + k), (a + j, b + k, a + k)]
    if not closed:
        caps = [len(vertices), len(vertices) + 1]
        vertices = np.vstack([vertices, rings[0].mean(axis=0), rings[-1].mean(axis=0)])
        last = (n - 1) * p
        for j in range(p):
            k = (j + 1) % p
            faces += [(caps[0], k, j), (caps[1], last + j, last + k)]
    mesh = Mesh(vertices, np.array(faces))
    # outward normals whichever way the path turns (the winding above depends on its direction)
    return Mesh(vertices, mesh.faces[:, ::-1]) if mesh.volume() < 0 else mesh


def _circle(radius: float, centre_up: float, segments: int = SEGMENTS) -> np.ndarray:
    a = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    return np.stack([radius * np.cos(a), centre_up + radius * np.sin(a)], axis=1)


def random_curve(seed: int, length: float, curl: float) -> np.ndarray:
    """A smooth planar curve (z = 0) of about ``length`` metres centred on the origin: a heading that turns by a
    smoothed random walk (``curl`` ~ radians of turn over the whole length)."""
    rng = np.random.default_rng([seed, 7])
    turn = np.convolve(rng.normal(0.0, 1.0, CURVE_SAMPLES + 8), np.ones(9) / 9.0, mode="valid")[:CURVE_SAMPLES]
    heading = np.cumsum(turn) * curl / np.sqrt(CURVE_SAMPLES)
    step = length / (CURVE_SAMPLES - 1)
    xy = np.concatenate([[[0.0, 0.0]], np.cumsum(step * np.stack([np.cos(heading), np.sin(heading)], 1), 0)[:-1]])
    xy -= (xy.min(axis=0) + xy.max(axis=0)) / 2.0
    return np.column_stack([xy, np.zeros(len(xy))])


def _cylinder(size, seed: int) -> Mesh:
    radius, height = size[0] / 2.0, size[2]
    if seed % 2:  # lying on its side along x
        path = np.array([[-height / 2, 0.0, 0.0], [height / 2, 0.0, 0.0]])
        return sweep(path, _circle(radius, radius))
    # standing: built lying along x (sweep needs a path in the table plane), then turned so x -> z
    lying = sweep(np.array([[0.0, 0.0, 0.0], [height, 0.0, 0.0]]), _circle(radius, 0.0))
    R = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    return lying.transformed(R, np.zeros(3))


def _sphere(size) -> Mesh:
    r = size[0] / 2.0
    lat = np.linspace(-np.pi / 2, np.pi / 2, SEGMENTS // 2 + 1)[1:-1]
    widths = r * np.cos(lat)
    a = np.linspace(0.0, 2 * np.pi, SEGMENTS, endpoint=False)
    rings = [np.column_stack([w * np.cos(a), w * np.sin(a), np.full_like(a, r + r * np.sin(t))]) for t, w in
             zip(lat, widths)]  # fmt: skip
    vertices = np.vstack(rings + [[[0.0, 0.0, 0.0]], [[0.0, 0.0, 2 * r]]])
    p, n, faces = SEGMENTS, len(rings), []
    for i in range(n - 1):
        for j in range(p):
            k = (j + 1) % p
            faces += [(i * p + j, i * p + k, (i + 1) * p + k), (i * p + j, (i + 1) * p + k, (i + 1) * p + j)]
    bottom, top = n * p, n * p + 1
    for j in range(p):
        k = (j + 1) % p
        faces += [(bottom, k, j), (top, (n - 1) * p + j, (n - 1) * p + k)]
    return Mesh(vertices, np.array(faces))


def _cone(size) -> Mesh:
    r, h = size[0] / 2.0, size[2]
    a = np.linspace(0.0, 2 * np.pi, SEGMENTS, endpoint=False)
    ring = np.column_stack([r * np.cos(a), r * np.sin(a), np.zeros_like(a)])
    vertices = np.vstack([ring, [[0.0, 0.0, h]], [[0.0, 0.0, 0.0]]])
    faces = []
    for j in range(SEGMENTS):
        k = (j + 1) % SEGMENTS
        faces += [(j, k, SEGMENTS), (SEGMENTS + 1, k, j)]
    return Mesh(vertices, np.array(faces))


def distractor_mesh(d: Distractor) -> Mesh:
    """The shape of ``d`` in its model frame (metres): a pure function of ``kind``, ``size`` and ``shape_seed``."""
    sx, sy, sz = (float(x) for x in d.size)
    if d.kind in ("box", "paper"):
        return box_mesh(sx, sy, sz)
    if d.kind == "cylinder":
        return _cylinder((sx, sy, sz), d.shape_seed)
    if d.kind == "cable":  # sx: length, sz: diameter
        return sweep(random_curve(d.shape_seed, sx, 3.0), _circle(sz / 2.0, sz / 2.0, 8))
    if d.kind == "mark":  # sx: length, sy: width, sz: thickness
        profile = np.array([[-sy / 2, 0.0], [sy / 2, 0.0], [sy / 2, sz], [-sy / 2, sz]])
        return sweep(random_curve(d.shape_seed, sx, 2.0), profile)
    if d.kind == "sphere":
        return _sphere((sx, sy, sz))
    if d.kind == "torus":  # sx: outer diameter, sz: tube diameter
        a = np.linspace(0.0, 2 * np.pi, 2 * SEGMENTS, endpoint=False)
        ring = (sx - sz) / 2.0 * np.column_stack([np.cos(a), np.sin(a), np.zeros_like(a)])
        return sweep(ring, _circle(sz / 2.0, sz / 2.0, 8), closed=True)
    if d.kind == "cone":
        return _cone((sx, sy, sz))
    raise ValueError(f"unknown distractor kind {d.kind!r}; use one of {', '.join(KINDS)}")


def distractor_world_mesh(d: Distractor) -> Mesh:
    """``d``'s shape placed in the world by its pose."""
    return distractor_mesh(d).transformed(np.asarray(d.R_m2w, float), np.asarray(d.t_m2w, float))
