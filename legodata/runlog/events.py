"""The events of a ``legodata-log`` (version 1): one frozen dataclass per event and a pure parser of one line.

:func:`parse_event` turns one decoded JSON line into an event, or raises :class:`EventError` whose message names
the offending field (``field rotate.quat_wxyz: ...``). It checks everything one line can show on its own (types,
enums, unit quaternions, rotation of a camera's K, relative paths that stay inside the log's root); what needs
context (an episode that was started, an observation that exists, a file on disk) is the reader's job
(:mod:`legodata.runlog.reader`). ``FORMAT.md`` beside this module documents the format and ``schema.json`` is its
JSON Schema (draft 2020-12).

Poses are always "X in world": ``x_world = R @ x_X + t`` with ``R`` from ``quat_wxyz`` (scalar first) and ``t``
in metres; a part's model frame is the LDraw part frame, a camera's frame is OpenCV (x right, y down, z forward).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

FORMAT_NAME = "legodata-log"
FORMAT_VERSION = 1

EVENT_TYPES = ("header", "episode_start", "episode_end", "observation", "vlm", "rotate", "judgement", "pick", "place")
MODES = ("assemble", "disassemble")
SOURCE_KINDS = ("robot", "human", "tool")
OUTCOMES = ("success", "failure", "aborted")
FRAMES = ("world", "camera", "gripper")
JUDGES = ("vlm", "human", "sensor")
VERBS = ("pick", "place", "rotate", "insert", "remove", "done", "other")
CATALOGUE_KINDS = ("builtin", "ldraw")
MOTION_EVENTS = ("rotate", "pick", "place")  # events that move a part: losing one breaks its chain of rotations

QUAT_NORM_TOL = 1e-3  # a logged quaternion whose norm is further from 1 is an error (closer: normalised)
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # episode, observation, track and camera names

Quat = tuple[float, float, float, float]
Vec3 = tuple[float, float, float]


class EventError(ValueError):
    """One line is not a valid event. ``str()`` is one line naming the field; ``field`` is that field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"field {field}: {problem}")


# --- events ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pose:
    """A frame's pose in the world: ``x_world = R(quat_wxyz) @ x + t_m``. ``t_m`` is None when only the
    orientation is known (allowed for parts at pick and place)."""

    quat_wxyz: Quat
    t_m: Vec3 | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"quat_wxyz": list(self.quat_wxyz)}
        if self.t_m is not None:
            out["t_m"] = list(self.t_m)
        return out


@dataclass(frozen=True)
class Camera:
    """A camera named in the header: intrinsics and, where calibrated, its pose in the world frame."""

    name: str
    K: tuple[tuple[float, float, float], ...]
    width: int
    height: int
    pose_in_world: Pose | None


@dataclass(frozen=True)
class Catalogue:
    """The parts catalogue the log's part ids refer to: the built-in one or an LDraw library."""

    kind: str  # builtin | ldraw
    part_ids: tuple[str, ...] | None  # None: every built-in part (kind builtin only)
    library: str | None = None  # a name or version of the LDraw library, for the record


@dataclass(frozen=True)
class Header:
    type = "header"
    version: int
    robot: dict[str, Any]
    world_frame: str
    cameras: dict[str, Camera]
    catalogue: Catalogue


@dataclass(frozen=True)
class EpisodeStart:
    type = "episode_start"
    episode: str
    mode: str  # assemble | disassemble
    source_kind: str  # robot | human | tool
    t: float | None
    model: str | None  # the model or manual reference
    manual: str | None


@dataclass(frozen=True)
class EpisodeEnd:
    type = "episode_end"
    episode: str
    outcome: str  # success | failure | aborted
    t: float | None


@dataclass(frozen=True)
class InstanceRef:
    """Mask pixel value ``instance_id`` shows the part ``track``."""

    track: str
    instance_id: int


@dataclass(frozen=True)
class VideoFrame:
    path: str
    frame: int


@dataclass(frozen=True)
class Observation:
    type = "observation"
    episode: str
    id: str
    t: float
    camera: str
    image: str | None  # path relative to the log's root; exactly one of image and video
    video: VideoFrame | None
    depth: str | None
    depth_scale_m: float | None
    mask: str | None
    instances: tuple[InstanceRef, ...]
    camera_pose_in_world: Pose | None  # a moving camera (wrist): its pose now, overriding the header's
    gripper_pose_in_world: Pose | None

    def paths(self) -> dict[str, str]:
        """The files this observation names: {field: path}."""
        out = {}
        for name in ("image", "depth", "mask"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.video is not None:
            out["video.path"] = self.video.path
        return out


@dataclass(frozen=True)
class Action:
    text: str
    verb: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Vlm:
    type = "vlm"
    episode: str
    t: float | None
    observation: str | None  # the observation the model looked at; None: the episode's latest
    track: str
    part_id: str
    colour_code: int
    mask: str | None  # the relevant part's mask as the VLM (or masking model) gave it
    action: Action
    model: str | None


@dataclass(frozen=True)
class Rotate:
    type = "rotate"
    episode: str
    t: float | None
    track: str
    quat_wxyz: Quat  # the rotation applied, expressed in ``frame``
    frame: str  # world | camera | gripper
    camera: str | None  # frame camera: which camera
    gripper_quat_wxyz: Quat | None  # frame gripper: the gripper's orientation in the world before the rotation


@dataclass(frozen=True)
class Judgement:
    type = "judgement"
    episode: str
    t: float
    track: str
    correct: bool
    by: str  # vlm | human | sensor
    observation: str | None  # the observation whose pose was judged; None: the episode's latest


@dataclass(frozen=True)
class PickPlace:
    """``pick`` (grasp) or ``place`` (release): the part's pose in the world at that moment."""

    type: str  # pick | place
    episode: str
    t: float | None
    track: str
    pose_in_world: Pose | None
    gripper_pose_in_world: Pose | None
    part_id: str | None
    colour_code: int | None


Event = Header | EpisodeStart | EpisodeEnd | Observation | Vlm | Rotate | Judgement | PickPlace


# --- field readers ---------------------------------------------------------------------------------------------


def _get(d: dict, key: str, where: str, required: bool = True) -> Any:
    if key in d and d[key] is not None:
        return d[key]
    if required:
        raise EventError(f"{where}.{key}", "is missing")
    return None


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EventError(field, f"{_show(value)} is not a finite number")
    return float(value)


def _int(value: Any, field: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(field, f"{_show(value)} is not an integer")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise EventError(field, f"{value} is not in {lo}..{hi}")
    return value


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise EventError(field, f"{_show(value)} is not a non-empty string")
    return value


def _ident(value: Any, field: str) -> str:
    s = _str(value, field)
    if not ID_RE.match(s):
        raise EventError(field, f"{s!r} is not a name of 1-64 letters, digits, '.', '_' or '-' (not starting with one)")
    return s


def _enum(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise EventError(field, f"{_show(value)} is not one of {', '.join(allowed)}")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise EventError(field, f"{_show(value)} is not true or false")
    return value


def _vec(value: Any, field: str, n: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise EventError(field, f"{_show(value)} is not a list of {n} numbers")
    return tuple(_number(v, field) for v in value)


def quat(value: Any, field: str) -> Quat:
    """A unit quaternion wxyz (norm within QUAT_NORM_TOL of 1), normalised, sign fixed so that w >= 0."""
    q = _vec(value, field, 4)
    norm = math.sqrt(sum(x * x for x in q))
    if abs(norm - 1.0) > QUAT_NORM_TOL:
        raise EventError(field, f"{_show(value)} is not a unit quaternion wxyz (norm {norm:.6g})")
    q = tuple(x / norm for x in q)
    for x in q:  # first non-zero component positive (w first): q and -q are the same rotation
        if x != 0.0:
            if x < 0:
                q = tuple(-y for y in q)
            break
    return q  # type: ignore[return-value]


def _pose(value: Any, field: str, need_t: bool) -> Pose:
    if not isinstance(value, dict):
        raise EventError(field, f"{_show(value)} is not an object with quat_wxyz and t_m")
    q = quat(_get(value, "quat_wxyz", field), f"{field}.quat_wxyz")
    t_raw = _get(value, "t_m", field, required=need_t)
    t = _vec(t_raw, f"{field}.t_m", 3) if t_raw is not None else None
    return Pose(q, t)  # type: ignore[arg-type]


def safe_log_path(value: Any, field: str) -> str:
    """A path relative to the log's root that stays inside it (no absolute path, drive, or '..')."""
    s = _str(value, field)
    p = PurePosixPath(s.replace("\\", "/"))
    if p.is_absolute() or (p.parts and re.match(r"^[A-Za-z]:", p.parts[0])) or ".." in p.parts or not p.parts:
        raise EventError(field, f"path {s!r} escapes the log's root (paths are relative to the log, without '..')")
    return str(p)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _no_unknown(d: dict, where: str, known: frozenset[str]) -> None:
    extra = set(d) - known
    for key in sorted(extra):
        if not key.startswith("x_"):  # x_* keys are free for the robot stack's own data
            raise EventError(f"{where}.{key}", "is not a field of this event (own data goes into keys starting x_)")


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
        raise EventError(f"{w}.format", f"{_show(d.get('format'))} is not {FORMAT_NAME!r}")
    version = _int(_get(d, "version", w), f"{w}.version")
    if version != FORMAT_VERSION:
        raise EventError(f"{w}.version", f"{version} is not a version this legodata reads ({FORMAT_VERSION})")
    robot = _get(d, "robot", w)
    if not isinstance(robot, dict):
        raise EventError(f"{w}.robot", "is not an object")
    _str(_get(robot, "name", f"{w}.robot"), f"{w}.robot.name")
    world = _str(_get(d, "world_frame", w), f"{w}.world_frame")
    cams_raw = _get(d, "cameras", w)
    if not isinstance(cams_raw, list) or not cams_raw:
        raise EventError(f"{w}.cameras", "is not a non-empty list of cameras")
    cameras: dict[str, Camera] = {}
    for n, c in enumerate(cams_raw):
        cw = f"{w}.cameras[{n}]"
        if not isinstance(c, dict):
            raise EventError(cw, "is not an object")
        name = _ident(_get(c, "name", cw), f"{cw}.name")
        if name in cameras:
            raise EventError(f"{cw}.name", f"camera {name!r} is named twice")
        k_raw = _get(c, "K", cw)
        if not isinstance(k_raw, list) or len(k_raw) != 3:
            raise EventError(f"{cw}.K", "is not a 3x3 matrix")
        K = tuple(_vec(row, f"{cw}.K", 3) for row in k_raw)
        if K[0][0] <= 0 or K[1][1] <= 0 or K[2] != (0.0, 0.0, 1.0) or K[1][0] != 0.0:
            raise EventError(f"{cw}.K", "is not a pinhole matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0")
        width = _int(_get(c, "width", cw), f"{cw}.width", 1, 65535)
        height = _int(_get(c, "height", cw), f"{cw}.height", 1, 65535)
        pose = c.get("pose_in_world")
        cameras[name] = Camera(
            name, K, width, height, _pose(pose, f"{cw}.pose_in_world", True) if pose is not None else None
        )
    cat = _get(d, "catalogue", w)
    if not isinstance(cat, dict):
        raise EventError(f"{w}.catalogue", "is not an object")
    kind = _enum(_get(cat, "kind", f"{w}.catalogue"), f"{w}.catalogue.kind", CATALOGUE_KINDS)
    ids_raw = cat.get("part_ids")
    if ids_raw is None:
        if kind == "ldraw":
            raise EventError(f"{w}.catalogue.part_ids", "is missing (an LDraw catalogue lists the part ids it uses)")
        ids = None
    else:
        if not isinstance(ids_raw, list) or not ids_raw:
            raise EventError(f"{w}.catalogue.part_ids", "is not a non-empty list of part ids")
        ids = tuple(_str(p, f"{w}.catalogue.part_ids") for p in ids_raw)
    library = cat.get("library")
    return Header(
        version=version,
        robot=dict(robot),
        world_frame=world,
        cameras=cameras,
        catalogue=Catalogue(kind, ids, None if library is None else str(library)),
    )


def _time(d: dict, w: str, required: bool) -> float | None:
    t = _get(d, "t", w, required)
    return None if t is None else _number(t, f"{w}.t")


def _opt_str(d: dict, key: str, w: str) -> str | None:
    v = d.get(key)
    return None if v is None else _str(v, f"{w}.{key}")


def _opt_path(d: dict, key: str, w: str) -> str | None:
    v = d.get(key)
    return None if v is None else safe_log_path(v, f"{w}.{key}")


def _observation(d: dict) -> Observation:
    w = "observation"
    image = _opt_path(d, "image", w)
    video_raw = d.get("video")
    video = None
    if video_raw is not None:
        if not isinstance(video_raw, dict):
            raise EventError(f"{w}.video", "is not an object with path and frame")
        video = VideoFrame(
            safe_log_path(_get(video_raw, "path", f"{w}.video"), f"{w}.video.path"),
            _int(_get(video_raw, "frame", f"{w}.video"), f"{w}.video.frame", 0),
        )
    if (image is None) == (video is None):
        raise EventError(f"{w}.image", "give exactly one of image (a file) and video (a file and frame index)")
    depth = _opt_path(d, "depth", w)
    scale = d.get("depth_scale_m")
    if depth is not None and scale is None:
        raise EventError(f"{w}.depth_scale_m", "is missing (metres per depth PNG unit; needed with depth)")
    scale_f = None if scale is None else _number(scale, f"{w}.depth_scale_m")
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
        track = _ident(_get(i, "track", iw), f"{iw}.track")
        iid = _int(_get(i, "instance_id", iw), f"{iw}.instance_id", 1, 65535)
        if track in tracks or iid in ids:
            raise EventError(iw, f"track {track!r} or instance_id {iid} appears twice")
        tracks.add(track)
        ids.add(iid)
        instances.append(InstanceRef(track, iid))
    mask = _opt_path(d, "mask", w)
    if instances and mask is None:
        raise EventError(f"{w}.mask", "is missing (instances map mask pixel values to tracks)")
    cam_pose, grip_pose = d.get("camera_pose_in_world"), d.get("gripper_pose_in_world")
    return Observation(
        episode=_ident(_get(d, "episode", w), f"{w}.episode"),
        id=_ident(_get(d, "id", w), f"{w}.id"),
        t=_time(d, w, True),  # type: ignore[arg-type]
        camera=_ident(_get(d, "camera", w), f"{w}.camera"),
        image=image,
        video=video,
        depth=depth,
        depth_scale_m=scale_f,
        mask=mask,
        instances=tuple(instances),
        camera_pose_in_world=None if cam_pose is None else _pose(cam_pose, f"{w}.camera_pose_in_world", True),
        gripper_pose_in_world=None if grip_pose is None else _pose(grip_pose, f"{w}.gripper_pose_in_world", True),
    )


def _vlm(d: dict) -> Vlm:
    w = "vlm"
    a = _get(d, "action", w)
    if not isinstance(a, dict):
        raise EventError(f"{w}.action", "is not an object with text and verb")
    args = a.get("args") or {}
    if not isinstance(args, dict):
        raise EventError(f"{w}.action.args", "is not an object")
    obs = d.get("observation")
    return Vlm(
        episode=_ident(_get(d, "episode", w), f"{w}.episode"),
        t=_time(d, w, False),
        observation=None if obs is None else _ident(obs, f"{w}.observation"),
        track=_ident(_get(d, "track", w), f"{w}.track"),
        part_id=_str(_get(d, "part_id", w), f"{w}.part_id"),
        colour_code=_int(_get(d, "colour_code", w), f"{w}.colour_code", 0),
        mask=_opt_path(d, "mask", w),
        action=Action(
            text=_str(_get(a, "text", f"{w}.action"), f"{w}.action.text"),
            verb=_enum(_get(a, "verb", f"{w}.action"), f"{w}.action.verb", VERBS),
            args=dict(args),
        ),
        model=_opt_str(d, "model", w),
    )


def _rotate(d: dict) -> Rotate:
    w = "rotate"
    frame = _enum(_get(d, "frame", w), f"{w}.frame", FRAMES)
    camera = d.get("camera")
    if frame == "camera":
        camera = _ident(_get(d, "camera", w), f"{w}.camera")
    elif camera is not None:
        raise EventError(f"{w}.camera", f"is only for frame camera, not frame {frame}")
    grip = d.get("gripper_quat_wxyz")
    if frame == "gripper":
        grip = quat(_get(d, "gripper_quat_wxyz", w), f"{w}.gripper_quat_wxyz")
    elif grip is not None:
        raise EventError(f"{w}.gripper_quat_wxyz", f"is only for frame gripper, not frame {frame}")
    return Rotate(
        episode=_ident(_get(d, "episode", w), f"{w}.episode"),
        t=_time(d, w, False),
        track=_ident(_get(d, "track", w), f"{w}.track"),
        quat_wxyz=quat(_get(d, "quat_wxyz", w), f"{w}.quat_wxyz"),
        frame=frame,
        camera=camera,
        gripper_quat_wxyz=grip,
    )


def _judgement(d: dict) -> Judgement:
    w = "judgement"
    obs = d.get("observation")
    return Judgement(
        episode=_ident(_get(d, "episode", w), f"{w}.episode"),
        t=_time(d, w, True),  # type: ignore[arg-type]
        track=_ident(_get(d, "track", w), f"{w}.track"),
        correct=_bool(_get(d, "correct", w), f"{w}.correct"),
        by=_enum(_get(d, "by", w), f"{w}.by", JUDGES),
        observation=None if obs is None else _ident(obs, f"{w}.observation"),
    )


def _pick_place(d: dict, kind: str) -> PickPlace:
    pose, grip, colour = d.get("pose_in_world"), d.get("gripper_pose_in_world"), d.get("colour_code")
    return PickPlace(
        type=kind,
        episode=_ident(_get(d, "episode", kind), f"{kind}.episode"),
        t=_time(d, kind, False),
        track=_ident(_get(d, "track", kind), f"{kind}.track"),
        pose_in_world=None if pose is None else _pose(pose, f"{kind}.pose_in_world", False),
        gripper_pose_in_world=None if grip is None else _pose(grip, f"{kind}.gripper_pose_in_world", True),
        part_id=_opt_str(d, "part_id", kind),
        colour_code=None if colour is None else _int(colour, f"{kind}.colour_code", 0),
    )


def parse_event(d: Any) -> Event:
    """One decoded JSON line -> its event; :class:`EventError` naming the field otherwise."""
    if not isinstance(d, dict):
        raise EventError("type", f"the line is a JSON {type(d).__name__}, not an object with a 'type'")
    kind = d.get("type")
    if kind not in _KNOWN:
        if kind is None:
            raise EventError("type", "is missing")
        raise EventError("type", f"unknown event type {_show(kind)}; known: {', '.join(EVENT_TYPES)}")
    _no_unknown(d, kind, _KNOWN[kind])
    if kind == "header":
        return _header(d)
    if kind == "episode_start":
        w = kind
        return EpisodeStart(
            episode=_ident(_get(d, "episode", w), f"{w}.episode"),
            mode=_enum(_get(d, "mode", w), f"{w}.mode", MODES),
            source_kind=_enum(_get(d, "source_kind", w), f"{w}.source_kind", SOURCE_KINDS),
            t=_time(d, w, False),
            model=_opt_str(d, "model", w),
            manual=_opt_str(d, "manual", w),
        )
    if kind == "episode_end":
        return EpisodeEnd(
            episode=_ident(_get(d, "episode", kind), f"{kind}.episode"),
            outcome=_enum(_get(d, "outcome", kind), f"{kind}.outcome", OUTCOMES),
            t=_time(d, kind, False),
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
