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

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from legodata.annotate import configs
from legodata.annotate.candidates import distinct, flips, ray_rotation
from legodata.annotate.client import (
    api_error,
    connect,
    ensure_local_storage,
    find_project,
    iter_tasks,
    local_file_url,
)
from legodata.annotate.drawing import (
    CANDIDATES_TITLE,
    axis_aligned_sheet,
    candidate_sheet,
    part_reference,
    pose_overlay,
    visible_keypoints,
    write_png,
)
from legodata.annotate.inputs import TaskInput, group_name, photo_items, store_items
from legodata.annotate.keypoints import catalogue_keypoints, keypoint_array
from legodata.annotate.pnp import percent_from_pixel, translation_from_mask
from legodata.annotate.projection import project_points
from legodata.errors import LegodataError

logger = logging.getLogger(__name__)

BATCH = 50


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
        items = store_items(Store(source), project_parts, min_px, session)
        assets = Path(assets_dir or source / "annotate-assets")
    else:
        items = photo_items(source, camera, _push_parts(parts, project_parts, ldraw_dir), colour, session)
        assets = Path(assets_dir or source / ".legodata-annotate")
    if kind in ("mask", "review") and rot_model is None and any(i.pose is None for i in items):
        raise LegodataError(f"a {kind} project checks a pose: push a store, or photos with --rot-model (and a mask)")
    existing = _existing_keys(client, int(proj.id))
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
    _add_tasks(client, int(proj.id), todo, _Setup(kind, assets, files_root, ldraw_dir, models), summary)
    try:
        client.projects.update(id=int(proj.id), show_collab_predictions=True, model_version=models.version())
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, "turning on pre-annotations") from None
    return summary


def _existing_keys(client, project_id: int) -> set[str]:
    """The keys of the project's tasks that push made."""
    existing = set()
    for task in iter_tasks(client, project_id):
        key = ((task.data or {}).get("legodata") or {}).get("key")
        if key:
            existing.add(key)
    return existing


def _add_tasks(client, project_id: int, todo: list[TaskInput], setup: _Setup, summary: PushSummary) -> None:
    """Make the tasks and import them in batches of :data:`BATCH`."""
    payload: list[dict[str, Any]] = []
    for item in todo:
        task = _task(item, setup)
        if any(r["from_name"] != "part" for r in task["predictions"][0]["result"]):
            summary.predictions += 1  # a model's (the part choice every task gets pre-selected does not count)
        payload.append(task)
        if len(payload) == BATCH:
            summary.task_ids += _import(client, project_id, payload)
            payload = []
    if payload:
        summary.task_ids += _import(client, project_id, payload)
    summary.added = len(todo)


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


@dataclass(frozen=True)
class _Setup:
    """What every task of one push shares."""

    kind: str
    assets: Path
    files_root: str | Path
    ldraw_dir: str | None
    models: _Models


@dataclass
class _Proposal:
    """What a task starts with: pre-annotation results, the model's score, the pose shown to mask and review
    projects, and the candidate orientations (None: the part's axis-aligned sheet)."""

    results: list[dict]
    score: float | None = None
    pose: tuple[np.ndarray, np.ndarray] | None = None
    candidates: np.ndarray | None = None
    candidates_from: str = "axis-aligned"


def _task(item: TaskInput, setup: _Setup) -> dict:
    from legodata.parts.catalogue import get_part

    part = get_part(item.part_id, setup.ldraw_dir)
    models = setup.models
    image_rgb = None
    if models.mask_run is not None or models.rot_run is not None or setup.kind in ("mask", "review"):
        image_rgb = _read_rgb(item.image)
    proposal = _propose(item, part, image_rgb, setup)
    data: dict[str, Any] = {"image": local_file_url(item.image, setup.files_root)}
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
    if setup.kind == "rotation":
        _show_candidates(item, part, proposal, setup, data, lego)
    else:
        _show_pose(item, part, proposal, image_rgb, setup, data, lego)
    data["instruction"] = _instruction(setup.kind, item, part.info.name)
    data["legodata"] = lego
    results = [_choice_result("part", item.part_id), *proposal.results]
    prediction = {"model_version": models.version(), "result": results}
    if proposal.score is not None:
        prediction["score"] = proposal.score
    return {"data": data, "predictions": [prediction]}


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def _propose(item: TaskInput, part, image_rgb, setup: _Setup) -> _Proposal:
    """The mask (a model's, else a store's for mask/review projects) and, with a rotation model, its pose."""
    models, review = setup.models, setup.kind in ("mask", "review")
    proposal = _Proposal([], pose=item.pose if review else None)
    mask = item.mask
    if models.mask_run is not None:
        mask = models.mask().predict(image_rgb, item.part_id, int(item.colour_code))
        if mask.any():
            proposal.results.append(_brush_result(mask, item.width, item.height))
    elif review and mask is not None and mask.any():
        proposal.results.append(_brush_result(mask, item.width, item.height))
    if models.rot_run is not None and mask is not None and mask.any():
        _propose_pose(item, part, image_rgb, mask, setup, proposal)
    return proposal


def _propose_pose(item: TaskInput, part, image_rgb, mask, setup: _Setup, proposal: _Proposal) -> None:
    """The rotation model's answer: the pose (placed by the mask), the answer and its usual confusions as the
    candidates, and for rotation projects the answer pre-selected with its visible keypoints pre-placed."""
    pred = setup.models.rot().predict_instance(image_rgb, mask, item.part_id, item.K)
    proposal.score = float(pred.confidence)
    t = translation_from_mask(part.mesh, item.K, pred.R_m2c, mask)
    if proposal.pose is None or setup.kind == "rotation":
        proposal.pose = (pred.R_m2c, t)
    ys, xs = np.nonzero(mask)
    allo = ray_rotation(item.K, float(xs.mean()), float(ys.mean())).T @ pred.R_m2c
    proposal.candidates = distinct([allo, *flips(allo)], part.symmetry.sampled())
    proposal.candidates_from = f"model:{Path(setup.models.rot_run).name}"
    if setup.kind == "rotation":
        proposal.results.append(_choice_result("candidate", "1"))
        proposal.results += _keypoint_results(item, part, setup.ldraw_dir, pred.R_m2c, t)


def _show_candidates(item: TaskInput, part, proposal: _Proposal, setup: _Setup, data: dict, lego: dict) -> None:
    """Rotation projects: the keypoint reference and the candidate sheet (written once per part, or per task for a
    model's candidates) and the candidates' rotations."""
    ref = setup.assets / f"reference-{group_name(item.part_id)}.png"
    if not ref.is_file():
        write_png(ref, part_reference(item.part_id, setup.ldraw_dir))
    data["reference"] = local_file_url(ref, setup.files_root)
    cand_R, picture = proposal.candidates, None
    if cand_R is None:
        cand_R, picture = axis_aligned_sheet(item.part_id, setup.ldraw_dir)
        sheet = setup.assets / f"candidates-{group_name(item.part_id)}.png"
    else:
        sheet = setup.assets / f"candidates-{item.key}-{group_name(Path(setup.models.rot_run).name)}.png"
    if not sheet.is_file():
        if picture is None:
            picture = candidate_sheet(part.mesh, cand_R, CANDIDATES_TITLE.format(item.part_id))
        write_png(sheet, picture)
    data["candidates"] = local_file_url(sheet, setup.files_root)
    data["candidate_choices"] = [{"value": str(k)} for k in range(1, len(cand_R) + 1)]
    lego["candidates_R"] = np.round(cand_R, 9).tolist()
    lego["candidates_from"] = proposal.candidates_from


def _show_pose(item: TaskInput, part, proposal: _Proposal, image_rgb, setup: _Setup, data: dict, lego: dict) -> None:
    """Mask and review projects: the pose to check, drawn over the photo."""
    if proposal.pose is None:
        raise LegodataError(f"{item.image}: no pose to show ({setup.kind} projects need a store or --rot-model)")
    overlay = setup.assets / f"overlay-{item.key}.png"
    R, t = proposal.pose
    write_png(overlay, pose_overlay(image_rgb, part.mesh, item.K, R, t))
    data["overlay"] = local_file_url(overlay, setup.files_root)
    lego["pose"] = {"R_m2c": np.asarray(R).tolist(), "t_m2c": np.asarray(t).tolist()}


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
    kps = catalogue_keypoints(part.part_id, ldraw_dir)
    uv = project_points(keypoint_array(kps), item.K, R, t, item.dist)
    seen = visible_keypoints(part.mesh, kps, item.K, R, t, item.width, item.height)
    return [keypoint_result(k.number, u, v, item.width, item.height) for k, (u, v), s in zip(kps, uv, seen) if s]
