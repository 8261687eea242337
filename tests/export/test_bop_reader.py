"""The checks of test_bop_toolkit.py against the project's own independent reader, so CI runs them.

The BOP toolkit is not on PyPI, so that module is skipped in CI. Here the same export is read with json and cv2
only: models and models_info (diameter, extents, denser models_eval with the same symmetries), object ids and
symmetries against the store's catalogue, the symmetry-aware pose errors (MSSD, MSPD as the toolkit defines them)
of every symmetric equivalent, and scene_gt_info re-derived from the masks, the depth and an independent ray cast
of each posed model (the toolkit's visibility rule of calc_gt_info.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial import cKDTree
from support.raycast import raycast_depth

import legodata
from legodata.store.store import Store

pytestmark = pytest.mark.slow

DELTA_MM = 15.0  # calc_gt_info.py's default tolerance of the visibility test
PARTS = ("3001", "3039", "3003")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from legodata.export import export

    root = tmp_path_factory.mktemp("bop_reader")
    legodata.render(
        str(root / "ds"),
        scenes=2,
        views=2,
        resolution=96,
        seed=4,
        parts=",".join(PARTS),
        parts_per_scene=(5, 6),
        preset="fast",
    )  # 5-6 parts: one of them is partly hidden
    export(root / "ds", root / "out", "bop")
    return Store(root / "ds"), root / "out" / "bop"


# --- a reader of the BOP files: json, cv2 and the PLY layout, nothing of legodata ----------------------------------


def load_json(path: Path, int_keys: bool = False):
    data = json.loads(path.read_text())
    return {int(k): v for k, v in data.items()} if int_keys else data


def load_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) and triangles (M, 3) of a binary little-endian PLY of float xyz and uchar/int faces."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode().splitlines()
    assert header[0] == "ply" and header[1] == "format binary_little_endian 1.0"
    counts = {ln.split()[1]: int(ln.split()[2]) for ln in header if ln.startswith("element")}
    nv, nf = counts["vertex"], counts["face"]
    v = np.frombuffer(data[end : end + nv * 12], "<f4").reshape(nv, 3).astype(np.float64)
    f = np.frombuffer(data[end + nv * 12 :], np.dtype([("n", "u1"), ("i", "<i4", 3)]), count=nf)
    assert (f["n"] == 3).all()
    return v, f["i"].astype(np.int64)


def load_mask(path: Path) -> np.ndarray:
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert m is not None and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 255}, path
    return m > 0


def depth_to_distance(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Distance from the camera centre of each pixel's 3D point (misc.depth_im_to_dist_im_fast)."""
    h, w = depth.shape
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    x, y = (u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1]
    return depth * np.sqrt(x * x + y * y + 1.0)


def symmetry_transformations(info: dict, step_deg: float = 10.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(R, t in mm) of the identity, every discrete symmetry and every turn of a continuous axis by ``step_deg``,
    combined as the toolkit's misc.get_symmetry_transformations does."""
    discrete = [(np.eye(3), np.zeros(3))]
    for flat in info.get("symmetries_discrete", []):
        T = np.asarray(flat, float).reshape(4, 4)
        discrete.append((T[:3, :3], T[:3, 3]))
    continuous = [(np.eye(3), np.zeros(3))]
    for c in info.get("symmetries_continuous", []):
        axis, offset = np.asarray(c["axis"], float), np.asarray(c["offset"], float)
        axis /= np.linalg.norm(axis)
        for angle in np.radians(np.arange(step_deg, 360.0, step_deg)):
            kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
            R = np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx
            continuous.append((R, offset - R @ offset))
    return [(Rc @ Rd, Rc @ td + tc) for Rd, td in discrete for Rc, tc in continuous]


def mssd(R_e, t_e, R_g, t_g, pts, syms) -> float:
    """Maximum symmetry-aware surface distance (mm), pose_error.mssd."""
    est = pts @ R_e.T + t_e
    return min(float(np.linalg.norm(est - (pts @ (R_g @ S).T + R_g @ t + t_g), axis=1).max()) for S, t in syms)


def mspd(R_e, t_e, R_g, t_g, K, pts, syms) -> float:
    """Maximum symmetry-aware projection distance (px), pose_error.mspd."""

    def project(P):
        uv = P @ K.T
        return uv[:, :2] / uv[:, 2:]

    est = project(pts @ R_e.T + t_e)
    return min(float(np.linalg.norm(est - project(pts @ (R_g @ S).T + R_g @ t + t_g), axis=1).max()) for S, t in syms)


# --- the checks ---------------------------------------------------------------------------------------------------


def test_models_and_models_info(exported):
    _, bop = exported
    info = load_json(bop / "models" / "models_info.json", int_keys=True)
    info_eval = load_json(bop / "models_eval" / "models_info.json", int_keys=True)
    assert set(info) == set(info_eval) and len(info) == len(PARTS)
    for o, entry in info.items():
        pts, _ = load_ply(bop / "models" / f"obj_{o:06d}.ply")
        d = np.linalg.norm(pts[:, None] - pts[None], axis=-1).max()
        assert entry["diameter"] == pytest.approx(d, abs=1e-3)
        np.testing.assert_allclose([entry[f"min_{a}"] for a in "xyz"], pts.min(0), atol=1e-3)
        np.testing.assert_allclose([entry[f"size_{a}"] for a in "xyz"], np.ptp(pts, 0), atol=1e-3)
        dense, faces = load_ply(bop / "models_eval" / f"obj_{o:06d}.ply")
        assert len(dense) > len(pts)
        np.testing.assert_allclose(dense.min(0), pts.min(0), atol=1e-3)
        np.testing.assert_allclose(dense.max(0), pts.max(0), atol=1e-3)
        edges = np.linalg.norm(dense[faces] - dense[np.roll(faces, 1, axis=1)], axis=-1)
        assert edges.max() <= 2.0 + 1e-3  # models_eval: no edge over 2 mm
        assert info_eval[o].get("symmetries_discrete") == entry.get("symmetries_discrete")


def test_object_ids_and_symmetries_match_the_catalogue(exported):
    store, bop = exported
    catalogue = store.read_manifest()["catalogue"]
    obj_ids = load_json(bop / "obj_ids.json")
    assert obj_ids["part_ids"] == {p: k for k, p in enumerate(sorted(catalogue), 1)}  # 1, 2, ... by part id
    assert obj_ids["obj_ids"] == {str(k): p for p, k in obj_ids["part_ids"].items()}
    info = load_json(bop / "models" / "models_info.json", int_keys=True)
    n_symmetric = 0
    for part_id, o in obj_ids["part_ids"].items():
        pts, _ = load_ply(bop / "models" / f"obj_{o:06d}.ply")
        store_pts, _ = load_ply(store.root / catalogue[part_id]["mesh_path"])
        np.testing.assert_allclose(pts, store_pts * 1000.0, rtol=1e-6, atol=1e-4)  # the catalogue mesh in mm
        group = catalogue[part_id]["symmetry"]
        expected = [
            (np.asarray(R, float), np.asarray(t, float) * 1000.0)
            for R, t in zip(group["rotations"], group["translations_m"])
            if not np.allclose(R, np.eye(3), atol=1e-9)
        ]
        got = [np.asarray(f, float).reshape(4, 4) for f in info[o].get("symmetries_discrete", [])]
        assert len(got) == len(expected) and "symmetries_continuous" not in info[o]
        for R, t in expected:  # each catalogue element once, as a 4x4 in mm
            matches = [T for T in got if np.allclose(T[:3, :3], R, atol=1e-9) and np.allclose(T[:3, 3], t, atol=1e-6)]
            assert len(matches) == 1 and np.allclose(matches[0][3], [0, 0, 0, 1])
        tree = cKDTree(pts)
        for T in got:  # and it is a symmetry of the model: every vertex lands on a vertex
            assert tree.query(pts @ T[:3, :3].T + T[:3, 3])[0].max() < 1e-2
        n_symmetric += bool(got)
    assert n_symmetric == 2  # 3001 and 3003; the slope 3039 has none


def test_symmetric_equivalents_have_zero_mssd_and_mspd(exported):
    _, bop = exported
    info = load_json(bop / "models_eval" / "models_info.json", int_keys=True)
    K = np.array([[100.0, 0, 48], [0, 100.0, 48], [0, 0, 1]])
    R_gt = np.array([[0.36, 0.48, -0.8], [-0.8, 0.6, 0.0], [0.48, 0.64, 0.6]])
    t_gt = np.array([5.0, -3.0, 400.0])
    quarter = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # about X: not a symmetry of any of the three
    for o, entry in info.items():
        pts, _ = load_ply(bop / "models_eval" / f"obj_{o:06d}.ply")
        syms = symmetry_transformations(entry)
        for S, t in syms:
            R_e, t_e = R_gt @ S, R_gt @ t + t_gt
            assert mssd(R_e, t_e, R_gt, t_gt, pts, syms) < 1e-3  # mm
            assert mspd(R_e, t_e, R_gt, t_gt, K, pts, syms) < 1e-3  # px
        assert mssd(R_gt @ quarter, t_gt, R_gt, t_gt, pts, syms) > 1.0


def test_scene_gt_info_rederived_from_masks_depth_and_a_ray_cast(exported):
    store, bop = exported
    info = load_json(bop / "models" / "models_info.json", int_keys=True)
    models = {o: load_ply(bop / "models" / f"obj_{o:06d}.ply") for o in info}
    obj_ids = load_json(bop / "obj_ids.json")["obj_ids"]
    records = {r.record_id: r for r in store.iter_records()}
    image_ids = load_json(bop / "image_ids.json")["images"]
    assert len(image_ids) == len(records) == 4
    n_unoccluded = n_occluded = 0
    for entry in image_ids:
        scene_dir = bop / "train" / f"{entry['scene_id']:06d}"
        im = entry["im_id"]
        cam = load_json(scene_dir / "scene_camera.json", int_keys=True)[im]
        gts = load_json(scene_dir / "scene_gt.json", int_keys=True)[im]
        infos = load_json(scene_dir / "scene_gt_info.json", int_keys=True)[im]
        rec = records[entry["record_id"]]
        K = np.asarray(cam["cam_K"], float).reshape(3, 3)
        np.testing.assert_allclose(K, rec.K)
        rgb = cv2.imread(str(scene_dir / "rgb" / f"{im:06d}.png"), cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(str(scene_dir / "depth" / f"{im:06d}.png"), cv2.IMREAD_UNCHANGED) * cam["depth_scale"]
        h, w = depth.shape
        assert rgb.shape == (h, w, 3) and (h, w) == (rec.height, rec.width)
        dist_im = depth_to_distance(depth, K)
        assert len(gts) == len(infos) == len(rec.instances)
        posed = []
        for gt, inst in zip(gts, rec.instances):
            assert obj_ids[str(gt["obj_id"])] == inst.part_id  # object ids name the record's parts
            R = np.asarray(gt["cam_R_m2c"], float).reshape(3, 3)
            t = np.asarray(gt["cam_t_m2c"], float)
            np.testing.assert_allclose(R, inst.R_m2c, atol=1e-12)
            np.testing.assert_allclose(t, np.asarray(inst.t_m2c) * 1000.0, atol=1e-9)
            v, f = models[gt["obj_id"]]
            posed.append((v @ R.T + t)[f])
        depths = np.stack([raycast_depth(tris, K, w, h) for tris in posed])  # mm, inf where the model is not
        front = np.where(np.isfinite(depths).any(0), depths.argmin(0), -1)  # the nearest instance at each pixel
        for k, gi in enumerate(infos):
            mask = load_mask(scene_dir / "mask" / f"{im:06d}_{k:06d}.png")
            mask_visib = load_mask(scene_dir / "mask_visib" / f"{im:06d}_{k:06d}.png")
            depth_gt = np.where(np.isfinite(depths[k]), depths[k], 0.0)
            dist_gt = depth_to_distance(depth_gt, K)
            # the amodal mask is the model's projection; the visible one lies inside it
            assert (mask != (dist_gt > 0)).sum() <= 1 and not (mask_visib & ~mask).any()
            # scene_gt_info from the masks
            assert gi["px_count_all"] == mask.sum() and gi["px_count_visib"] == mask_visib.sum()
            assert gi["px_count_valid"] == (mask & (depth > 0)).sum()
            assert gi["visib_fract"] == (mask_visib.sum() / mask.sum() if mask.any() else 0.0)
            for key, m in (("bbox_obj", mask), ("bbox_visib", mask_visib)):
                ys, xs = np.nonzero(m)
                box = [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1] if len(xs) else [-1] * 4
                assert gi[key] == box, key
            # calc_gt_info.py's visibility rule (bop19) from the depth agrees with the visible mask
            visib = (dist_gt > 0) & ((dist_gt - dist_im <= DELTA_MM) | (dist_im == 0))
            assert (mask_visib & ~visib).sum() <= 1
            assert (visib & ~mask_visib).sum() <= max(3, 0.1 * mask_visib.sum())
            # an instance nothing covers: its visible mask is its amodal mask
            unoccluded = not ((dist_gt > 0) & (front != k)).any()
            if unoccluded and mask.any():
                # (up to a pixel whose centre lies on the silhouette's edge)
                assert (mask_visib != mask).sum() <= 1 and gi["px_count_all"] - gi["px_count_visib"] <= 1
                n_unoccluded += 1
            elif mask.any():
                n_occluded += 1
                assert gi["visib_fract"] < 1.0
    assert n_unoccluded > 0 and n_occluded > 0
