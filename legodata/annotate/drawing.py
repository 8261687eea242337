"""Pictures for annotators, drawn from the part mesh with numpy/OpenCV (no Blender): the keypoint reference, the
sheet of candidate orientations and pose overlays on photos.

:func:`render_mesh` is a z-buffer version of :func:`legodata.scene.ground_truth.rasterize_triangles` (same pixel-centre
sampling): per pixel the nearest triangle, with perspective-correct depth, shaded flat with a head light; crease and
silhouette edges are drawn dark so studs and corners stand out.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from legodata.annotate.keypoints import Keypoint, catalogue_keypoints, keypoint_array
from legodata.contact_sheet import grid
from legodata.core.mesh import Mesh
from legodata.errors import LegodataError
from legodata.geometry.crops import resize
from legodata.scene.ground_truth import batches, pixel_boxes

BASE_RGB = (200, 200, 205)
BACKGROUND = (255, 255, 255)
_FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX


def zbuffer(tri_uv: np.ndarray, tri_z: np.ndarray, width: int, height: int, max_tests: int = 1 << 22):
    """Nearest triangle per pixel centre: ``(depth (H, W) float, inf where empty; index (H, W) int, -1 where empty)``.

    ``tri_uv`` ``(T, 3, 2)`` pixel coordinates, ``tri_z`` ``(T, 3)`` camera depths (all > 0)."""
    depth = np.full(height * width, np.inf)
    index = np.full(height * width, -1, np.int64)
    tri_uv = np.asarray(tri_uv, float).reshape(-1, 3, 2)
    inv_z = 1.0 / np.asarray(tri_z, float).reshape(-1, 3)
    a, b, c = tri_uv[:, 0], tri_uv[:, 1], tri_uv[:, 2]
    area2, x0, y0, x1, y1, keep = pixel_boxes(tri_uv, width, height)
    keep = np.flatnonzero(keep)
    x0, y0 = x0[keep].astype(np.int64), y0[keep].astype(np.int64)
    w, h = x1[keep].astype(np.int64) - x0 + 1, y1[keep].astype(np.int64) - y0 + 1
    for local_tri, local in batches(w * h, max_tests):
        tri = keep[local_tri]
        px = x0[local_tri] + local % w[local_tri]
        py = y0[local_tri] + local // w[local_tri]
        # barycentric coordinates of the pixel centre
        l1 = ((px - a[tri, 0]) * (c[tri, 1] - a[tri, 1]) - (py - a[tri, 1]) * (c[tri, 0] - a[tri, 0])) / area2[tri]
        l2 = ((b[tri, 0] - a[tri, 0]) * (py - a[tri, 1]) - (b[tri, 1] - a[tri, 1]) * (px - a[tri, 0])) / area2[tri]
        l0 = 1.0 - l1 - l2
        inside = (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
        tri, px, py = tri[inside], px[inside], py[inside]
        z = 1.0 / (l0[inside] * inv_z[tri, 0] + l1[inside] * inv_z[tri, 1] + l2[inside] * inv_z[tri, 2])
        flat = py * width + px
        np.minimum.at(depth, flat, z)
        win = z <= depth[flat]
        index[flat[win]] = tri[win]
    return depth.reshape(height, width), index.reshape(height, width)


def render_mesh(
    mesh: Mesh,
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    width: int,
    height: int,
    rgb: tuple[int, int, int] = BASE_RGB,
    background: tuple[int, int, int] = BACKGROUND,
    edges: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Shaded RGB image (H, W, 3) uint8 and depth (H, W) (inf where empty) of the posed mesh."""
    cam = mesh.vertices @ np.asarray(R, float).T + np.asarray(t, float)
    faces = mesh.faces[(cam[mesh.faces][:, :, 2] > 1e-6).all(axis=1)]
    uv = cam @ np.asarray(K, float).T
    uv = uv[:, :2] / uv[:, 2:3]
    depth, index = zbuffer(uv[faces], cam[faces][:, :, 2], width, height)
    tri = cam[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-30)
    view = -tri.mean(axis=1)
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    light = np.array([-0.35, -0.6, -1.0])
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.45 * np.abs(np.einsum("ij,ij->i", normal, view)) + 0.25 * np.clip(normal @ -light, 0, None)
    image = np.empty((height, width, 3), np.float64)
    image[:] = background
    hit = index >= 0
    image[hit] = np.clip(np.asarray(rgb, float)[None] * shade[index[hit], None], 0, 255)
    if edges:
        n = np.zeros((height, width, 3))
        n[hit] = normal[index[hit]]
        edge = np.zeros((height, width), bool)
        for dy, dx in ((0, 1), (1, 0)):
            a = (slice(0, height - dy), slice(0, width - dx))
            b = (slice(dy, height), slice(dx, width))
            both = hit[a] & hit[b]
            crease = (both & (np.einsum("ijk,ijk->ij", n[a], n[b]) < 0.9)) | (hit[a] != hit[b])
            da, db = depth[a], depth[b]
            jump = np.abs(np.where(hit[a], da, 0) - np.where(hit[b], db, 0)) > 0.03 * np.minimum(da, db)
            e = crease | (jump & both)
            edge[a] |= e
            edge[b] |= e
        image[edge] *= 0.35
    return image.astype(np.uint8), depth


def framing(mesh: Mesh, size: int, fov_deg: float = 30.0, fill: float = 0.8) -> tuple[np.ndarray, float, np.ndarray]:
    """``(K, distance, centre)``: a square ``size`` camera at which the mesh's bounding sphere fills ``fill``."""
    lo, hi = mesh.bounds()
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo) / 2)
    f = 0.5 * size / np.tan(np.radians(fov_deg) / 2)
    distance = radius / np.sin(np.radians(fov_deg) / 2 * fill)
    K = np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1.0]])
    return K, distance, centre


def view_pose(direction: np.ndarray, centre: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """Model-to-camera pose of a camera on ``centre + distance * direction`` looking at ``centre``, model -Y up."""
    from legodata.scene.camera import look_at_w2c

    d = np.asarray(direction, float)
    eye = np.asarray(centre, float) + distance * d / np.linalg.norm(d)
    return look_at_w2c(eye, centre, up=(0.0, -1.0, 0.0))


REFERENCE_VIEWS = (("from above", (0.9, -1.1, -1.6)), ("from below", (-0.9, 1.1, 1.6)))


def reference_image(
    mesh: Mesh, keypoints: tuple[Keypoint, ...], title: str, size: int = 320, vertical: bool = True
) -> np.ndarray:
    """RGB uint8: the part from above and from below (stacked, or side by side), every keypoint numbered (filled
    where that view sees it, a ring where it is hidden), with ``title`` on top. Supersampled 2x for smooth edges."""
    import cv2

    s = 2
    panels = []
    P = keypoint_array(keypoints)
    for label, direction in REFERENCE_VIEWS:
        K, distance, centre = framing(mesh, size * s, fill=0.72)
        R, t = view_pose(np.asarray(direction), centre, distance)
        img, depth = render_mesh(mesh, K, R, t, size * s, size * s)
        img = resize(img, size)
        cam = P @ R.T + t
        uv = cam @ K.T
        uv = uv[:, :2] / uv[:, 2:3]
        visible = _visible(uv, cam[:, 2], depth)
        uv = (uv + 0.5) / s - 0.5
        order = np.argsort(~visible)[::-1]  # hidden first, visible drawn on top
        for i in order:
            _draw_keypoint(img, uv[i], keypoints[i].number, visible[i])
        cv2.putText(img, label, (8, size - 10), _FONT, 0.5, (90, 90, 90), 1, cv2.LINE_AA)
        panels.append(img)
    if vertical:
        sheet = np.concatenate([panels[0], np.full((4, size, 3), 230, np.uint8), panels[1]], axis=0)
    else:
        sheet = np.concatenate([panels[0], np.full((size, 4, 3), 230, np.uint8), panels[1]], axis=1)
    return _with_title(sheet, title)


def _with_title(sheet: np.ndarray, title: str) -> np.ndarray:
    """``sheet`` under a white band 30 pixels high holding ``title``."""
    import cv2

    header = np.full((30, sheet.shape[1], 3), 255, np.uint8)
    cv2.putText(header, title, (8, 21), _FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, sheet], axis=0)


def _visible(uv: np.ndarray, z: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Keypoints whose depth is no farther than the surface near their pixel (a 5x5 neighbourhood)."""
    h, w = depth.shape
    out = np.zeros(len(uv), bool)
    for i, ((u, v), zi) in enumerate(zip(uv, z)):
        x, y = int(round(u)), int(round(v))
        if not (0 <= x < w and 0 <= y < h):
            continue
        patch = depth[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
        out[i] = zi <= patch.min() * 1.02 + 1e-5
    return out


def visible_keypoints(mesh: Mesh, keypoints, K, R, t, width: int, height: int) -> np.ndarray:
    """Boolean ``(N,)``: which keypoints a camera with ``K, R, t`` sees (inside the image, not hidden by the part
    itself). Used by pre-annotations and the simulated annotator of the tests."""
    P = keypoint_array(keypoints)
    cam = P @ np.asarray(R).T + np.asarray(t)
    uv = cam @ np.asarray(K).T
    uv = uv[:, :2] / uv[:, 2:3]
    _, depth = render_mesh(mesh, K, R, t, width, height, edges=False)
    return _visible(uv, cam[:, 2], depth)


def _draw_keypoint(img: np.ndarray, uv: np.ndarray, number: int, visible: bool) -> None:
    import cv2

    x, y = int(round(uv[0])), int(round(uv[1]))
    colour = (220, 30, 30) if visible else (60, 90, 220)
    if visible:
        cv2.circle(img, (x, y), 4, colour, -1, cv2.LINE_AA)
    else:
        cv2.circle(img, (x, y), 4, colour, 1, cv2.LINE_AA)
    text = str(number)
    (tw, th), _ = cv2.getTextSize(text, _FONT, 0.5, 1)
    org = (x + 5, y - 5)
    cv2.rectangle(img, (org[0] - 1, org[1] - th - 2), (org[0] + tw + 1, org[1] + 3), (255, 255, 255), -1)
    cv2.putText(img, text, org, _FONT, 0.5, colour, 1, cv2.LINE_AA)


def candidate_sheet(mesh: Mesh, rotations: np.ndarray, title: str, cell: int = 120, cols: int = 6) -> np.ndarray:
    """RGB uint8: the part at each candidate rotation (as a camera looking straight at it sees it), numbered 1..N."""
    import cv2

    s = 2
    K, distance, centre = framing(mesh, cell * s, fill=0.85)
    tiles = []
    for i, R in enumerate(rotations):
        t = np.array([0.0, 0.0, distance]) - np.asarray(R) @ centre
        img, _ = render_mesh(mesh, K, R, t, cell * s, cell * s)
        img = resize(img, cell)
        cv2.rectangle(img, (0, 0), (cell - 1, cell - 1), (210, 210, 210), 1)
        cv2.putText(img, str(i + 1), (5, 18), _FONT, 0.55, (200, 0, 0), 1, cv2.LINE_AA)
        tiles.append(img)
    return _with_title(grid(tiles, cols, background=255), title)


def pose_overlay(image_rgb: np.ndarray, mesh: Mesh, K, R, t, colour=(255, 0, 255)) -> np.ndarray:
    """The photo with the outline of the mesh projected at ``(R, t)`` and its model axes (X red, Y green, Z blue)."""
    import cv2

    h, w = image_rgb.shape[:2]
    _, depth = render_mesh(mesh, K, R, t, w, h, edges=False)
    sil = np.isfinite(depth).astype(np.uint8)
    out = image_rgb.copy()
    contours, _ = cv2.findContours(sil, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, colour, 2, cv2.LINE_AA)
    lo, hi = mesh.bounds()
    length = float(np.max(hi - lo)) * 0.6
    axes = np.array([[0, 0, 0], [length, 0, 0], [0, length, 0], [0, 0, length]])
    cam = axes @ np.asarray(R).T + np.asarray(t)
    uv = cam @ np.asarray(K).T
    uv = uv[:, :2] / uv[:, 2:3]
    o = tuple(int(round(c)) for c in uv[0])
    for k, col in ((1, (255, 0, 0)), (2, (0, 200, 0)), (3, (0, 0, 255))):
        cv2.line(out, o, tuple(int(round(c)) for c in uv[k]), col, 2, cv2.LINE_AA)
    return out


CANDIDATES_TITLE = "{}: pick the closest orientation"


@functools.lru_cache(maxsize=64)
def part_reference(part_id: str, ldraw_dir=None) -> np.ndarray:
    """The keypoint reference picture of a catalogue part (made once per part)."""
    from legodata.parts.catalogue import get_part

    part = get_part(part_id, ldraw_dir)
    title = f"{part_id} {part.info.name}: keypoints"
    return reference_image(part.mesh, catalogue_keypoints(part_id, ldraw_dir), title)


@functools.lru_cache(maxsize=64)
def axis_aligned_sheet(part_id: str, ldraw_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """A catalogue part's axis-aligned candidates and their sheet (made once per part)."""
    from legodata.annotate.candidates import axis_aligned_candidates
    from legodata.parts.catalogue import get_part

    part = get_part(part_id, ldraw_dir)
    cand = axis_aligned_candidates(part.symmetry.sampled())
    return cand, candidate_sheet(part.mesh, cand, CANDIDATES_TITLE.format(part_id))


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An RGB picture as a PNG file, written atomically."""
    import cv2

    from legodata.core.atomic import atomic_write_bytes

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise LegodataError(f"cannot encode {path}")
    atomic_write_bytes(path, buf.tobytes())
