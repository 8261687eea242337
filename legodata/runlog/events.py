"""The events of a ``legodata-log`` (version 1): the format's names and constants, one frozen dataclass per event.

:func:`legodata.runlog.parse.parse_event` turns one decoded JSON line into one of these events, or raises
:class:`EventError` whose message names the offending field (``field rotate.quat_wxyz: ...``). What needs context
(an episode that was started, an observation that exists, a file on disk) is the reader's job
(:mod:`legodata.runlog.reader`). ``FORMAT.md`` beside this module documents the format and ``schema.json`` is its
JSON Schema (draft 2020-12).

Poses are always "X in world": ``x_world = R @ x_X + t`` with ``R`` from ``quat_wxyz`` (scalar first) and ``t``
in metres; a part's model frame is the LDraw part frame, a camera's frame is OpenCV (x right, y down, z forward).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
