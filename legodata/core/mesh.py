"""Triangle meshes as plain numpy data, with PLY/OBJ export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from legodata.core.atomic import atomic_open, atomic_write_text


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh. ``vertices`` (N, 3) float64 in metres; ``faces`` (M, 3) int64, counter-clockwise seen
    from outside (normals point outwards)."""

    vertices: np.ndarray
    faces: np.ndarray

    def __post_init__(self) -> None:
        v = np.ascontiguousarray(self.vertices, dtype=np.float64)
        f = np.ascontiguousarray(self.faces, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
            raise ValueError(f"mesh needs vertices (N,3) and faces (M,3), got {v.shape} and {f.shape}")
        if f.size and (f.min() < 0 or f.max() >= len(v)):
            raise ValueError("mesh face index out of range")
        v.setflags(write=False)
        f.setflags(write=False)
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", f)

    @property
    def triangles(self) -> np.ndarray:
        """Triangle corner coordinates, (M, 3, 3)."""
        return self.vertices[self.faces]

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> Mesh:
        """This mesh with every vertex mapped by ``x -> R x + t``."""
        return Mesh(self.vertices @ np.asarray(rotation).T + np.asarray(translation), self.faces)

    def scaled(self, factor: float) -> Mesh:
        """This mesh with coordinates multiplied by ``factor``."""
        return Mesh(self.vertices * factor, self.faces)

    def area(self) -> float:
        """Total surface area."""
        t = self.triangles
        return float(0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum())

    def volume(self) -> float:
        """Signed enclosed volume (positive for a closed mesh with outward normals)."""
        t = self.triangles
        return float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (min corner, max corner)."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)


def merge_meshes(meshes: list[Mesh]) -> Mesh:
    """One mesh holding all triangles of ``meshes``."""
    vertices, faces, offset = [], [], 0
    for m in meshes:
        vertices.append(m.vertices)
        faces.append(m.faces + offset)
        offset += len(m.vertices)
    return Mesh(np.concatenate(vertices), np.concatenate(faces))


def subdivide(mesh: Mesh, max_edge: float) -> Mesh:
    """The same surface with no edge longer than ``max_edge``: long edges are split at their midpoints.

    Each round splits every too-long edge once, in both triangles that share it (so no T-junctions appear and a
    watertight mesh stays watertight), and re-triangulates each triangle by how many of its edges were split
    (1 -> 2, 2 -> 3, 3 -> 4 triangles, winding kept). Used for BOP ``models_eval``, whose vertices must sample the
    surface densely.
    """
    if max_edge <= 0:
        raise ValueError(f"max_edge must be positive, got {max_edge}")
    v, f = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    while True:
        edges = np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=1)  # (M, 3, 2): a-b, b-c, c-a
        keys = np.sort(edges, axis=2).reshape(-1, 2)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        long = np.linalg.norm(v[uniq[:, 0]] - v[uniq[:, 1]], axis=1) > max_edge
        if not long.any():
            return Mesh(v, f)
        mid_of = np.full(len(uniq), -1, np.int64)
        mid_of[long] = len(v) + np.arange(long.sum())
        v = np.concatenate([v, (v[uniq[long, 0]] + v[uniq[long, 1]]) / 2.0])
        mid = mid_of[inverse.reshape(-1)].reshape(-1, 3)  # (M, 3): midpoint of edge k, or -1
        f = np.concatenate([_split_faces(f, mid, pattern) for pattern in range(8)])


def _split_faces(f: np.ndarray, mid: np.ndarray, pattern: int) -> np.ndarray:
    """The triangles replacing faces whose split edges (bit k: edge k) equal ``pattern``."""
    bits = (mid >= 0) @ np.array([1, 2, 4])
    sel = bits == pattern
    if not sel.any():
        return np.zeros((0, 3), np.int64)
    n = bin(pattern).count("1")
    if n in (0, 3):
        a, b, c = f[sel].T
        if n == 0:
            return f[sel]
        m0, m1, m2 = mid[sel].T
        return np.concatenate([np.stack(t, 1) for t in ((a, m0, m2), (m0, b, m1), (m2, m1, c), (m0, m1, m2))])
    # rotate each triangle so that, for one split edge, it is edge 0 (a-b); for two, the unsplit one is edge 2 (c-a)
    shift = {1: 0, 2: 1, 4: 2, 3: 0, 6: 1, 5: 2}[pattern]
    order = (np.arange(3) + shift) % 3
    a, b, c = f[sel][:, order].T
    m0, m1 = mid[sel][:, order[0]], mid[sel][:, order[1]]
    if n == 1:
        return np.concatenate([np.stack(t, 1) for t in ((a, m0, c), (m0, b, c))])
    return np.concatenate([np.stack(t, 1) for t in ((m0, b, m1), (a, m0, m1), (a, m1, c))])


def write_ply(mesh: Mesh, path: str | Path, scale: float = 1.0) -> None:
    """Write ``mesh`` as binary little-endian PLY; coordinates multiplied by ``scale`` (1000 gives millimetres)."""
    v = (mesh.vertices * scale).astype("<f4")
    f = np.empty(len(mesh.faces), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    f["n"] = 3
    f["idx"] = mesh.faces
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    with atomic_open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(v.tobytes())
        fh.write(f.tobytes())


def write_obj(mesh: Mesh, path: str | Path, scale: float = 1.0) -> None:
    """Write ``mesh`` as Wavefront OBJ; coordinates multiplied by ``scale``."""
    lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in mesh.vertices * scale]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_ply(path: str | Path) -> Mesh:
    """Read a triangle PLY written by :func:`write_ply` (binary little-endian float xyz, int32 faces)."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    n_v = int(next(line.split()[2] for line in header if line.startswith("element vertex")))
    n_f = int(next(line.split()[2] for line in header if line.startswith("element face")))
    v = np.frombuffer(data, dtype="<f4", count=n_v * 3, offset=end).reshape(n_v, 3)
    f = np.frombuffer(data, dtype=[("n", "u1"), ("idx", "<i4", (3,))], count=n_f, offset=end + n_v * 12)
    return Mesh(v.astype(np.float64), f["idx"].astype(np.int64))


def is_watertight(mesh: Mesh) -> bool:
    """True if every directed edge occurs exactly once and its reverse exactly once (closed, consistently oriented
    2-manifold edges)."""
    f = mesh.faces
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    if (counts != 1).any():
        return False
    fwd = {tuple(e) for e in uniq.tolist()}
    return all((b, a) in fwd for a, b in fwd)
