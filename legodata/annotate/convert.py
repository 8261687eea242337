"""Label Studio export -> records: every result checked against the labeling config, poses from keypoints (PnP) or
a chosen candidate, masks decoded exactly; what cannot become a record is rejected with a reason.

Each result is first checked against the config and the photo (:mod:`legodata.annotate.results`: Label Studio itself
stores results that name nothing in the config, unknown labels, masks of another size). Then, per project kind:

- ``rotation``: at least 4 keypoints -> SQPnP (reprojection error kept; above ``max_reproj_px`` rejected); or a
  chosen candidate placed by the painted mask (``translation_from_mask``), refined by 3+ keypoints when there are.
- ``mask``: the painted mask with the task's pose.
- ``review``: the task's pose when the reviewer accepts it (with the mask painted or kept), else rejected with the
  reviewer's verdict.

A record is one annotation: one instance (``instance_id`` 1) in its photo, ``source="label_studio"``, group = the
task's group (the photo, a session, or the source store's scene), and in ``meta`` the annotation id, annotator,
lead time, reprojection error, how the pose was found, the mask's source and the projected-mesh IoU check.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from legodata.annotate import checks, projection
from legodata.annotate.configs import ParsedConfig
from legodata.annotate.keypoints import catalogue_keypoints, keypoint_array
from legodata.annotate.pnp import (
    MIN_KEYPOINTS,
    canonical_pose,
    mesh_centroid,
    solve_keypoints,
    translation_from_mask,
)
from legodata.annotate.results import Labels, Reject, read_results
from legodata.core.records import Record
from legodata.core.rotations import symmetric_geodesic_angle
from legodata.scene.ground_truth import instance_of
from legodata.store.layout import scene_rel

SOURCE = "label_studio"
UNKNOWN_COLOUR = -1  # a photo's part colour when nobody said it
ACCEPT = "pose and mask are right"
MASK_FIXED = "mask is wrong"


@dataclass(frozen=True)
class Context:
    """What converting a project's annotations needs (read once per pull)."""

    kind: str
    config: ParsedConfig
    parts: tuple[str, ...]
    project_id: int
    project: str
    ldraw_dir: str | None = None
    users: dict[int, str] = field(default_factory=dict)
    max_reproj_px: float = 10.0
    low_iou: float = checks.LOW_IOU


@dataclass
class Converted:
    record: Record
    photo: Path  # the source photo (copied into the store's group directory)
    mask: np.ndarray  # bool (H, W): the instance's visible pixels
    annotation_id: int
    updated_at: str
    task_key: str


@dataclass
class Rejected:
    annotation_id: int
    task_id: int
    updated_at: str
    reason: str
    annotator: str = ""
    annotation: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "annotation_id": self.annotation_id,
            "task_id": self.task_id,
            "updated_at": self.updated_at,
            "reason": self.reason,
            "annotator": self.annotator,
            "annotation": self.annotation,
        }


def convert_export(tasks: Iterable[dict], ctx: Context, skip=None) -> Iterator[Converted | Rejected]:
    """One :class:`Converted` or :class:`Rejected` per annotation of the exported ``tasks``; ``skip(annotation_id,
    updated_at)`` returning True leaves an annotation out (already pulled)."""
    for task in tasks:
        for ann in task.get("annotations") or []:
            if skip is not None and skip(int(ann.get("id", -1)), str(ann.get("updated_at", ""))):
                continue
            yield convert_annotation(task, ann, ctx)


def record_id(project_id: int, annotation_id: int) -> str:
    return f"ls{project_id}-{annotation_id}"


def annotator_of(ann: dict, users: dict[int, str]) -> str:
    who = ann.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("id", ""))
    if who is None:
        return ""
    try:
        return users.get(int(who), str(who))
    except (TypeError, ValueError):
        return str(who)


def convert_annotation(task: dict, ann: dict, ctx: Context) -> Converted | Rejected:
    ann_id = int(ann.get("id", -1))
    updated = str(ann.get("updated_at", ""))
    who = annotator_of(ann, ctx.users)
    try:
        return _convert(task, ann, ctx, ann_id, updated, who)
    except Reject as exc:
        return Rejected(ann_id, int(task.get("id", -1)), updated, str(exc), who, ann)


def _convert(task: dict, ann: dict, ctx: Context, ann_id: int, updated: str, who: str) -> Converted:
    lego, (width, height), results = _task_and_results(task, ann)
    labels = read_results(results, ctx.config, width, height, task.get("data") or {})
    part_id = labels.part or str(lego["part_id"])
    part, kps = _part(part_id, labels, ctx)
    K = np.asarray(lego["K"], float)
    dist = np.asarray(lego.get("dist") or [], float)
    meta: dict[str, Any] = {}
    if ctx.kind == "rotation":
        R, t = _rotation_pose(labels, lego, part, kps, K, dist, ctx, meta)
    else:
        R, t = _task_pose(labels, lego, ctx, meta)
    sym = part.symmetry.sampled()
    R, t, meta["symmetry_index"] = canonical_pose(R, t, sym, mesh_centroid(part.mesh.vertices, part.mesh.faces))
    silhouette, mask = _masks(part, K, R, t, (width, height), dist, labels.mask, ctx.low_iou, meta)
    colour = lego.get("colour_code")
    inst = instance_of(1, part_id, UNKNOWN_COLOUR if colour is None else colour, R, t, silhouette, mask)
    photo = Path(str(lego["photo"]))
    meta.update(_annotation_meta(task, ann, lego, ctx, who, photo, dist))
    rid = record_id(ctx.project_id, ann_id)
    group = str(lego.get("group") or "photos")
    photo_name = f"{photo.stem}-{hashlib.sha1(str(photo).encode()).hexdigest()[:8]}{photo.suffix.lower()}"
    rec = Record(
        record_id=rid,
        source=SOURCE,
        group_id=group,
        image_path=f"{scene_rel(group)}/rgb/{photo_name}",
        mask_path=f"{scene_rel(group)}/mask/{rid}.png",
        width=width,
        height=height,
        K=tuple(tuple(float(x) for x in row) for row in K),
        instances=(inst,),
        meta=meta,
    )
    return Converted(rec, photo, mask, ann_id, updated, str(lego.get("key", "")))


def _task_and_results(task: dict, ann: dict) -> tuple[dict, tuple[int, int], list]:
    """The task's ``data.legodata`` (what push put there), the photo's size and the annotation's results."""
    if ann.get("was_cancelled"):
        raise Reject("the annotator skipped the task")
    lego = (task.get("data") or {}).get("legodata")
    if not isinstance(lego, dict) or "K" not in lego:
        raise Reject("the task was not made by `legodata annotate push` (no data.legodata)")
    size = int(lego["width"]), int(lego["height"])
    results = ann.get("result")
    if not isinstance(results, list):
        raise Reject("the annotation has no result list")
    return lego, size, results


def _part(part_id: str, labels: Labels, ctx: Context):
    """The labelled part and its keypoints; the part must be the project's and the keypoint numbers its own."""
    from legodata.parts.catalogue import get_part

    if part_id not in ctx.parts:
        raise Reject(f"part {part_id!r} is not one of the project's parts ({', '.join(ctx.parts)})")
    part = get_part(part_id, ctx.ldraw_dir)
    kps = catalogue_keypoints(part_id, ctx.ldraw_dir)
    for number in labels.keypoints:
        if number > len(kps):
            raise Reject(f"keypoint {number} does not exist on part {part_id} (it has {len(kps)})")
    return part, kps


def _masks(part, K, R, t, size: tuple[int, int], dist, painted, low_iou: float, meta: dict):
    """``(silhouette, mask)``: the mesh projected at the pose, and the instance's pixels (the painted mask, checked
    against the silhouette, or the silhouette itself)."""
    silhouette = projection.projected_silhouette(part.mesh, K, R, t, *size, dist)
    if painted is not None:
        mask = painted
        meta["mask_source"] = "painted"
        meta["iou_projected"] = round(checks.iou(silhouette, mask), 4)
        if meta["iou_projected"] < low_iou:
            meta.setdefault("flags", []).append("low_iou")
    else:
        mask = silhouette
        meta["mask_source"] = "projected"
    if not mask.any():
        raise Reject("the part's mask is empty (the pose puts the part outside the photo)")
    return silhouette, mask


def _annotation_meta(task: dict, ann: dict, lego: dict, ctx: Context, who: str, photo: Path, dist) -> dict[str, Any]:
    """Where a record comes from: the annotation, its task and project, the annotator and the camera's distortion."""
    lead = ann.get("lead_time")
    return {
        "annotation_id": int(ann.get("id", -1)),
        "annotation_updated_at": str(ann.get("updated_at", "")),
        "task_id": int(task.get("id", -1)),
        "task_key": str(lego.get("key", "")),
        "project": ctx.project,
        "project_id": ctx.project_id,
        "kind": ctx.kind,
        "annotator": who,
        "lead_time_s": float(lead) if isinstance(lead, int | float) and math.isfinite(lead) else None,
        "photo": str(photo),
        "source_record": lego.get("source_record"),
        "source_instance_id": lego.get("instance_id"),
        "camera": {"dist": dist.tolist()},
    }


def _rotation_pose(labels: Labels, lego, part, kps, K, dist, ctx: Context, meta: dict):
    n = len(labels.keypoints)
    chosen = None
    if labels.candidate is not None:
        cands = lego.get("candidates_R") or []
        if labels.candidate > len(cands):
            raise Reject(f"orientation {labels.candidate} was chosen, but the task shows {len(cands)}")
        chosen = np.asarray(cands[labels.candidate - 1], float)
    if n >= MIN_KEYPOINTS:
        numbers = sorted(labels.keypoints)
        P = keypoint_array(kps)[[k - 1 for k in numbers]]
        uv = np.array([labels.keypoints[k] for k in numbers])
        try:
            res = solve_keypoints(P, uv, K, dist)
        except ValueError as exc:
            raise Reject(str(exc)) from None
        meta.update(method="keypoints", n_keypoints=n, reprojection_error_px=round(res.rms_px, 4))
        meta["keypoints"] = {str(k): [round(float(c), 3) for c in labels.keypoints[k]] for k in numbers}
        if res.rms_px > ctx.max_reproj_px:
            raise Reject(
                f"the {n} keypoints fit no single pose (reprojection error {res.rms_px:.1f} px > "
                f"{ctx.max_reproj_px:g} px): a keypoint is probably misnumbered"
            )
        if chosen is not None:
            ray = ray_at(K, uv.mean(axis=0))
            angle = symmetric_geodesic_angle(res.R_m2c, ray @ chosen, part.symmetry.sampled())
            meta["choice_angle_deg"] = round(float(np.degrees(angle)), 2)
        return res.R_m2c, res.t_m2c
    if chosen is None:
        raise Reject(f"{n} keypoints placed (at least {MIN_KEYPOINTS} are needed) and no orientation chosen")
    if labels.mask is not None:
        ys, xs = np.nonzero(labels.mask)
        centre = np.array([xs.mean(), ys.mean()])
    elif n >= 3:
        centre = np.mean(list(labels.keypoints.values()), axis=0)
    else:
        raise Reject("an orientation was chosen but the part is not placed: paint its mask (or 3+ keypoints)")
    R = ray_at(K, centre) @ chosen
    if labels.mask is not None:
        t = translation_from_mask(part.mesh, K, R, labels.mask)
    else:
        t = _translation_from_keypoints(part, kps, labels, K, R)
    meta.update(method="choice", candidate=labels.candidate, candidates_from=lego.get("candidates_from"))
    if n >= 3:
        R, t, rms = _refine(kps, labels, K, dist, R, t)
        meta.update(method="choice+keypoints", n_keypoints=n, reprojection_error_px=round(rms, 4))
        if rms > ctx.max_reproj_px:
            raise Reject(f"the keypoints do not fit the chosen orientation (reprojection error {rms:.1f} px)")
    return R, t


def ray_at(K: np.ndarray, uv) -> np.ndarray:
    from legodata.annotate.candidates import ray_rotation

    return ray_rotation(K, float(uv[0]), float(uv[1]))


def _translation_from_keypoints(part, kps, labels: Labels, K, R) -> np.ndarray:
    """Depth from the keypoints' spread, position from their centroid (a start for refinement)."""
    numbers = sorted(labels.keypoints)
    P = keypoint_array(kps)[[k - 1 for k in numbers]] @ R.T
    uv = np.array([labels.keypoints[k] for k in numbers])
    spread3 = np.linalg.norm(P[:, :2] - P[:, :2].mean(axis=0), axis=1).mean()
    spread2 = np.linalg.norm(uv - uv.mean(axis=0), axis=1).mean()
    z = float(K[0, 0] * spread3 / max(spread2, 1e-6))
    ray = np.linalg.solve(K, np.array([*uv.mean(axis=0), 1.0]))
    return ray * z - P.mean(axis=0)


def _refine(kps, labels: Labels, K, dist, R, t):
    import cv2

    numbers = sorted(labels.keypoints)
    P = keypoint_array(kps)[[k - 1 for k in numbers]]
    uv = np.array([labels.keypoints[k] for k in numbers], float)
    rvec, _ = cv2.Rodrigues(np.asarray(R, float))
    d = dist if dist.size else None
    rvec, tvec = cv2.solvePnPRefineLM(P, uv, K, d, rvec, np.asarray(t, float).reshape(3, 1))
    R2, _ = cv2.Rodrigues(rvec)
    from legodata.annotate.projection import project_points

    res = np.linalg.norm(project_points(P, K, R2, tvec.ravel(), d) - uv, axis=1)
    return R2, tvec.ravel(), float(np.sqrt(np.mean(res**2)))


def _task_pose(labels: Labels, lego, ctx: Context, meta: dict):
    pose = lego.get("pose")
    if not isinstance(pose, dict):
        raise Reject(f"the task carries no pose to {'check' if ctx.kind == 'review' else 'mask'}")
    R, t = np.asarray(pose["R_m2c"], float), np.asarray(pose["t_m2c"], float)
    if ctx.kind == "mask":
        if labels.mask is None:
            raise Reject("no mask painted")
        meta["method"] = "task pose"
        return R, t
    if labels.verdict is None:
        raise Reject("no verdict chosen")
    meta["verdict"] = labels.verdict
    if labels.verdict == ACCEPT:
        meta["method"] = "task pose, reviewed"
        return R, t
    if labels.verdict == MASK_FIXED and labels.mask is not None:
        meta["method"] = "task pose, reviewed, mask fixed"
        return R, t
    raise Reject(
        f"the reviewer said: {labels.verdict}" + (" (and painted no new mask)" if labels.verdict == MASK_FIXED else "")
    )
