"""Exporters and preview on a hand-built store (no Blender): edge cases and helpers."""

import json

import cv2
import numpy as np
import pytest
from support.raycast import boundary_band, raycast_depth

from legodata.core.mesh import read_ply, write_ply
from legodata.core.records import Instance, Record
from legodata.errors import LegodataError
from legodata.export import export, parse_formats
from legodata.export.bop import EVAL_MAX_EDGE_MM, model_info
from legodata.parts.catalogue import get_part
from legodata.preview import pick, preview, project_axes, sheet_shape

W = H = 64
K = ((100.0, 0.0, 31.5), (0.0, 100.0, 31.5), (0.0, 0.0, 1.0))
EYE = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def _inst(k, t, box, px):
    return Instance(k, "3003", 4, EYE, t, (1.0, 0.0, 0.0, 0.0), box, box, px, px, 1.0 if px else 0.0)


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "ds"
    part = get_part("3003")
    (root / "models").mkdir(parents=True)
    write_ply(part.mesh, root / "models" / "3003.ply")
    catalogue = {"3003": {"name": part.info.name, "kind": part.info.kind, "mesh_path": "models/3003.ply"}}
    catalogue["3003"]["symmetry"] = part.symmetry.to_json()
    (root / "manifest.json").write_text(json.dumps({"schema_version": 1, "catalogue": catalogue}))
    scene = root / "scenes" / "000007"
    for sub in ("rgb", "mask"):
        (scene / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(scene / "rgb" / "0000.png"), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    mask = np.zeros((H, W), np.uint16)
    mask[20:40, 25:45] = 1  # instance 2 is fully hidden
    cv2.imwrite(str(scene / "mask" / "0000.png"), mask)
    rec = Record(
        record_id="000007_0000",
        source="render",
        group_id="000007",
        image_path="scenes/000007/rgb/0000.png",
        width=W,
        height=H,
        K=K,
        instances=(_inst(1, (0.0, 0.0, 0.2), (25, 20, 20, 20), 400), _inst(2, (0.0, 0.0, 0.3), (-1, -1, -1, -1), 0)),
        mask_path="scenes/000007/mask/0000.png",
        meta={"scene_id": "000007", "view_id": 0},
    )
    (scene / "records.jsonl").write_text(rec.to_json() + "\n")
    return root


def test_parse_formats():
    assert parse_formats("coco, bop,coco") == ["coco", "bop"]
    with pytest.raises(LegodataError, match="xyz"):
        parse_formats("bop,xyz")
    with pytest.raises(LegodataError):
        parse_formats("")


def test_hidden_instances_bop_keeps_coco_skips(store, tmp_path):
    from pycocotools.coco import COCO

    counts = export(store, tmp_path / "out", "bop,coco")
    assert counts["coco"] == {"images": 1, "annotations": 1, "skipped_hidden": 1}
    scene = tmp_path / "out" / "bop" / "train" / "000007"
    gt = json.loads((scene / "scene_gt.json").read_text())["0"]
    info = json.loads((scene / "scene_gt_info.json").read_text())["0"]
    assert [g["obj_id"] for g in gt] == [1, 1] and gt[1]["cam_t_m2c"] == pytest.approx([0, 0, 300])
    assert info[1]["px_count_visib"] == 0 and info[1]["visib_fract"] == 0.0 and info[1]["bbox_visib"] == [-1] * 4
    assert info[1]["px_count_all"] > 0  # the amodal silhouette is there
    assert not cv2.imread(str(scene / "mask_visib" / "000000_000001.png"), cv2.IMREAD_UNCHANGED).any()
    assert not (scene / "depth" / "000000.png").exists()  # the record has no depth
    bop = tmp_path / "out" / "bop"
    assert json.loads((bop / "models_eval" / "models_info.json").read_text()) == json.loads(
        (bop / "models" / "models_info.json").read_text()
    )
    coarse, dense = (read_ply(bop / d / "obj_000001.ply") for d in ("models", "models_eval"))
    assert len(dense.vertices) > 5 * len(coarse.vertices)
    assert dense.area() == pytest.approx(coarse.area(), rel=1e-6)  # same surface, in mm like models/
    assert (
        np.linalg.norm(dense.triangles - np.roll(dense.triangles, 1, axis=1), axis=2).max() <= EVAL_MAX_EDGE_MM + 1e-3
    )
    for a, b in zip(dense.bounds(), coarse.bounds()):
        np.testing.assert_allclose(a, b, atol=1e-3)
    mesh_mm = get_part("3003").mesh.scaled(1000.0)
    for k, g in [(1, gt[1])]:  # the hidden part's amodal mask is its projected model
        amodal = cv2.imread(str(scene / "mask" / f"000000_{k:06d}.png"), cv2.IMREAD_UNCHANGED) > 0
        tris = mesh_mm.triangles @ np.reshape(g["cam_R_m2c"], (3, 3)).T + g["cam_t_m2c"]
        proj = np.isfinite(raycast_depth(tris, np.array(K), W, H))
        assert proj.sum() > 10 and not ((proj != amodal) & ~boundary_band(proj.astype(np.uint8))).any()
    coco = COCO(str(tmp_path / "out" / "coco" / "annotations.json"))
    (ann,) = coco.loadAnns(coco.getAnnIds())
    assert ann["instance_id"] == 1 and ann["bbox"] == [25, 20, 20, 20] and ann["area"] == 400


def test_export_replaces_only_its_own_output(store, tmp_path):
    out = tmp_path / "out"
    export(store, out, "coco")
    (out / "coco" / "stale.txt").write_text("x")
    export(store, out, "coco")  # an earlier export is replaced whole
    assert not (out / "coco" / "stale.txt").exists()
    (tmp_path / "mine" / "coco").mkdir(parents=True)
    (tmp_path / "mine" / "coco" / "thesis.tex").write_text("x")
    with pytest.raises(LegodataError, match="not a legodata export"):
        export(store, tmp_path / "mine", "coco")
    assert (tmp_path / "mine" / "coco" / "thesis.tex").is_file()
    with pytest.raises(LegodataError, match="not a legodata dataset"):
        export(tmp_path / "nothing", out, "bop")


def test_model_info_symmetries_in_mm():
    mesh = get_part("3003").mesh.scaled(1000.0)
    sym = {
        "rotations": [np.eye(3).tolist(), [[1, 0, 0], [0, -1, 0], [0, 0, -1]], [[-1, 0, 0], [0, 1, 0], [0, 0, -1]]],
        "translations_m": [[0, 0, 0], [0.001, 0, 0.002], [0.008, 0, 0]],
        "continuous_axes": [{"axis": [0, 1, 0], "point_m": [0.004, 0, 0]}],
    }
    info = model_info(mesh, sym)
    (T,) = info["symmetries_discrete"]  # the half turn about the continuous Y axis is left to symmetries_continuous
    assert np.reshape(T, (4, 4))[:3, :3].tolist() == sym["rotations"][1]
    assert np.reshape(T, (4, 4))[:3, 3].tolist() == [1.0, 0.0, 2.0] and T[12:] == [0, 0, 0, 1]
    assert info["symmetries_continuous"] == [{"axis": [0.0, 1.0, 0.0], "offset": [4.0, 0.0, 0.0]}]
    assert info["size_x"] == pytest.approx(16.0, abs=1e-3)
    assert "symmetries_discrete" not in model_info(
        mesh, {"rotations": [np.eye(3).tolist()], "translations_m": [[0] * 3]}
    )


def test_preview_helpers_and_sheet(store, tmp_path):
    assert pick(10, 3) == [0, 4, 9] and pick(2, 16) == [0, 1]
    assert sheet_shape(16, 100) == (400, 400) and sheet_shape(5, 100) == (200, 300) and sheet_shape(1, 10) == (10, 10)
    uv = project_axes(K, EYE, (0.0, 0.0, 0.2), 0.01)
    np.testing.assert_allclose(uv, [[31.5, 31.5], [36.5, 31.5], [31.5, 36.5], [31.5, 31.5]])
    path = preview(store, tmp_path / "s.png", n=4)
    assert cv2.imread(str(path)).shape == (320, 320, 3)
    assert preview(store) == store / "preview.png"
