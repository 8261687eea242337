"""A pure parser of one line of a ``legodata-log`` (version 1): a decoded JSON object -> its event.

:func:`parse_event` checks everything one line can show on its own (types, enums, unit quaternions, rotation of a
camera's K, relative paths that stay inside the log's root) and raises :class:`~legodata.runlog.events.EventError`
naming the field otherwise. The events themselves are in :mod:`legodata.runlog.events`.
"""

from __future__ import annotations

from typing import Any

from legodata.runlog.events import (
    CATALOGUE_KINDS,
    EVENT_TYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    FRAMES,
    JUDGES,
    MODES,
    OUTCOMES,
    SOURCE_KINDS,
    VERBS,
    Action,
    Camera,
    Catalogue,
    EpisodeEnd,
    EpisodeStart,
    Event,
    EventError,
    Header,
    InstanceRef,
    Judgement,
    Observation,
    PickPlace,
    Rotate,
    VideoFrame,
    Vlm,
)
from legodata.runlog.fields import (
    boolean,
    enum,
    get,
    ident,
    integer,
    no_unknown,
    number,
    opt_path,
    opt_string,
    pose_of,
    quat,
    safe_log_path,
    show,
    string,
    time_of,
    vector,
)

# --- per event -------------------------------------------------------------------------------------------------

_KNOWN = {
    "header": frozenset(
        {"type", "format", "version", "robot", "world_frame", "cameras", "catalogue", "created", "notes", "t"}
    ),
    "episode_start": frozenset({"type", "episode", "mode", "source_kind", "t", "model", "manual"}),
    "episode_end": frozenset({"type", "episode", "outcome", "t"}),
    "observation": frozenset(
        {
            "type",
            "episode",
            "id",
            "t",
            "camera",
            "image",
            "video",
            "depth",
            "depth_scale_m",
            "mask",
            "instances",
            "camera_pose_in_world",
            "gripper_pose_in_world",
        }
    ),
    "vlm": frozenset(
        {"type", "episode", "t", "observation", "track", "part_id", "colour_code", "mask", "action", "model"}
    ),
    "rotate": frozenset({"type", "episode", "t", "track", "quat_wxyz", "frame", "camera", "gripper_quat_wxyz"}),
    "judgement": frozenset({"type", "episode", "t", "track", "correct", "by", "observation"}),
    "pick": frozenset(
        {"type", "episode", "t", "track", "pose_in_world", "gripper_pose_in_world", "part_id", "colour_code"}
    ),
}
_KNOWN["place"] = _KNOWN["pick"]


def _header(d: dict) -> Header:
    w = "header"
    if d.get("format") != FORMAT_NAME:
        raise EventError(f"{w}.format", f"{show(d.get('format'))} is not {FORMAT_NAME!r}")
    version = integer(get(d, "version", w), f"{w}.version")
    if version != FORMAT_VERSION:
        raise EventError(f"{w}.version", f"{version} is not a version this legodata reads ({FORMAT_VERSION})")
    robot = get(d, "robot", w)
    if not isinstance(robot, dict):
        raise EventError(f"{w}.robot", "is not an object")
    string(get(robot, "name", f"{w}.robot"), f"{w}.robot.name")
    world = string(get(d, "world_frame", w), f"{w}.world_frame")
    cams_raw = get(d, "cameras", w)
    if not isinstance(cams_raw, list) or not cams_raw:
        raise EventError(f"{w}.cameras", "is not a non-empty list of cameras")
    cameras: dict[str, Camera] = {}
    for n, c in enumerate(cams_raw):
        cw = f"{w}.cameras[{n}]"
        if not isinstance(c, dict):
            raise EventError(cw, "is not an object")
        name = ident(get(c, "name", cw), f"{cw}.name")
        if name in cameras:
            raise EventError(f"{cw}.name", f"camera {name!r} is named twice")
        k_raw = get(c, "K", cw)
        if not isinstance(k_raw, list) or len(k_raw) != 3:
            raise EventError(f"{cw}.K", "is not a 3x3 matrix")
        K = tuple(vector(row, f"{cw}.K", 3) for row in k_raw)
        if K[0][0] <= 0 or K[1][1] <= 0 or K[2] != (0.0, 0.0, 1.0) or K[1][0] != 0.0:
            raise EventError(f"{cw}.K", "is not a pinhole matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0")
        width = integer(get(c, "width", cw), f"{cw}.width", 1, 65535)
        height = integer(get(c, "height", cw), f"{cw}.height", 1, 65535)
        pose = c.get("pose_in_world")
        cameras[name] = Camera(
            name, K, width, height, pose_of(pose, f"{cw}.pose_in_world", True) if pose is not None else None
        )
    cat = get(d, "catalogue", w)
    if not isinstance(cat, dict):
        raise EventError(f"{w}.catalogue", "is not an object")
    kind = enum(get(cat, "kind", f"{w}.catalogue"), f"{w}.catalogue.kind", CATALOGUE_KINDS)
    ids_raw = cat.get("part_ids")
    if ids_raw is None:
        if kind == "ldraw":
            raise EventError(f"{w}.catalogue.part_ids", "is missing (an LDraw catalogue lists the part ids it uses)")
        ids = None
    else:
        if not isinstance(ids_raw, list) or not ids_raw:
            raise EventError(f"{w}.catalogue.part_ids", "is not a non-empty list of part ids")
        ids = tuple(string(p, f"{w}.catalogue.part_ids") for p in ids_raw)
    library = cat.get("library")
    return Header(
        version=version,
        robot=dict(robot),
        world_frame=world,
        cameras=cameras,
        catalogue=Catalogue(kind, ids, None if library is None else str(library)),
    )


def _observation(d: dict) -> Observation:
    w = "observation"
    image = opt_path(d, "image", w)
    video_raw = d.get("video")
    video = None
    if video_raw is not None:
        if not isinstance(video_raw, dict):
            raise EventError(f"{w}.video", "is not an object with path and frame")
        video = VideoFrame(
            safe_log_path(get(video_raw, "path", f"{w}.video"), f"{w}.video.path"),
            integer(get(video_raw, "frame", f"{w}.video"), f"{w}.video.frame", 0),
        )
    if (image is None) == (video is None):
        raise EventError(f"{w}.image", "give exactly one of image (a file) and video (a file and frame index)")
    depth = opt_path(d, "depth", w)
    scale = d.get("depth_scale_m")
    if depth is not None and scale is None:
        raise EventError(f"{w}.depth_scale_m", "is missing (metres per depth PNG unit; needed with depth)")
    scale_f = None if scale is None else number(scale, f"{w}.depth_scale_m")
    if scale_f is not None and scale_f <= 0:
        raise EventError(f"{w}.depth_scale_m", f"{scale_f} is not positive")
    inst_raw = d.get("instances") or []
    if not isinstance(inst_raw, list):
        raise EventError(f"{w}.instances", "is not a list of {track, instance_id}")
    instances, tracks, ids = [], set(), set()
    for n, i in enumerate(inst_raw):
        iw = f"{w}.instances[{n}]"
        if not isinstance(i, dict):
            raise EventError(iw, "is not an object with track and instance_id")
        track = ident(get(i, "track", iw), f"{iw}.track")
        iid = integer(get(i, "instance_id", iw), f"{iw}.instance_id", 1, 65535)
        if track in tracks or iid in ids:
            raise EventError(iw, f"track {track!r} or instance_id {iid} appears twice")
        tracks.add(track)
        ids.add(iid)
        instances.append(InstanceRef(track, iid))
    mask = opt_path(d, "mask", w)
    if instances and mask is None:
        raise EventError(f"{w}.mask", "is missing (instances map mask pixel values to tracks)")
    cam_pose, grip_pose = d.get("camera_pose_in_world"), d.get("gripper_pose_in_world")
    return Observation(
        episode=ident(get(d, "episode", w), f"{w}.episode"),
        id=ident(get(d, "id", w), f"{w}.id"),
        t=time_of(d, w, True),  # type: ignore[arg-type]
        camera=ident(get(d, "camera", w), f"{w}.camera"),
        image=image,
        video=video,
        depth=depth,
        depth_scale_m=scale_f,
        mask=mask,
        instances=tuple(instances),
        camera_pose_in_world=None if cam_pose is None else pose_of(cam_pose, f"{w}.camera_pose_in_world", True),
        gripper_pose_in_world=None if grip_pose is None else pose_of(grip_pose, f"{w}.gripper_pose_in_world", True),
    )


def _vlm(d: dict) -> Vlm:
    w = "vlm"
    a = get(d, "action", w)
    if not isinstance(a, dict):
        raise EventError(f"{w}.action", "is not an object with text and verb")
    args = a.get("args") or {}
    if not isinstance(args, dict):
        raise EventError(f"{w}.action.args", "is not an object")
    obs = d.get("observation")
    return Vlm(
        episode=ident(get(d, "episode", w), f"{w}.episode"),
        t=time_of(d, w, False),
        observation=None if obs is None else ident(obs, f"{w}.observation"),
        track=ident(get(d, "track", w), f"{w}.track"),
        part_id=string(get(d, "part_id", w), f"{w}.part_id"),
        colour_code=integer(get(d, "colour_code", w), f"{w}.colour_code", 0),
        mask=opt_path(d, "mask", w),
        action=Action(
            text=string(get(a, "text", f"{w}.action"), f"{w}.action.text"),
            verb=enum(get(a, "verb", f"{w}.action"), f"{w}.action.verb", VERBS),
            args=dict(args),
        ),
        model=opt_string(d, "model", w),
    )


def _rotate(d: dict) -> Rotate:
    w = "rotate"
    frame = enum(get(d, "frame", w), f"{w}.frame", FRAMES)
    camera = d.get("camera")
    if frame == "camera":
        camera = ident(get(d, "camera", w), f"{w}.camera")
    elif camera is not None:
        raise EventError(f"{w}.camera", f"is only for frame camera, not frame {frame}")
    grip = d.get("gripper_quat_wxyz")
    if frame == "gripper":
        grip = quat(get(d, "gripper_quat_wxyz", w), f"{w}.gripper_quat_wxyz")
    elif grip is not None:
        raise EventError(f"{w}.gripper_quat_wxyz", f"is only for frame gripper, not frame {frame}")
    return Rotate(
        episode=ident(get(d, "episode", w), f"{w}.episode"),
        t=time_of(d, w, False),
        track=ident(get(d, "track", w), f"{w}.track"),
        quat_wxyz=quat(get(d, "quat_wxyz", w), f"{w}.quat_wxyz"),
        frame=frame,
        camera=camera,
        gripper_quat_wxyz=grip,
    )


def _judgement(d: dict) -> Judgement:
    w = "judgement"
    obs = d.get("observation")
    return Judgement(
        episode=ident(get(d, "episode", w), f"{w}.episode"),
        t=time_of(d, w, True),  # type: ignore[arg-type]
        track=ident(get(d, "track", w), f"{w}.track"),
        correct=boolean(get(d, "correct", w), f"{w}.correct"),
        by=enum(get(d, "by", w), f"{w}.by", JUDGES),
        observation=None if obs is None else ident(obs, f"{w}.observation"),
    )


def _pick_place(d: dict, kind: str) -> PickPlace:
    pose, grip, colour = d.get("pose_in_world"), d.get("gripper_pose_in_world"), d.get("colour_code")
    return PickPlace(
        type=kind,
        episode=ident(get(d, "episode", kind), f"{kind}.episode"),
        t=time_of(d, kind, False),
        track=ident(get(d, "track", kind), f"{kind}.track"),
        pose_in_world=None if pose is None else pose_of(pose, f"{kind}.pose_in_world", False),
        gripper_pose_in_world=None if grip is None else pose_of(grip, f"{kind}.gripper_pose_in_world", True),
        part_id=opt_string(d, "part_id", kind),
        colour_code=None if colour is None else integer(colour, f"{kind}.colour_code", 0),
    )


def parse_event(d: Any) -> Event:
    """One decoded JSON line -> its event; :class:`EventError` naming the field otherwise."""
    if not isinstance(d, dict):
        raise EventError("type", f"the line is a JSON {type(d).__name__}, not an object with a 'type'")
    kind = d.get("type")
    if kind not in _KNOWN:
        if kind is None:
            raise EventError("type", "is missing")
        raise EventError("type", f"unknown event type {show(kind)}; known: {', '.join(EVENT_TYPES)}")
    no_unknown(d, kind, _KNOWN[kind])
    if kind == "header":
        return _header(d)
    if kind == "episode_start":
        w = kind
        return EpisodeStart(
            episode=ident(get(d, "episode", w), f"{w}.episode"),
            mode=enum(get(d, "mode", w), f"{w}.mode", MODES),
            source_kind=enum(get(d, "source_kind", w), f"{w}.source_kind", SOURCE_KINDS),
            t=time_of(d, w, False),
            model=opt_string(d, "model", w),
            manual=opt_string(d, "manual", w),
        )
    if kind == "episode_end":
        return EpisodeEnd(
            episode=ident(get(d, "episode", kind), f"{kind}.episode"),
            outcome=enum(get(d, "outcome", kind), f"{kind}.outcome", OUTCOMES),
            t=time_of(d, kind, False),
        )
    if kind == "observation":
        return _observation(d)
    if kind == "vlm":
        return _vlm(d)
    if kind == "rotate":
        return _rotate(d)
    if kind == "judgement":
        return _judgement(d)
    return _pick_place(d, kind)
