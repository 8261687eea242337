"""BOP, COCO and preview of a real rendered store, read back by independent readers written here."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial import cKDTree
from support.raycast import boundary_band, raycast_depth

import legodata
from legodata.store.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from legodata.export import export

    root = tmp_path_factory.mktemp("export")
    legodata.render(str(root / "ds"), scenes=2, views=2, resolution=64, seed=1, parts="3001,3039,3003", preset="fast")
    store = Store(root / "ds")
    counts = export(store.root, root / "out", "bop,coco")
    return store, root / "out", counts


# --- an independent BOP reader ---------------------------------------------------------------------------------


def read_ply_mm(path: Path) -> tuple[np.ndarray, np.ndarray]:
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode().splitlines()
    assert header[1] == "format binary_little_endian 1.0"
    counts = {ln.split()[1]: int(ln.split()[2]) for ln in header if ln.startswith("element")}
    nv, nf = counts["vertex"], counts["face"]
    v = np.frombuffer(data[end : end + nv * 12], "<f4").reshape(nv, 3).astype(float)
    rec = np.frombuffer(data[end + nv * 12 :], np.dtype([("n", "u1"), ("i", "<i4", 3)]), count=nf)
    assert (rec["n"] == 3).all()
    return v, rec["i"].astype(int)


def read_bop(out: Path):
    """{(scene_id, im_id): {"K", "depth_scale", "gts": [{obj_id, R, t_mm, mask, mask_visib, info}]}}."""
    images = {}
    for scene_dir in sorted((out / "train").iterdir()):
        cam = json.loads((scene_dir / "scene_camera.json").read_text())
        gt = json.loads((scene_dir / "scene_gt.json").read_text())
        info = json.loads((scene_dir / "scene_gt_info.json").read_text())
        assert set(cam) == set(gt) == set(info)
        for im in cam:
            name = f"{int(im):06d}"
            assert (scene_dir / "rgb" / f"{name}.png").is_file() and (scene_dir / "depth" / f"{name}.png").is_file()
            gts = []
            for k, (g, i) in enumerate(zip(gt[im], info[im], strict=True)):
                m = cv2.imread(str(scene_dir / "mask" / f"{name}_{k:06d}.png"), cv2.IMREAD_UNCHANGED)
                mv = cv2.imread(str(scene_dir / "mask_visib" / f"{name}_{k:06d}.png"), cv2.IMREAD_UNCHANGED)
                assert m.dtype == np.uint8 and set(np.unique(m)) <= {0, 255} and set(np.unique(mv)) <= {0, 255}
                gts.append(
                    {
                        "obj_id": g["obj_id"],
                        "R": np.array(g["cam_R_m2c"]).reshape(3, 3),
                        "t_mm": np.array(g["cam_t_m2c"]),
                        "mask": m > 0,
                        "mask_visib": mv > 0,
                        "info": i,
                    }
                )
            images[(int(scene_dir.name), int(im))] = {
                "K": np.array(cam[im]["cam_K"]).reshape(3, 3),
                "depth_scale": cam[im]["depth_scale"],
                "depth": cv2.imread(str(scene_dir / "depth" / f"{name}.png"), cv2.IMREAD_UNCHANGED),
                "gts": gts,
            }
    return images


def test_bop_round_trip(exported):
    store, out, counts = exported
    bop = read_bop(out / "bop")
    obj_ids = json.loads((out / "bop" / "obj_ids.json").read_text())
    records = list(store.iter_records())
    assert len(bop) == len(records) == counts["bop"]["images"]
    models = {int(o): read_ply_mm(out / "bop" / "models" / f"obj_{int(o):06d}.ply") for o in obj_ids["obj_ids"]}
    for rec in records:
        img = bop[(int(rec.meta["scene_id"]), rec.meta["view_id"])]
        np.testing.assert_allclose(img["K"], rec.K)
        ids = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED)
        depth_m = cv2.imread(str(store.root / rec.depth_path), cv2.IMREAD_UNCHANGED) * rec.depth_scale_m
        np.testing.assert_allclose(img["depth"] * img["depth_scale"], depth_m * 1000.0, atol=1e-6)
        assert len(img["gts"]) == len(rec.instances)
        for g, inst in zip(img["gts"], rec.instances):
            assert obj_ids["obj_ids"][str(g["obj_id"])] == inst.part_id
            np.testing.assert_allclose(g["R"], inst.R_m2c, atol=1e-12)
            np.testing.assert_allclose(g["t_mm"], np.array(inst.t_m2c) * 1000.0, atol=1e-9)
            np.testing.assert_array_equal(g["mask_visib"], ids == inst.instance_id)
            assert (g["mask"] | g["mask_visib"] == g["mask"]).all()  # amodal contains visible
            # the model in mm, projected with the BOP pose, covers the amodal mask up to a pixel at edges
            v, f = models[g["obj_id"]]
            tris = (v @ g["R"].T + g["t_mm"])[f]
            proj = np.isfinite(raycast_depth(tris, img["K"], rec.width, rec.height))
            diff = proj != g["mask"]
            assert not (diff & ~boundary_band(proj.astype(np.uint8))).any()
            i = g["info"]
            assert i["px_count_visib"] == g["mask_visib"].sum() and i["px_count_all"] == g["mask"].sum()
            assert i["visib_fract"] == (i["px_count_visib"] / i["px_count_all"] if i["px_count_all"] else 0.0)
            assert i["px_count_valid"] <= i["px_count_all"]
            if i["px_count_visib"]:
                ys, xs = np.nonzero(g["mask_visib"])
                assert i["bbox_visib"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


def test_bop_models_match_catalogue_and_symmetries(exported):
    store, out, _ = exported
    obj_ids = json.loads((out / "bop" / "obj_ids.json").read_text())
    info = json.loads((out / "bop" / "models" / "models_info.json").read_text())
    catalogue = store.read_manifest()["catalogue"]
    seen_sym = 0
    for o, part_id in obj_ids["obj_ids"].items():
        assert obj_ids["part_ids"][part_id] == int(o)
        v, f = read_ply_mm(out / "bop" / "models" / f"obj_{int(o):06d}.ply")
        cat_v, cat_f = read_ply_mm(store.root / catalogue[part_id]["mesh_path"])
        np.testing.assert_allclose(v, cat_v * 1000.0, rtol=1e-6, atol=1e-4)
        np.testing.assert_array_equal(f, cat_f)
        e = info[o]
        np.testing.assert_allclose([e["min_x"], e["min_y"], e["min_z"]], v.min(0), atol=1e-4)
        np.testing.assert_allclose([e["size_x"], e["size_y"], e["size_z"]], v.max(0) - v.min(0), atol=1e-4)
        d = np.linalg.norm(v[:, None] - v[None], axis=-1).max()
        assert e["diameter"] == pytest.approx(d, abs=1e-4)
        n_sym = len(catalogue[part_id]["symmetry"]["rotations"]) - 1
        assert len(e.get("symmetries_discrete", [])) == n_sym
        tree = cKDTree(v)
        for flat in e.get("symmetries_discrete", []):
            T = np.array(flat).reshape(4, 4)
            assert np.allclose(T[3], [0, 0, 0, 1]) and np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3))
            moved = v @ T[:3, :3].T + T[:3, 3]
            assert tree.query(moved)[0].max() < 1e-2  # mm: every vertex lands on a vertex
            seen_sym += 1
    assert seen_sym > 0  # 3001 and 3003 are symmetric


def test_coco_loads_in_pycocotools(exported):
    from pycocotools.coco import COCO

    store, out, counts = exported
    coco = COCO(str(out / "coco" / "annotations.json"))
    catalogue = store.read_manifest()["catalogue"]
    obj_ids = json.loads((out / "bop" / "obj_ids.json").read_text())["part_ids"]
    cats = {c["id"]: c for c in coco.loadCats(coco.getCatIds())}
    assert {c["name"] for c in cats.values()} == set(catalogue)
    for c in cats.values():
        assert c["supercategory"] == catalogue[c["name"]]["kind"] and obj_ids[c["name"]] == c["id"]
    records = {r.record_id: r for r in store.iter_records()}
    n_ann = 0
    for img in coco.loadImgs(coco.getImgIds()):
        rec = records[img["record_id"]]
        assert (out / "coco" / img["file_name"]).is_file()
        np.testing.assert_allclose(img["K"], rec.K)
        ids = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        by_instance = {a["instance_id"]: a for a in anns}
        for inst in rec.instances:
            truth = ids == inst.instance_id
            if not truth.any():
                assert inst.instance_id not in by_instance
                continue
            a = by_instance[inst.instance_id]
            np.testing.assert_array_equal(coco.annToMask(a).astype(bool), truth)
            assert cats[a["category_id"]]["name"] == inst.part_id and a["iscrowd"] == 0
            assert a["area"] == truth.sum() and a["bbox"] == list(inst.bbox_visib)
            np.testing.assert_allclose(a["quat_m2c_wxyz"], inst.quat_m2c_wxyz)
            np.testing.assert_allclose(a["R_m2c"], inst.R_m2c)
            np.testing.assert_allclose(a["t_m2c"], inst.t_m2c)
            n_ann += 1
    assert n_ann == counts["coco"]["annotations"] > 0


def test_preview_sheet(exported, tmp_path):
    from legodata.contact_sheet import palette_bgr
    from legodata.preview import TILE, preview, project_axes

    store, _, _ = exported
    path = preview(store.root, tmp_path / "sheet.png", n=3)
    sheet = cv2.imread(str(path))
    assert sheet.shape == (2 * TILE, 2 * TILE, 3)  # 3 tiles: 2 columns, 2 rows
    records = list(store.iter_records())
    shown = [records[0], records[2], records[3]]  # 3 of 4, spread evenly
    tinted = 0
    for k, rec in enumerate(shown):
        r, c = divmod(k, 2)
        tile = sheet[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE].astype(float)
        image = cv2.imread(str(store.root / rec.image_path)).astype(float)
        mask = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED)
        s = TILE / rec.width  # square images fill the tile; source pixel (u, v) has its centre at s*u + (s-1)/2
        for inst in rec.instances:
            inside = cv2.erode((mask == inst.instance_id).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            vs, us = np.nonzero(inside)
            if len(us) < 10:
                continue
            got = tile[np.round(s * vs + (s - 1) / 2).astype(int), np.round(s * us + (s - 1) / 2).astype(int)]
            own = 0.55 * image[vs, us] + 0.45 * np.array(palette_bgr(inst.instance_id), float)
            other = 0.55 * image[vs, us] + 0.45 * np.array(palette_bgr(inst.instance_id + 1), float)
            # axes and labels cover up to a third of a small part; everywhere else it is tinted in its own colour
            assert (np.abs(got - own).max(axis=1) <= 1.5).mean() > 0.5, (rec.record_id, inst.instance_id)
            assert (np.abs(got - other).max(axis=1) <= 1.5).mean() < 0.1
            assert (np.abs(got - image[vs, us]).max(axis=1) <= 1.5).mean() < 0.1  # not the untinted image
            tinted += 1
    assert tinted >= 3
    n = 0
    for rec in store.iter_records():
        for inst in rec.instances:
            if inst.visib_fract < 0.5:
                continue
            u, v = project_axes(rec.K, inst.R_m2c, inst.t_m2c, 0.01)[0]
            x, y, w, h = inst.bbox_obj
            assert x - 3 <= u <= x + w + 3 and y - 3 <= v <= y + h + 3
            n += 1
    assert n > 0


def test_cli_export_and_preview(exported, tmp_path):
    from typer.testing import CliRunner

    from legodata.cli import app

    store, _, _ = exported
    r = CliRunner().invoke(app, ["export", str(store.root), "--format", "coco", "--out", str(tmp_path / "x")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "x" / "coco" / "annotations.json").is_file() and not (tmp_path / "x" / "bop").exists()
    r = CliRunner().invoke(app, ["preview", str(store.root), "--out", str(tmp_path / "p.png"), "--n", "1"])
    assert r.exit_code == 0, r.output
    assert cv2.imread(str(tmp_path / "p.png")).shape == (320, 320, 3)
