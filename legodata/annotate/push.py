"""``annotate push``: photos (with a camera file) or a store become Label Studio tasks.

One task per (photo, part): for a folder of photos, each photo with each ``--parts`` part (or the project's only
part); for a store, each instance with enough visible pixels. Images are served from where they are through a
local-files storage of the project (nothing is uploaded). Pictures made for annotators (keypoint references,
candidate sheets, pose overlays) go to an assets folder beside the source (``PHOTOS_DIR/.legodata-annotate`` or
``STORE/annotate-assets``), which the same storage covers.

A task's ``data.legodata`` carries what ``pull`` needs: the part, K and distortion at the photo's size, the photo's
path and group, the candidate rotations, and (mask/review projects) the pose to check. Its ``key`` (photo path, part,
instance) makes pushing the same images again add nothing.

Pre-annotations from trained runs: ``--mask-model`` (train-mask) paints the part's mask as a brush region;
``--rot-model`` (train-rot) proposes the pose: its answer and the usual confusions (half turns about the part's
axes) become the candidates, the answer is pre-selected and its visible keypoints pre-placed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from legodata.annotate import configs
from legodata.annotate.camera_info import CameraInfo, load_camera_info
from legodata.annotate.candidates import axis_aligned_candidates, distinct, flips, ray_rotation
from legodata.annotate.client import (
    api_error,
    connect,
    ensure_local_storage,
    find_project,
    iter_tasks,
    local_file_url,
)
from legodata.annotate.keypoints import catalogue_keypoints, keypoint_array
from legodata.annotate.pnp import percent_from_pixel, project_points, translation_from_mask
from legodata.errors import LegodataError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
BATCH = 50


@dataclass
class TaskInput:
    image: Path  # absolute
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray
    part_id: str
    colour_code: int | None
    group: str
    source_record: str | None = None
    instance_id: int | None = None
    hint: str = ""
    mask: np.ndarray | None = None  # known visible mask (a store's)
    pose: tuple[np.ndarray, np.ndarray] | None = None  # known pose (a store's), shown only to mask/review projects

    @property
    def key(self) -> str:
        text = f"{self.image}|{self.part_id}|{self.instance_id if self.instance_id is not None else ''}"
        return hashlib.sha1(text.encode()).hexdigest()[:20]


@dataclass
class PushSummary:
    project_id: int
    added: int
    skipped: int  # already in the project
    predictions: int
    assets_dir: str
    task_ids: list[int] = field(default_factory=list)


def push(
    source: str | Path,
    project: str,
    *,
    camera: str | Path | None = None,
    parts: str | None = None,
    colour: int | None = None,
    session: str | None = None,
    mask_model: str | Path | None = None,
    rot_model: str | Path | None = None,
    min_px: int = 50,
    files_root: str | Path = "/",
    assets_dir: str | Path | None = None,
    url: str | None = None,
    client=None,
) -> PushSummary:
    """Add the tasks of ``source`` (a folder of photos or a store) to ``project`` (see the module doc)."""
    from legodata.store.store import Store

    source = Path(source).resolve()
    if not source.is_dir():
        raise LegodataError(f"{source} is not a folder of photos or a store")
    if camera is None and not Store(source).exists():
        raise LegodataError(
            "real photos need the camera's intrinsics: pass --camera CAMERA.yaml "
            "(an OpenCV or ROS camera_info calibration file)"
        )
    client = client or connect(url)
    proj = find_project(client, project)
    meta = configs.project_meta(proj.description, project)
    kind, ldraw_dir = meta["kind"], meta.get("ldraw_dir")
    project_parts = list(meta["parts"])
    if Store(source).exists():
        items = _store_items(Store(source), project_parts, min_px, session)
        assets = Path(assets_dir or source / "annotate-assets")
    else:
        items = _photo_items(source, camera, _push_parts(parts, project_parts, ldraw_dir), colour, session)
        assets = Path(assets_dir or source / ".legodata-annotate")
    if kind in ("mask", "review") and rot_model is None and any(i.pose is None for i in items):
        raise LegodataError(f"a {kind} project checks a pose: push a store, or photos with --rot-model (and a mask)")
    existing = set()
    for task in iter_tasks(client, int(proj.id)):
        key = ((task.data or {}).get("legodata") or {}).get("key")
        if key:
            existing.add(key)
    todo = [i for i in items if i.key not in existing]
    assets = assets.resolve()
    assets.mkdir(parents=True, exist_ok=True)
    summary = PushSummary(int(proj.id), 0, len(items) - len(todo), 0, str(assets))
    if not todo:
        return summary
    for directory in sorted({i.image.parent for i in todo} | {assets}):
        ensure_local_storage(client, int(proj.id), directory, files_root)

    models = _Models(mask_model, rot_model)
    if mask_model is not None and any(i.colour_code is None for i in todo):
        raise LegodataError("--mask-model asks for a part of a colour: pass --colour CODE (an LDraw colour code)")
    version = models.version()
    payload: list[dict[str, Any]] = []
    for item in todo:
        task = _task(item, kind, assets, files_root, ldraw_dir, models)
        if any(r["from_name"] != "part" for r in task["predictions"][0]["result"]):
            summary.predictions += 1  # a model's (the part choice every task gets pre-selected does not count)
        payload.append(task)
        if len(payload) == BATCH:
            summary.task_ids += _import(client, int(proj.id), payload)
            payload = []
    if payload:
        summary.task_ids += _import(client, int(proj.id), payload)
    summary.added = len(todo)
    try:
        client.projects.update(id=int(proj.id), show_collab_predictions=True, model_version=version)
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, "turning on pre-annotations") from None
    return summary


def _import(client, project_id: int, tasks: list[dict]) -> list[int]:
    try:
        r = client.projects.import_tasks(project_id, request=tasks, return_task_ids=True)
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, f"importing {len(tasks)} tasks") from None
    return list(getattr(r, "task_ids", None) or [])


def _push_parts(parts: str | None, project_parts: list[str], ldraw_dir) -> list[str]:
    if parts:
        from legodata.parts.catalogue import parse_part_list

        chosen = list(parse_part_list(parts, ldraw_dir))
        missing = [p for p in chosen if p not in project_parts]
        if missing:
            raise LegodataError(f"part {missing[0]} is not in this project (its parts: {', '.join(project_parts)})")
        return chosen
    if len(project_parts) == 1:
        return project_parts
    raise LegodataError(f"which parts do the photos show? pass --parts (the project has {', '.join(project_parts)})")


def _group_name(text: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return safe.strip("._") or "photo"


def _photo_items(folder: Path, camera, parts: list[str], colour, session) -> list[TaskInput]:
    import cv2

    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not photos:
        raise LegodataError(f"{folder} holds no photos ({', '.join(IMAGE_SUFFIXES)})")
    cam: CameraInfo = load_camera_info(camera)
    items = []
    for photo in photos:
        header = cv2.imread(str(photo), cv2.IMREAD_UNCHANGED)
        if header is None:
            raise LegodataError(f"{photo} does not decode as an image")
        h, w = header.shape[:2]
        c = cam.for_image(w, h, photo)
        group = _group_name(session) if session else _group_name(f"{photo.stem}-{_short_hash(photo)}")
        for pid in parts:
            items.append(TaskInput(photo.resolve(), w, h, c.K, c.dist, pid, colour, group))
    return items


def _short_hash(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def _store_items(store, project_parts: list[str], min_px: int, session) -> list[TaskInput]:
    import cv2

    items = []
    for rec in store.iter_records():
        chosen = [i for i in rec.instances if i.part_id in project_parts and i.px_count_visib >= min_px]
        if not chosen:
            continue
        mask = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED) if rec.mask_path else None
        same_part = {p: sum(1 for i in chosen if i.part_id == p) for p in {i.part_id for i in chosen}}
        dist = np.asarray((rec.meta.get("camera") or {}).get("dist", []), float)
        for inst in chosen:
            hint = ""
            if same_part[inst.part_id] > 1 and inst.bbox_visib[0] >= 0:
                x, y, w, h = inst.bbox_visib
                hint = f" (the one around pixel x={x + w // 2}, y={y + h // 2})"
            items.append(
                TaskInput(
                    image=(store.root / rec.image_path).resolve(),
                    width=rec.width,
                    height=rec.height,
                    K=np.asarray(rec.K, float),
                    dist=dist,
                    part_id=inst.part_id,
                    colour_code=inst.colour_code,
                    group=_group_name(session) if session else _group_name(rec.group_id),
                    source_record=rec.record_id,
                    instance_id=inst.instance_id,
                    hint=hint,
                    mask=(mask == inst.instance_id) if mask is not None else None,
                    pose=(np.asarray(inst.R_m2c, float), np.asarray(inst.t_m2c, float)),
                )
            )
    return items


class _Models:
    """Trained runs for pre-annotations, loaded on first use."""

    def __init__(self, mask_run, rot_run) -> None:
        self.mask_run, self.rot_run = mask_run, rot_run
        self._mask = self._rot = None

    def version(self) -> str:
        names = [Path(r).name for r in (self.mask_run, self.rot_run) if r is not None]
        return "legodata:" + ("+".join(names) if names else "push")

    def mask(self):
        if self._mask is None:
            from legodata.train.predict import MaskPredictor

            self._mask = MaskPredictor(self.mask_run)
        return self._mask

    def rot(self):
        if self._rot is None:
            from legodata.train.predict import RotationPredictor

            self._rot = RotationPredictor(self.rot_run)
        return self._rot


def _instruction(kind: str, item: TaskInput, name: str) -> str:
    part = f"{item.part_id} {name}{item.hint}"
    if kind == "rotation":
        return (
            f"{part}: click at least 4 of its numbered keypoints (reference on the right; more is better), "
            "or pick the closest orientation below; paint its visible pixels with the brush if you can."
        )
    if kind == "mask":
        return f"{part}: paint every visible pixel of the part with the brush (fix the proposal if there is one)."
    return f"{part}: is the outline on the right where the part is, and is the painted mask right?"


def _task(item: TaskInput, kind: str, assets: Path, files_root, ldraw_dir, models: _Models) -> dict:
    import cv2

    from legodata.parts.catalogue import get_part

    part = get_part(item.part_id, ldraw_dir)
    sym = part.symmetry.sampled()
    image_rgb = None
    if models.mask_run is not None or models.rot_run is not None or kind in ("mask", "review"):
        bgr = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
        image_rgb = bgr[:, :, ::-1].copy()
    results: list[dict] = []
    score = None
    mask = item.mask
    if models.mask_run is not None:
        mask = models.mask().predict(image_rgb, item.part_id, int(item.colour_code))
        if mask.any():
            results.append(_brush_result(mask, item.width, item.height))
    elif kind in ("mask", "review") and mask is not None and mask.any():
        results.append(_brush_result(mask, item.width, item.height))

    pose = item.pose if kind in ("mask", "review") else None
    cand_R, cand_from = None, "axis-aligned"
    if models.rot_run is not None and mask is not None and mask.any():
        pred = models.rot().predict_instance(image_rgb, mask, item.part_id, item.K)
        score = float(pred.confidence)
        t = translation_from_mask(part.mesh, item.K, pred.R_m2c, mask)
        if pose is None or kind == "rotation":
            pose = (pred.R_m2c, t)
        ys, xs = np.nonzero(mask)
        ray = ray_rotation(item.K, float(xs.mean()), float(ys.mean()))
        allo = ray.T @ pred.R_m2c
        cand_R = distinct([allo, *flips(allo)], sym)
        cand_from = f"model:{Path(models.rot_run).name}"
        if kind == "rotation":
            results.append(_choice_result("candidate", "1"))
            results += _keypoint_results(item, part, ldraw_dir, pred.R_m2c, t)

    data: dict[str, Any] = {"image": local_file_url(item.image, files_root)}
    lego: dict[str, Any] = {
        "key": item.key,
        "part_id": item.part_id,
        "colour_code": item.colour_code,
        "K": np.asarray(item.K).tolist(),
        "dist": np.asarray(item.dist).ravel().tolist(),
        "width": item.width,
        "height": item.height,
        "photo": str(item.image),
        "group": item.group,
        "source_record": item.source_record,
        "instance_id": item.instance_id,
    }
    if kind == "rotation":
        ref = assets / f"reference-{_group_name(item.part_id)}.png"
        if not ref.is_file():
            _write_rgb(ref, _reference(item.part_id, ldraw_dir))
        data["reference"] = local_file_url(ref, files_root)
        if cand_R is None:
            cand_R, picture = _axis_sheet(item.part_id, ldraw_dir)
            sheet = assets / f"candidates-{_group_name(item.part_id)}.png"
        else:
            from legodata.annotate.drawing import candidate_sheet

            picture = None
            sheet = assets / f"candidates-{item.key}-{_group_name(Path(models.rot_run).name)}.png"
        if not sheet.is_file():
            if picture is None:
                picture = candidate_sheet(part.mesh, cand_R, f"{item.part_id}: pick the closest orientation")
            _write_rgb(sheet, picture)
        data["candidates"] = local_file_url(sheet, files_root)
        data["candidate_choices"] = [{"value": str(k)} for k in range(1, len(cand_R) + 1)]
        lego["candidates_R"] = np.round(cand_R, 9).tolist()
        lego["candidates_from"] = cand_from
    else:
        if pose is None:
            raise LegodataError(f"{item.image}: no pose to show ({kind} projects need a store or --rot-model)")
        from legodata.annotate.drawing import pose_overlay

        overlay = assets / f"overlay-{item.key}.png"
        _write_rgb(overlay, pose_overlay(image_rgb, part.mesh, item.K, pose[0], pose[1]))
        data["overlay"] = local_file_url(overlay, files_root)
        lego["pose"] = {"R_m2c": np.asarray(pose[0]).tolist(), "t_m2c": np.asarray(pose[1]).tolist()}
    data["instruction"] = _instruction(kind, item, part.info.name)
    data["legodata"] = lego
    results.insert(0, _choice_result("part", item.part_id))
    prediction = {"model_version": models.version(), "result": results}
    if score is not None:
        prediction["score"] = score
    return {"data": data, "predictions": [prediction]}


@functools.lru_cache(maxsize=64)
def _reference(part_id: str, ldraw_dir) -> np.ndarray:
    from legodata.annotate.drawing import reference_image
    from legodata.parts.catalogue import get_part

    part = get_part(part_id, ldraw_dir)
    title = f"{part_id} {part.info.name}: keypoints"
    return reference_image(part.mesh, catalogue_keypoints(part_id, ldraw_dir), title)


@functools.lru_cache(maxsize=64)
def _axis_sheet(part_id: str, ldraw_dir) -> tuple[np.ndarray, np.ndarray]:
    from legodata.annotate.drawing import candidate_sheet
    from legodata.parts.catalogue import get_part

    part = get_part(part_id, ldraw_dir)
    cand = axis_aligned_candidates(part.symmetry.sampled())
    return cand, candidate_sheet(part.mesh, cand, f"{part_id}: pick the closest orientation")


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    import cv2

    from legodata.core.atomic import atomic_write_bytes

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise LegodataError(f"cannot encode {path}")
    atomic_write_bytes(path, buf.tobytes())


def _region_id() -> str:
    return secrets.token_hex(5)


def _brush_result(mask: np.ndarray, width: int, height: int) -> dict:
    from legodata.annotate.rle import encode_mask

    return {
        "id": _region_id(),
        "from_name": "mask",
        "to_name": "photo",
        "type": "brushlabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {"format": "rle", "rle": encode_mask(mask), "brushlabels": ["part"]},
    }


def _choice_result(name: str, value: str) -> dict:
    return {"id": _region_id(), "from_name": name, "to_name": "photo", "type": "choices", "value": {"choices": [value]}}


def keypoint_result(number: int, u: float, v: float, width: int, height: int) -> dict:
    """A Label Studio keypoint result for keypoint ``number`` at pixel ``(u, v)``."""
    x, y = percent_from_pixel(u, v, width, height)
    return {
        "id": _region_id(),
        "from_name": "keypoints",
        "to_name": "photo",
        "type": "keypointlabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {"x": x, "y": y, "width": 0.6, "keypointlabels": [str(number)]},
    }


def _keypoint_results(item: TaskInput, part, ldraw_dir, R, t) -> list[dict]:
    from legodata.annotate.drawing import visible_keypoints

    kps = catalogue_keypoints(part.part_id, ldraw_dir)
    uv = project_points(keypoint_array(kps), item.K, R, t, item.dist)
    seen = visible_keypoints(part.mesh, kps, item.K, R, t, item.width, item.height)
    return [keypoint_result(k.number, u, v, item.width, item.height) for k, (u, v), s in zip(kps, uv, seen) if s]
