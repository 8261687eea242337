"""Pose from clicked keypoints: SQPnP with the photo's K, reprojection error, symmetric canonicalisation. Pure.

Label Studio keypoints are percentages of the image size measured from its top-left edge; OpenCV pixel centres sit
at integer coordinates, so the pixel ``u = x / 100 * width - 0.5`` (a click in the middle of pixel 0 is x = 0.5/W).

A symmetric part looks the same in the poses ``(R @ S, t + R c - R @ S c)`` for each symmetry ``S`` of its group
(``c`` the mesh's centroid, which every symmetry fixes): an annotator may number the keypoints of any of them and is
right. :func:`canonical_pose` picks one representative of that set (the rotation closest to the identity), so equal
labellings give equal records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.annotate.projection import project_points, projected_silhouette

MIN_KEYPOINTS = 4
REFINED_STARTS = 3


@dataclass(frozen=True)
class PnPResult:
    R_m2c: np.ndarray  # (3, 3)
    t_m2c: np.ndarray  # (3,) metres
    rms_px: float  # root mean square reprojection error over the clicked keypoints
    max_px: float
    residuals_px: np.ndarray  # (N,) per keypoint
    n_points: int


def pixel_from_percent(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """Label Studio's percent coordinates -> OpenCV pixel coordinates (pixel centres at integers)."""
    return x / 100.0 * width - 0.5, y / 100.0 * height - 0.5


def percent_from_pixel(u: float, v: float, width: int, height: int) -> tuple[float, float]:
    """OpenCV pixel coordinates -> Label Studio's percent coordinates."""
    return (u + 0.5) / width * 100.0, (v + 0.5) / height * 100.0


def solve_keypoints(points_3d: np.ndarray, points_2d: np.ndarray, K: np.ndarray, dist=None) -> PnPResult:
    """``R_m2c, t_m2c`` from at least :data:`MIN_KEYPOINTS` model points and their pixels: SQPnP and the other
    starts of :func:`_starts`, each refined by Levenberg-Marquardt on the reprojection error; the lowest error wins.
    Raises ``ValueError`` with a reason an annotator can act on."""
    import cv2

    obj = np.asarray(points_3d, np.float64).reshape(-1, 3)
    img = np.asarray(points_2d, np.float64).reshape(-1, 2)
    if len(obj) != len(img):
        raise ValueError(f"{len(obj)} model points but {len(img)} image points")
    if len(obj) < MIN_KEYPOINTS:
        raise ValueError(f"{len(obj)} keypoints placed; at least {MIN_KEYPOINTS} are needed for a pose")
    if np.linalg.matrix_rank(obj - obj.mean(axis=0), tol=1e-6) < 2:
        raise ValueError("the placed keypoints lie on one line of the part: add keypoints off that line")
    K = np.asarray(K, np.float64)
    d = None if dist is None or not np.size(dist) else np.asarray(dist, np.float64).ravel()
    planar = np.linalg.matrix_rank(obj - obj.mean(axis=0), tol=1e-6) == 2
    scored = []
    for rvec, tvec in _starts(obj, img, K, d, planar):
        R, _ = cv2.Rodrigues(rvec)
        if np.any((obj @ R.T + tvec.ravel())[:, 2] <= 0):
            continue
        scored.append(
            (float(np.mean(np.sum((project_points(obj, K, R, tvec.ravel(), d) - img) ** 2, axis=1))), rvec, tvec)
        )
    scored.sort(key=lambda s: s[0])
    best = None
    for _, rvec, tvec in scored[:REFINED_STARTS]:  # refinement costs ~1 ms: only the most promising starts
        rvec, tvec = cv2.solvePnPRefineLM(obj, img, K, d, rvec.copy(), tvec.copy())
        R, _ = cv2.Rodrigues(rvec)
        t = tvec.ravel()
        if np.any((obj @ R.T + t)[:, 2] <= 0):
            continue
        residuals = np.linalg.norm(project_points(obj, K, R, t, d) - img, axis=1)
        rms = float(np.sqrt(np.mean(residuals**2)))
        if best is None or rms < best.rms_px - 1e-9:
            best = PnPResult(R, t, rms, float(residuals.max()), residuals, len(obj))
    if best is None:
        raise ValueError("no pose in front of the camera fits the placed keypoints: check the labels")
    return best


def _starts(obj, img, K, d, planar: bool):
    """Starting poses for the refinement: SQPnP (globally optimal for its algebraic error), OpenCV's iterative and
    EPnP solvers, IPPE for points on one plane and, for 4-5 points, every P3P solution of every 3 of them. A few
    points with three in a row (studs) or on one small face seen edge-on leave single solvers at a wrong pose with a
    reprojection error of pixels; the lowest error over these starts is the true pose."""
    import itertools

    import cv2

    flags = [cv2.SOLVEPNP_SQPNP, cv2.SOLVEPNP_ITERATIVE, cv2.SOLVEPNP_EPNP] + ([cv2.SOLVEPNP_IPPE] if planar else [])
    for flag in flags:
        try:
            ok, rvec, tvec = cv2.solvePnP(obj, img, K, d, flags=flag)
        except cv2.error:
            continue
        if ok:
            yield rvec, tvec
    if len(obj) <= 5:
        for tri in itertools.combinations(range(len(obj)), 3):
            sub = [*tri, next(i for i in range(len(obj)) if i not in tri)]  # OpenCV's P3P takes 4 points
            try:
                n, rvecs, tvecs, _ = cv2.solvePnPGeneric(obj[sub], img[sub], K, d, flags=cv2.SOLVEPNP_AP3P)
            except cv2.error:
                continue
            yield from zip(rvecs[:n], tvecs[:n])


def canonical_pose(
    R: np.ndarray, t: np.ndarray, symmetries: np.ndarray, centre: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """The representative of the symmetric poses of ``(R, t)`` whose rotation is closest to the identity.

    ``symmetries`` ``(K, 3, 3)`` holds the part's symmetry rotations (identity first; continuous axes sampled),
    ``centre`` the mesh centroid (fixed by every symmetry). Returns ``(R', t', k)`` with ``R' = R @ symmetries[k]``.
    """
    R = np.asarray(R, float)
    t = np.asarray(t, float)
    cands = R @ np.asarray(symmetries, float)
    k = int(np.argmax(np.trace(cands, axis1=1, axis2=2) - 1e-9 * np.arange(len(cands))))
    R2 = cands[k]
    c = np.asarray(centre, float)
    return R2, t + R @ c - R2 @ c, k


def mesh_centroid(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted surface centroid (what every symmetry of the mesh fixes)."""
    tri = np.asarray(vertices, float)[np.asarray(faces)]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    return (tri.mean(axis=1) * area[:, None]).sum(axis=0) / area.sum()


def translation_from_mask(mesh, K: np.ndarray, R: np.ndarray, mask: np.ndarray, iterations: int = 4) -> np.ndarray:
    """``t_m2c`` that puts the mesh at rotation ``R`` where ``mask`` is: the projected silhouette's centroid on the
    mask's and its area equal to the mask's (a part seen at a chosen orientation, placed by its mask)."""
    mask = np.asarray(mask, bool)
    h, w = mask.shape
    area = float(mask.sum())
    if area == 0:
        raise ValueError("the mask is empty")
    ys, xs = np.nonzero(mask)
    target = np.array([xs.mean(), ys.mean()])
    K = np.asarray(K, float)
    R = np.asarray(R, float)
    lo, hi = mesh.bounds()
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo) / 2)
    # first guess: a sphere of the part's radius covering the mask's area
    z = float(np.sqrt(np.pi * (K[0, 0] * radius) * (K[1, 1] * radius) / area)) * 0.8
    ray = np.linalg.solve(K, np.array([target[0], target[1], 1.0]))
    t = ray * z - R @ centre
    for _ in range(iterations):
        sil = projected_silhouette(mesh, K, R, t, w, h)
        got = float(sil.sum())
        if got == 0:  # off the image: put it on the mask's ray
            t = ray * (t[2] + (R @ centre)[2]) - R @ centre
            continue
        sy, sx = np.nonzero(sil)
        shift = target - np.array([sx.mean(), sy.mean()])
        depth = float((R @ centre + t)[2])
        t = t + np.array([shift[0] * depth / K[0, 0], shift[1] * depth / K[1, 1], 0.0])
        scale = float(np.sqrt(got / area))  # silhouette area ~ 1 / depth^2
        pivot = R @ centre + t
        t = pivot * scale - R @ centre
    return t
