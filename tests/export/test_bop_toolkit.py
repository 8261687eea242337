"""Our BOP export read and scored by the BOP toolkit itself (github.com/thodan/bop_toolkit).

``bop_toolkit_lib`` is not on PyPI, so this module is skipped unless it is importable: clone the toolkit and run
``PYTHONPATH=/path/to/bop_toolkit python -m pytest tests/export/test_bop_toolkit.py`` (it needs ``pypng`` and
``imageio`` too). It loads every file with the toolkit's readers, recomputes ``scene_gt_info.json`` with the
toolkit's own visibility rule (``calc_gt_info.py``, with an independent ray caster standing in for its OpenGL
renderer), and checks that its symmetry-aware pose errors (MSSD, MSPD) of each symmetric equivalent are zero.
"""

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree
from support.raycast import raycast_depth

import legodata

inout = pytest.importorskip("bop_toolkit_lib.inout", reason="bop_toolkit_lib is not installed (not on PyPI)")
from bop_toolkit_lib import misc, pose_error, visibility  # noqa: E402

pytestmark = pytest.mark.slow

DELTA_MM = 15.0  # calc_gt_info.py's default tolerance of the visibility test


@pytest.fixture(scope="module")
def bop_dir(tmp_path_factory):
    from legodata.export import export

    root = tmp_path_factory.mktemp("bop_toolkit")
    legodata.render(str(root / "ds"), scenes=2, views=2, resolution=96, seed=4, parts="3001,3039,3003", preset="fast")
    export(root / "ds", root / "out", "bop")
    return root / "out" / "bop"


def _models(bop_dir, sub="models"):
    info = inout.load_json(str(bop_dir / sub / "models_info.json"), keys_to_int=True)
    return info, {o: inout.load_ply(str(bop_dir / sub / f"obj_{o:06d}.ply")) for o in info}


def test_models_and_models_info_agree_with_the_toolkit(bop_dir):
    info, models = _models(bop_dir)
    info_eval, models_eval = _models(bop_dir, "models_eval")
    assert set(info) == set(models_eval) and len(info) == 3
    for o, model in models.items():
        pts = model["pts"]
        assert info[o]["diameter"] == pytest.approx(misc.calc_pts_diameter(pts), abs=1e-3)
        np.testing.assert_allclose([info[o][f"min_{a}"] for a in "xyz"], pts.min(0), atol=1e-3)
        np.testing.assert_allclose([info[o][f"size_{a}"] for a in "xyz"], np.ptp(pts, 0), atol=1e-3)
        dense = models_eval[o]["pts"]
        assert len(dense) > len(pts)
        np.testing.assert_allclose(dense.min(0), pts.min(0), atol=1e-3)
        np.testing.assert_allclose(dense.max(0), pts.max(0), atol=1e-3)
        assert info_eval[o].get("symmetries_discrete") == info[o].get("symmetries_discrete")


def test_symmetric_equivalents_have_zero_mssd_and_mspd(bop_dir):
    info, models = _models(bop_dir, "models_eval")
    K = np.array([[100.0, 0, 48], [0, 100.0, 48], [0, 0, 1]])
    R_gt = np.array([[0.36, 0.48, -0.8], [-0.8, 0.6, 0.0], [0.48, 0.64, 0.6]])
    t_gt = np.array([[5.0], [-3.0], [400.0]])
    assert np.allclose(R_gt @ R_gt.T, np.eye(3)) and np.isclose(np.linalg.det(R_gt), 1.0)
    n_symmetric = 0
    for o, model in models.items():
        pts = model["pts"]
        syms = misc.get_symmetry_transformations(info[o], max_sym_disc_step=0.01)
        assert np.allclose(syms[0]["R"], np.eye(3))  # the identity comes first, as the toolkit builds it
        n_symmetric += len(syms) > 1
        for sym in syms:
            R_e = R_gt @ sym["R"]
            t_e = R_gt @ sym["t"] + t_gt
            assert pose_error.mssd(R_e, t_e, R_gt, t_gt, pts, syms) < 1e-3  # mm
            assert pose_error.mspd(R_e, t_e, R_gt, t_gt, K, pts, syms) < 1e-3  # px
            moved = pts @ sym["R"].T + sym["t"].T
            assert cKDTree(pts).query(moved)[0].max() < 1e-2  # every dense point lands on a dense point
        quarter = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # about X: not a symmetry of any of the three
        assert pose_error.mssd(R_gt @ quarter, t_gt, R_gt, t_gt, pts, syms) > 1.0
    assert n_symmetric == 2  # 3001 and 3003; the slope 3039 has none


def test_scene_files_load_and_gt_info_matches_the_toolkits_visibility_rule(bop_dir):
    _, models = _models(bop_dir)
    n = 0
    for scene_dir in sorted((bop_dir / "train").iterdir()):
        cams = inout.load_scene_camera(str(scene_dir / "scene_camera.json"))
        gts = inout.load_scene_gt(str(scene_dir / "scene_gt.json"))
        infos = inout.load_json(str(scene_dir / "scene_gt_info.json"), keys_to_int=True)
        assert set(cams) == set(gts) == set(infos)
        for im_id, cam in cams.items():
            rgb = inout.load_im(str(scene_dir / "rgb" / f"{im_id:06d}.png"))
            depth = inout.load_depth(str(scene_dir / "depth" / f"{im_id:06d}.png")) * cam["depth_scale"]  # mm
            h, w = depth.shape
            assert rgb.shape == (h, w, 3)
            K = cam["cam_K"]
            dist_im = misc.depth_im_to_dist_im_fast(depth, K)
            for gt_id, (gt, info) in enumerate(zip(gts[im_id], infos[im_id], strict=True)):
                model = models[gt["obj_id"]]
                faces = model["faces"].astype(int)  # the toolkit reads the indices as floats
                tris = (model["pts"] @ gt["cam_R_m2c"].T + gt["cam_t_m2c"].T)[faces]
                depth_gt = raycast_depth(tris, K, w, h)
                depth_gt[~np.isfinite(depth_gt)] = 0.0
                dist_gt = misc.depth_im_to_dist_im_fast(depth_gt, K)
                visib = visibility.estimate_visib_mask_gt(dist_im, dist_gt, DELTA_MM, visib_mode="bop19")
                mask = inout.load_im(str(scene_dir / "mask" / f"{im_id:06d}_{gt_id:06d}.png")) > 0
                mask_visib = inout.load_im(str(scene_dir / "mask_visib" / f"{im_id:06d}_{gt_id:06d}.png")) > 0
                assert (mask != (dist_gt > 0)).sum() <= 1  # the amodal mask is the model's projection
                # the toolkit calls a pixel visible when the model lies within DELTA_MM of the scene depth there,
                # so it may add a few pixels where another part touches this one
                assert (mask_visib & ~visib).sum() <= 1
                assert (visib & ~mask_visib).sum() <= max(3, 0.1 * mask_visib.sum())
                assert abs(info["px_count_visib"] - int(visib.sum())) <= max(3, 0.1 * info["px_count_visib"])
                assert info["visib_fract"] == pytest.approx(visib.sum() / max(1, (dist_gt > 0).sum()), abs=0.1)
                if info["px_count_visib"] > 20:
                    ys, xs = visib.nonzero()
                    box = misc.calc_2d_bbox(xs, ys, (w, h))
                    assert np.abs(np.subtract(box, info["bbox_visib"])).max() <= 2
                n += 1
    assert n > 0
    obj_ids = json.loads((bop_dir / "obj_ids.json").read_text())
    assert set(obj_ids["part_ids"]) == {"3001", "3039", "3003"}
