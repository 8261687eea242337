"""Export a store in the BOP format (https://github.com/thodan/bop_toolkit/blob/master/docs/bop_datasets_format.md).

Layout written under ``OUT``::

    OUT/camera.json                        fx, fy, cx, cy, width, height, depth_scale of the first image
    OUT/obj_ids.json                       {"obj_ids": {obj_id: part_id}, "part_ids": {part_id: obj_id}}
    OUT/image_ids.json                     [{scene_id, im_id, record_id, group_id}] for every exported image
    OUT/models/obj_NNNNNN.ply              part meshes in millimetres, LDraw part frame (-Y up)
    OUT/models/models_info.json            diameter, min_*, size_* (mm), symmetries_discrete/continuous
    OUT/models_eval/obj_NNNNNN.ply         the same surfaces with no edge over EVAL_MAX_EDGE_MM (dense vertices
                                           for the BOP toolkit's pose errors), and their models_info.json
    OUT/<split>/<scene 6 digits>/rgb/<im 6 digits>.png
                                 depth/<im>.png           uint16, millimetres = value * depth_scale
                                 mask/<im>_<gt 6 digits>.png       amodal silhouette (ignoring occlusion), 0/255
                                 mask_visib/<im>_<gt 6 digits>.png visible pixels (the store's instance mask), 0/255
                                 scene_camera.json  {im_id: {cam_K, depth_scale, cam_R_w2c, cam_t_w2c (mm)}}
                                 scene_gt.json      {im_id: [{obj_id, cam_R_m2c, cam_t_m2c (mm)}]}, in mask order
                                 scene_gt_info.json {im_id: [{bbox_obj, bbox_visib, px_count_all, px_count_valid,
                                                             px_count_visib, visib_fract}]}

The split defaults to ``train`` (PNG images, so ``bop_toolkit_lib.dataset_params`` with ``split="train"`` and no
split type finds them; BOP's own ``train_pbr`` split expects JPEG). One BOP scene per store group (a rendered
scene); ``scene_id`` is the store scene number when it is numeric, else the group's position. ``im_id`` is the
view number. Object ids are 1, 2, ... over the sorted part ids (the same numbers as COCO category ids).
Poses use the OpenCV camera frame, model-to-camera, translations in mm. ``bbox_obj`` and ``px_count_all`` are
those of ``mask``: the projected model clipped to the image, united with the visible pixels (the rendered
mask can gain an edge pixel over the polygon fill), so ``mask`` always contains ``mask_visib`` and
``visib_fract`` <= 1 (BOP's own tools also count the part outside the image).
Every instance of a record is listed, also fully hidden ones (``px_count_visib`` 0, empty ``mask_visib``).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.core.mesh import Mesh, subdivide, write_ply
from legodata.core.records import Record
from legodata.export.common import MeshCache, copy_image, open_for_export, read_instance_mask, staged_dir
from legodata.scene.ground_truth import bbox_of, silhouette
from legodata.store.store import Store

DEFAULT_SPLIT = "train"
EVAL_MAX_EDGE_MM = 2.0  # models_eval: vertices at most this far apart along every edge (a stud is 4.8 mm across)


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")


def _flat(m) -> list[float]:
    return [float(x) for x in np.asarray(m, dtype=np.float64).reshape(-1)]


def diameter(vertices: np.ndarray) -> float:
    """Largest distance between two vertices (over the convex hull, so it stays cheap for big meshes)."""
    pts = np.asarray(vertices, dtype=np.float64)
    if len(pts) > 4:
        from scipy.spatial import ConvexHull

        try:
            pts = pts[ConvexHull(pts).vertices]
        except Exception:  # flat or degenerate point sets: use all points
            pass
    best = 0.0
    for i in range(0, len(pts), 512):
        d = np.linalg.norm(pts[i : i + 512, None, :] - pts[None, :, :], axis=-1)
        best = max(best, float(d.max()))
    return best


def model_info(mesh_mm: Mesh, symmetry: dict[str, Any] | None) -> dict[str, Any]:
    """One ``models_info.json`` entry for a mesh in mm and a catalogue symmetry dict (translations in metres)."""
    lo, hi = mesh_mm.bounds()
    info: dict[str, Any] = {"diameter": diameter(mesh_mm.vertices)}
    for k, axis in enumerate("xyz"):
        info[f"min_{axis}"] = float(lo[k])
        info[f"size_{axis}"] = float(hi[k] - lo[k])
    symmetry = symmetry or {}
    axes = [np.asarray(c["axis"], float) for c in symmetry.get("continuous_axes", [])]
    discrete = []
    for R, t in zip(symmetry.get("rotations", []), symmetry.get("translations_m", [])):
        R, t = np.asarray(R, float), np.asarray(t, float) * 1000.0
        if np.allclose(R, np.eye(3), atol=1e-9) and np.allclose(t, 0.0, atol=1e-9):
            continue  # BOP lists non-identity elements only
        if any(np.allclose(R @ a, a, atol=1e-9) for a in axes):
            continue  # a turn about a continuous axis: already in symmetries_continuous
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = R, t
        discrete.append(_flat(T))
    if discrete:
        info["symmetries_discrete"] = discrete
    continuous = [
        {"axis": _flat(c["axis"]), "offset": _flat(np.asarray(c["point_m"], float) * 1000.0)}
        for c in symmetry.get("continuous_axes", [])
    ]
    if continuous:
        info["symmetries_continuous"] = continuous
    return info


def _bop_scene_ids(groups: list[str]) -> dict[str, int]:
    if all(g.isdigit() for g in groups) and len({int(g) for g in groups}) == len(groups):
        return {g: int(g) for g in groups}
    return {g: k for k, g in enumerate(groups)}


def _im_ids(records: list[Record]) -> list[int]:
    views = [r.meta.get("view_id") for r in records]
    if all(isinstance(v, int) for v in views) and len(set(views)) == len(views):
        return views
    return list(range(len(records)))


def _write_mask(path: Path, mask: np.ndarray) -> None:
    cv2.imwrite(str(path), mask.astype(np.uint8) * 255)


def export_bop(store: str | Path | Store, out: str | Path, split: str = DEFAULT_SPLIT) -> dict[str, int]:
    """Write ``store`` as a BOP dataset into ``out`` (replaced in one rename). Returns counts."""
    store, catalogue, records, obj_of = open_for_export(store)
    writer = _BopWriter(store, MeshCache(store, catalogue), obj_of)
    groups: OrderedDict[str, list[Record]] = OrderedDict()
    for rec in records:
        groups.setdefault(rec.group_id, []).append(rec)
    scene_of = _bop_scene_ids(list(groups))
    counts = {"scenes": 0, "images": 0, "instances": 0, "objects": len(obj_of)}

    with staged_dir(out) as root:
        writer.models(root, catalogue)
        _dump(
            root / "obj_ids.json",
            {
                "obj_ids": {str(o): p for p, o in obj_of.items()},
                "part_ids": dict(obj_of),
                "note": "BOP obj_id <-> legodata/LDraw part id; models/obj_NNNNNN.ply is that part in mm",
            },
        )
        _dump(root / "camera.json", _camera(records[0]))
        image_ids = []
        for group, recs in groups.items():
            scene_id = scene_of[group]
            for im_id, rec, n_instances in writer.scene(root / split / f"{scene_id:06d}", recs):
                image_ids.append({"scene_id": scene_id, "im_id": im_id, "record_id": rec.record_id, "group_id": group})
                counts["images"] += 1
                counts["instances"] += n_instances
            counts["scenes"] += 1
        _dump(root / "image_ids.json", {"split": split, "images": image_ids})
    return counts


def _camera(first: Record) -> dict[str, Any]:
    """``camera.json``: the intrinsics of the first image."""
    return {
        "cx": first.K[0][2],
        "cy": first.K[1][2],
        "depth_scale": (first.depth_scale_m or 0.0001) * 1000.0,
        "fx": first.K[0][0],
        "fy": first.K[1][1],
        "height": first.height,
        "width": first.width,
    }


class _BopWriter:
    """Writes the models and the scenes of one export (meshes read once, object ids fixed)."""

    def __init__(self, store: Store, meshes: MeshCache, obj_of: dict[str, int]) -> None:
        self.store, self.meshes, self.obj_of = store, meshes, obj_of

    def models(self, root: Path, catalogue: dict[str, Any]) -> None:
        """``models/`` and ``models_eval/`` (meshes in mm) with their ``models_info.json``."""
        models, models_eval = root / "models", root / "models_eval"
        models.mkdir()
        models_eval.mkdir()
        infos = {}
        for part_id, obj_id in self.obj_of.items():
            mesh_mm = self.meshes.get(part_id).scaled(1000.0)
            write_ply(mesh_mm, models / f"obj_{obj_id:06d}.ply")
            write_ply(subdivide(mesh_mm, EVAL_MAX_EDGE_MM), models_eval / f"obj_{obj_id:06d}.ply")
            infos[str(obj_id)] = model_info(mesh_mm, (catalogue.get(part_id) or {}).get("symmetry"))
        _dump(models / "models_info.json", infos)
        _dump(models_eval / "models_info.json", infos)  # same surfaces, so the same sizes and symmetries

    def scene(self, scene_dir: Path, recs: list[Record]) -> list[tuple[int, Record, int]]:
        """Write one BOP scene; returns ``(im_id, record, number of instances)`` per image written."""
        for sub in ("rgb", "depth", "mask", "mask_visib"):
            (scene_dir / sub).mkdir(parents=True)
        scene_camera, scene_gt, scene_gt_info, written = {}, {}, {}, []
        for im_id, rec in zip(_im_ids(recs), recs):
            depth, scene_camera[str(im_id)] = self._view(scene_dir, f"{im_id:06d}", rec)
            gts, gt_infos = self._instances(scene_dir, f"{im_id:06d}", rec, depth)
            scene_gt[str(im_id)] = gts
            scene_gt_info[str(im_id)] = gt_infos
            written.append((im_id, rec, len(gts)))
        _dump(scene_dir / "scene_camera.json", scene_camera)
        _dump(scene_dir / "scene_gt.json", scene_gt)
        _dump(scene_dir / "scene_gt_info.json", scene_gt_info)
        return written

    def _view(self, scene_dir: Path, name: str, rec: Record) -> tuple[np.ndarray | None, dict[str, Any]]:
        """Copy the image (and depth) of ``rec``; returns the depth array (or None) and its ``scene_camera`` entry."""
        root = self.store.root
        copy_image(root / rec.image_path, scene_dir / "rgb" / f"{name}.png")
        depth = None
        if rec.depth_path:
            copy_image(root / rec.depth_path, scene_dir / "depth" / f"{name}.png")
            depth = cv2.imread(str(root / rec.depth_path), cv2.IMREAD_UNCHANGED)
        cam = {"cam_K": _flat(rec.K), "depth_scale": (rec.depth_scale_m or 0.0001) * 1000.0}
        if "R_w2c" in rec.meta and "t_w2c" in rec.meta:
            cam["cam_R_w2c"] = _flat(rec.meta["R_w2c"])
            cam["cam_t_w2c"] = _flat(np.asarray(rec.meta["t_w2c"], float) * 1000.0)
        return depth, cam

    def _instances(self, scene_dir: Path, name: str, rec: Record, depth: np.ndarray | None):
        """The amodal and visible masks of every instance of ``rec``; returns its ``scene_gt`` and
        ``scene_gt_info`` entries."""
        ids = read_instance_mask(self.store, rec)
        K = np.asarray(rec.K, float)
        gts, gt_infos = [], []
        for gt_idx, inst in enumerate(rec.instances):
            R, t = np.asarray(inst.R_m2c, float), np.asarray(inst.t_m2c, float)
            full = silhouette(self.meshes.get(inst.part_id), K, R, t, rec.width, rec.height)
            visib = ids == inst.instance_id
            full = full | visib  # the renderer's mask can gain an edge pixel over the polygon fill
            _write_mask(scene_dir / "mask" / f"{name}_{gt_idx:06d}.png", full)
            _write_mask(scene_dir / "mask_visib" / f"{name}_{gt_idx:06d}.png", visib)
            gts.append({"obj_id": self.obj_of[inst.part_id], "cam_R_m2c": _flat(R), "cam_t_m2c": _flat(t * 1000.0)})
            gt_infos.append(_gt_info(full, visib, depth))
        return gts, gt_infos


def _gt_info(full: np.ndarray, visib: np.ndarray, depth: np.ndarray | None) -> dict[str, Any]:
    """One ``scene_gt_info`` entry from the amodal and visible masks (and the depth, for ``px_count_valid``)."""
    valid = int((full & (depth > 0)).sum()) if depth is not None else int(full.sum())
    px_all, px_visib = int(full.sum()), int(visib.sum())
    return {
        "bbox_obj": list(bbox_of(full)),
        "bbox_visib": list(bbox_of(visib)),
        "px_count_all": px_all,
        "px_count_valid": valid,
        "px_count_visib": px_visib,
        "visib_fract": px_visib / px_all if px_all else 0.0,
    }
