"""Label Studio export -> records: every result checked against the labeling config, poses from keypoints (PnP) or
a chosen candidate, masks decoded exactly; what cannot become a record is rejected with a reason.

Label Studio stores results whose names match nothing in the config, labels that do not exist, masks of another
size; so each result is checked here: its ``from_name`` must be a control, ``to_name`` that control's object,
``type`` the control's type, its labels/choices values of the control, coordinates inside the image and a mask the
photo's size. Then, per project kind:

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

from legodata.annotate import checks
from legodata.annotate.configs import ParsedConfig
from legodata.annotate.keypoints import catalogue_keypoints, keypoint_array
from legodata.annotate.pnp import (
    MIN_KEYPOINTS,
    canonical_pose,
    mesh_centroid,
    pixel_from_percent,
    solve_keypoints,
    translation_from_mask,
)
from legodata.core.records import Instance, Record
from legodata.core.rotations import matrix_to_quat_wxyz, symmetric_geodesic_angle

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


class _Reject(Exception):
    pass


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
    except _Reject as exc:
        return Rejected(ann_id, int(task.get("id", -1)), updated, str(exc), who, ann)


@dataclass
class _Labels:
    keypoints: dict[int, tuple[float, float]] = field(default_factory=dict)
    mask: np.ndarray | None = None
    candidate: int | None = None
    part: str | None = None
    verdict: str | None = None


def _convert(task: dict, ann: dict, ctx: Context, ann_id: int, updated: str, who: str) -> Converted:
    if ann.get("was_cancelled"):
        raise _Reject("the annotator skipped the task")
    lego = (task.get("data") or {}).get("legodata")
    if not isinstance(lego, dict) or "K" not in lego:
        raise _Reject("the task was not made by `legodata annotate push` (no data.legodata)")
    width, height = int(lego["width"]), int(lego["height"])
    results = ann.get("result")
    if not isinstance(results, list):
        raise _Reject("the annotation has no result list")
    labels = _read_results(results, ctx.config, width, height, task.get("data") or {})

    from legodata.parts.catalogue import get_part

    part_id = labels.part or str(lego["part_id"])
    if part_id not in ctx.parts:
        raise _Reject(f"part {part_id!r} is not one of the project's parts ({', '.join(ctx.parts)})")
    part = get_part(part_id, ctx.ldraw_dir)
    kps = catalogue_keypoints(part_id, ctx.ldraw_dir)
    for number in labels.keypoints:
        if number > len(kps):
            raise _Reject(f"keypoint {number} does not exist on part {part_id} (it has {len(kps)})")
    K = np.asarray(lego["K"], float)
    dist = np.asarray(lego.get("dist") or [], float)
    meta: dict[str, Any] = {}
    if ctx.kind == "rotation":
        R, t = _rotation_pose(labels, lego, part, kps, K, dist, ctx, meta)
    else:
        R, t = _task_pose(labels, lego, ctx, meta)

    sym = part.symmetry.sampled()
    R, t, k = canonical_pose(R, t, sym, mesh_centroid(part.mesh.vertices, part.mesh.faces))
    meta["symmetry_index"] = k
    silhouette = checks.projected_silhouette(part.mesh, K, R, t, width, height, dist)
    if labels.mask is not None:
        mask = labels.mask
        meta["mask_source"] = "painted"
        meta["iou_projected"] = round(checks.iou(silhouette, mask), 4)
        if meta["iou_projected"] < ctx.low_iou:
            meta.setdefault("flags", []).append("low_iou")
    else:
        mask = silhouette
        meta["mask_source"] = "projected"
    if not mask.any():
        raise _Reject("the part's mask is empty (the pose puts the part outside the photo)")

    rid = record_id(ctx.project_id, ann_id)
    group = str(lego.get("group") or "photos")
    photo = Path(str(lego["photo"]))
    photo_name = f"{photo.stem}-{hashlib.sha1(str(photo).encode()).hexdigest()[:8]}{photo.suffix.lower()}"
    colour = lego.get("colour_code")
    px_all, px_visib = int(silhouette.sum()), int(mask.sum())
    inst = Instance(
        instance_id=1,
        part_id=part_id,
        colour_code=int(colour) if colour is not None else UNKNOWN_COLOUR,
        R_m2c=tuple(tuple(float(x) for x in row) for row in R),
        t_m2c=tuple(float(x) for x in t),
        quat_m2c_wxyz=tuple(float(x) for x in matrix_to_quat_wxyz(R)),
        bbox_obj=_bbox(silhouette),
        bbox_visib=_bbox(mask),
        px_count_all=px_all,
        px_count_visib=px_visib,
        visib_fract=float(min(1.0, px_visib / px_all)) if px_all else 0.0,
    )
    lead = ann.get("lead_time")
    meta.update(
        {
            "annotation_id": ann_id,
            "annotation_updated_at": updated,
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
    )
    rec = Record(
        record_id=rid,
        source=SOURCE,
        group_id=group,
        image_path=f"scenes/{group}/rgb/{photo_name}",
        mask_path=f"scenes/{group}/mask/{rid}.png",
        width=width,
        height=height,
        K=tuple(tuple(float(x) for x in row) for row in K),
        instances=(inst,),
        meta=meta,
    )
    return Converted(rec, photo, mask, ann_id, updated, str(lego.get("key", "")))


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``scene.ground_truth.bbox_of`` from row and column projections (no list of every pixel)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return (-1, -1, -1, -1)
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def _rotation_pose(labels: _Labels, lego, part, kps, K, dist, ctx: Context, meta: dict):
    n = len(labels.keypoints)
    chosen = None
    if labels.candidate is not None:
        cands = lego.get("candidates_R") or []
        if labels.candidate > len(cands):
            raise _Reject(f"orientation {labels.candidate} was chosen, but the task shows {len(cands)}")
        chosen = np.asarray(cands[labels.candidate - 1], float)
    if n >= MIN_KEYPOINTS:
        numbers = sorted(labels.keypoints)
        P = keypoint_array(kps)[[k - 1 for k in numbers]]
        uv = np.array([labels.keypoints[k] for k in numbers])
        try:
            res = solve_keypoints(P, uv, K, dist)
        except ValueError as exc:
            raise _Reject(str(exc)) from None
        meta.update(method="keypoints", n_keypoints=n, reprojection_error_px=round(res.rms_px, 4))
        meta["keypoints"] = {str(k): [round(float(c), 3) for c in labels.keypoints[k]] for k in numbers}
        if res.rms_px > ctx.max_reproj_px:
            raise _Reject(
                f"the {n} keypoints fit no single pose (reprojection error {res.rms_px:.1f} px > "
                f"{ctx.max_reproj_px:g} px): a keypoint is probably misnumbered"
            )
        if chosen is not None:
            ray = ray_at(K, uv.mean(axis=0))
            angle = symmetric_geodesic_angle(res.R_m2c, ray @ chosen, part.symmetry.sampled())
            meta["choice_angle_deg"] = round(float(np.degrees(angle)), 2)
        return res.R_m2c, res.t_m2c
    if chosen is None:
        raise _Reject(f"{n} keypoints placed (at least {MIN_KEYPOINTS} are needed) and no orientation chosen")
    if labels.mask is not None:
        ys, xs = np.nonzero(labels.mask)
        centre = np.array([xs.mean(), ys.mean()])
    elif n >= 3:
        centre = np.mean(list(labels.keypoints.values()), axis=0)
    else:
        raise _Reject("an orientation was chosen but the part is not placed: paint its mask (or 3+ keypoints)")
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
            raise _Reject(f"the keypoints do not fit the chosen orientation (reprojection error {rms:.1f} px)")
    return R, t


def ray_at(K: np.ndarray, uv) -> np.ndarray:
    from legodata.annotate.candidates import ray_rotation

    return ray_rotation(K, float(uv[0]), float(uv[1]))


def _translation_from_keypoints(part, kps, labels: _Labels, K, R) -> np.ndarray:
    """Depth from the keypoints' spread, position from their centroid (a start for refinement)."""
    numbers = sorted(labels.keypoints)
    P = keypoint_array(kps)[[k - 1 for k in numbers]] @ R.T
    uv = np.array([labels.keypoints[k] for k in numbers])
    spread3 = np.linalg.norm(P[:, :2] - P[:, :2].mean(axis=0), axis=1).mean()
    spread2 = np.linalg.norm(uv - uv.mean(axis=0), axis=1).mean()
    z = float(K[0, 0] * spread3 / max(spread2, 1e-6))
    ray = np.linalg.solve(K, np.array([*uv.mean(axis=0), 1.0]))
    return ray * z - P.mean(axis=0)


def _refine(kps, labels: _Labels, K, dist, R, t):
    import cv2

    numbers = sorted(labels.keypoints)
    P = keypoint_array(kps)[[k - 1 for k in numbers]]
    uv = np.array([labels.keypoints[k] for k in numbers], float)
    rvec, _ = cv2.Rodrigues(np.asarray(R, float))
    d = dist if dist.size else None
    rvec, tvec = cv2.solvePnPRefineLM(P, uv, K, d, rvec, np.asarray(t, float).reshape(3, 1))
    R2, _ = cv2.Rodrigues(rvec)
    from legodata.annotate.pnp import project_points

    res = np.linalg.norm(project_points(P, K, R2, tvec.ravel(), d) - uv, axis=1)
    return R2, tvec.ravel(), float(np.sqrt(np.mean(res**2)))


def _task_pose(labels: _Labels, lego, ctx: Context, meta: dict):
    pose = lego.get("pose")
    if not isinstance(pose, dict):
        raise _Reject(f"the task carries no pose to {'check' if ctx.kind == 'review' else 'mask'}")
    R, t = np.asarray(pose["R_m2c"], float), np.asarray(pose["t_m2c"], float)
    if ctx.kind == "mask":
        if labels.mask is None:
            raise _Reject("no mask painted")
        meta["method"] = "task pose"
        return R, t
    if labels.verdict is None:
        raise _Reject("no verdict chosen")
    meta["verdict"] = labels.verdict
    if labels.verdict == ACCEPT:
        meta["method"] = "task pose, reviewed"
        return R, t
    if labels.verdict == MASK_FIXED and labels.mask is not None:
        meta["method"] = "task pose, reviewed, mask fixed"
        return R, t
    raise _Reject(
        f"the reviewer said: {labels.verdict}" + (" (and painted no new mask)" if labels.verdict == MASK_FIXED else "")
    )


def _read_results(results: list, config: ParsedConfig, width: int, height: int, data: dict) -> _Labels:
    """Check every result against the config and the photo; collect what they say."""
    from legodata.annotate.rle import decode_mask

    out = _Labels()
    for n, r in enumerate(results):
        if not isinstance(r, dict):
            raise _Reject(f"result {n} is not an object")
        name = r.get("from_name")
        where = f"result {n} ({name!r})"
        control = config.controls.get(name) if isinstance(name, str) else None
        if control is None:
            raise _Reject(f"result {n} names no control of the labeling config (from_name {name!r})")
        if r.get("to_name") != control.to_name:
            raise _Reject(f"{where}: to_name {r.get('to_name')!r}, the config says {control.to_name!r}")
        rtype = str(r.get("type", "")).lower()
        if rtype != control.type:
            raise _Reject(f"{where}: type {r.get('type')!r}, the config's {control.tag} writes {control.type!r}")
        value = r.get("value")
        if not isinstance(value, dict):
            raise _Reject(f"{where}: has no value")
        if r.get("image_rotation") not in (None, 0, 0.0):
            raise _Reject(f"{where}: made on a rotated view of the image (rotation {r.get('image_rotation')})")
        for key, size in (("original_width", width), ("original_height", height)):
            if key in r and r[key] is not None and int(r[key]) != size:
                raise _Reject(f"{where}: made on an image {r.get('original_width')}x{r.get('original_height')} "
                              f"but the photo is {width}x{height}")  # fmt: skip
        values = value.get(rtype)
        if not isinstance(values, list) or not values:
            raise _Reject(f"{where}: value.{rtype} must list the label")
        allowed = control.allowed(data)
        unknown = [v for v in values if str(v) not in allowed]
        if unknown:
            offered = f"the task offers {len(allowed)}" if control.dynamic else "not in the labeling config"
            raise _Reject(f"{where}: unknown label {unknown[0]!r} ({offered})")
        if rtype == "keypointlabels":
            if len(values) != 1:
                raise _Reject(f"{where}: a keypoint needs exactly one label, got {len(values)}")
            x, y = value.get("x"), value.get("y")
            if not all(isinstance(c, int | float) and math.isfinite(c) for c in (x, y)):
                raise _Reject(f"{where}: keypoint x/y must be numbers")
            if not (0 <= x <= 100 and 0 <= y <= 100):
                raise _Reject(f"{where}: keypoint at ({x:.1f}%, {y:.1f}%) lies outside the image")
            number = int(values[0])
            if number in out.keypoints:
                raise _Reject(f"keypoint {number} is placed twice")
            out.keypoints[number] = pixel_from_percent(float(x), float(y), width, height)
        elif rtype == "brushlabels":
            if value.get("format", "rle") != "rle" or not isinstance(value.get("rle"), list):
                raise _Reject(f"{where}: a brush mask must be RLE")
            try:
                m = decode_mask(value["rle"], width, height)
            except (ValueError, TypeError) as exc:
                raise _Reject(f"{where}: the mask does not fit the {width}x{height} image ({exc})") from None
            out.mask = m if out.mask is None else out.mask | m
        elif rtype == "choices":
            if control.single and len(values) > 1:
                raise _Reject(f"{where}: one choice allowed, got {len(values)}")
            if name == "candidate":
                if out.candidate is not None:
                    raise _Reject("two orientations chosen")
                out.candidate = int(values[0])
            elif name == "part":
                out.part = str(values[0]).split()[0]
            elif name == "verdict":
                out.verdict = str(values[0])
        else:
            raise _Reject(f"{where}: results of type {rtype!r} are not used by legodata")
    return out
