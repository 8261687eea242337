"""Labels derived from one episode of a run log: rotations to target, current and goal poses. Pure numpy.

Notation: ``A`` is a rotation the robot applied to a part. Logged in the world frame it acts as ``R_w' = A R_w``
(``R_w`` the part's model-to-world rotation); logged in camera ``c`` with pose ``R_c2w`` it is
``A_w = R_c2w A R_c2w^T``; logged in the gripper frame with the gripper's orientation ``R_g`` (before the rotation)
it is ``A_w = R_g A R_g^T``. Rotations applied between two observations compose by left multiplication.

For an observation ``k`` of a part (a track):

- **rotation to target** (``rotation_to_target``, in the camera frame of ``k``): once the track's pose is judged
  correct at observation ``n`` (the first correct judgement after ``k``), the composition of the rotations applied
  from ``k`` to ``n``, expressed in camera ``k`` (through the world when camera poses are known, or directly when
  every rotation was logged in the frame of ``k``'s own camera and that camera does not move). Without such a
  judgement, but with the part's current and goal orientation known: ``R_goal R_cur^T`` (disassembly: the goal is
  the pose at ``pick``, the part's place in the assembled model; assembly: the pose at the last ``place``).
- **smallest equivalent**: with the model-frame symmetry group ``S`` of the part, every ``T R_cur S R_cur^T``
  reaches an equivalent target; the one with the smallest angle is kept. This needs the current orientation in the
  camera frame; without it the rotation stays as applied and ``symmetry_reduced`` is False.
- **current pose** (``R_m2c``, ``t_m2c``): orientation from the nearest ``pick``/``place`` pose of the track and
  the rotations between; position while resting from the adjacent ``pick``/``place`` (no rotation between), while
  held from the observation's gripper pose and the grasp offset at ``pick`` or ``place``.
- **target** (``R_target_m2c``): the orientation at the judged observation (or the goal pose) in camera ``k``;
  ``t_target_m2c`` from the goal pose.

A :class:`~legodata.runlog.episode.Gap` (a lost line that may have moved the part) between ``k`` and what a label
needs stops that label; every missing label says why in ``notes``. The rotation chains and the world poses are
found by :mod:`legodata.runlog.poses`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from legodata.core.rotations import matrix_to_quat_wxyz
from legodata.runlog.episode import EpisodeLog, LostObservation
from legodata.runlog.events import Camera, Header, Judgement, Observation, PickPlace, Pose, Vlm
from legodata.runlog.poses import EpisodeIndex, pose_matrix, world_pose

SymmetryOf = Callable[[str], np.ndarray | None]  # part id -> (M, 3, 3) model-frame rotations, identity first


@dataclass
class TrackLabels:
    """What is known about one track at one observation (None: unknown, see ``notes``)."""

    track: str
    part_id: str | None = None
    colour_code: int | None = None
    instance_id: int | None = None
    held: bool = False
    R_m2c: np.ndarray | None = None
    t_m2c: np.ndarray | None = None
    R_m2w: np.ndarray | None = None
    t_m2w: np.ndarray | None = None
    rotation_to_target: np.ndarray | None = None  # camera frame of the observation, smallest equivalent if possible
    rotation_applied_to_target: np.ndarray | None = None  # the same before the symmetry reduction
    rotation_to_target_from: str | None = None  # actions | goal_pose
    symmetry_reduced: bool = False
    target_observation: str | None = None
    steps_to_target: int | None = None
    target_judged_by: str | None = None
    R_target_m2c: np.ndarray | None = None
    t_target_m2c: np.ndarray | None = None
    goal_pose_in_world: Pose | None = None
    action_rotation: np.ndarray | None = None  # the rotations applied next (until the track's next observation)
    judged_correct: bool | None = None  # a judgement of this observation's pose
    judged_by: str | None = None
    pose_check_deg: float | None = None  # actions vs gripper poses, when both give the orientation
    notes: list[str] = field(default_factory=list)


@dataclass
class ObservationLabels:
    observation: Observation
    lineno: int
    step: int  # index of the observation within its episode
    camera: Camera
    camera_pose: Pose | None
    focus: str | None  # the track the VLM named for this observation (or the only one)
    vlm: Vlm | None
    tracks: dict[str, TrackLabels]


def quat(R: np.ndarray) -> list[float]:
    return [float(x) for x in matrix_to_quat_wxyz(R)]


def smallest_equivalent(T: np.ndarray, R_cur: np.ndarray, symmetries: np.ndarray) -> np.ndarray:
    """Of the rotations ``T R_cur S R_cur^T`` (all reach a target equivalent to ``T R_cur``), the smallest."""
    cands = T @ R_cur @ symmetries @ R_cur.T
    cos = (np.trace(cands, axis1=1, axis2=2) - 1.0) / 2.0
    return cands[int(np.argmax(cos))]


def derive(header: Header, ep: EpisodeLog, symmetry_of: SymmetryOf) -> list[ObservationLabels]:
    """The labels of every observation of ``ep``, in log order."""
    e = EpisodeIndex(header, ep)
    judgements = {t: e.events_of(t, Judgement) for t in e.tracks}
    vlms_by_obs: dict[str, list[Vlm]] = {}
    for ev in e.items:
        if isinstance(ev, Vlm):
            vlms_by_obs.setdefault(ev.observation, []).append(ev)  # type: ignore[arg-type]
    goal: dict[str, Pose | None] = {}
    for t in e.tracks:
        pp = [ev for _, ev in e.events_of(t, PickPlace) if ev.pose_in_world is not None]
        if e.mode == "disassemble":
            g = next((ev.pose_in_world for ev in pp if ev.type == "pick"), None)
        else:
            g = next((ev.pose_in_world for ev in reversed(pp) if ev.type == "place"), None)
        goal[t] = g
    # lost observations still count as steps, and end the "next action" of the observation before them
    obs_positions = [p for p, ev in enumerate(e.items) if isinstance(ev, (Observation, LostObservation))]
    out = []
    for step, pos in enumerate(obs_positions):
        obs: Observation = e.items[pos]  # type: ignore[assignment]
        if isinstance(obs, LostObservation):
            continue
        cam = header.cameras[obs.camera]
        cam_pose = e.obs_cam_pose[pos]
        shown = [r.track for r in obs.instances] or list(e.tracks)
        ids = {r.track: r.instance_id for r in obs.instances}
        tracks = {}
        for track in shown:
            tracks[track] = _track_labels(
                e,
                track,
                pos,
                obs,
                cam_pose,
                ids.get(track),
                judgements[track],
                goal.get(track),
                symmetry_of,
                obs_positions,
            )
        vlms = vlms_by_obs.get(obs.id, [])
        focus = vlms[0].track if vlms else (shown[0] if len(shown) == 1 else None)
        out.append(ObservationLabels(obs, e.lines[pos], step, cam, cam_pose, focus, vlms[0] if vlms else None, tracks))
    return out


def _track_labels(e, track, pos, obs, cam_pose, instance_id, judgements, goal, symmetry_of, obs_positions):
    lab = TrackLabels(track=track, instance_id=instance_id)
    if track in e.part:
        lab.part_id, lab.colour_code = e.part[track]
    notes = lab.notes
    R_w, t_w, lab.held, lab.pose_check_deg = world_pose(e, track, pos, obs, notes)
    lab.R_m2w, lab.t_m2w = R_w, t_w
    C = pose_matrix(cam_pose) if cam_pose is not None else None
    if C is not None and R_w is not None:
        lab.R_m2c = C.T @ R_w
        if t_w is not None:
            lab.t_m2c = C.T @ (t_w - np.asarray(cam_pose.t_m))
    elif cam_pose is None:
        notes.append(f"camera {obs.camera} has no pose: poses in its frame are unknown")
    for _jpos, j in judgements:
        if j.observation == obs.id:
            lab.judged_correct, lab.judged_by = j.correct, j.by
    # rotation to target from the actions: the first correct judgement after this observation
    target = next(((jp, j) for jp, j in judgements if j.correct and jp > pos and e.obs_pos[j.observation] >= pos), None)
    T = None
    if target is not None:
        jp, j = target
        n_pos = e.obs_pos[j.observation]
        steps, gap = e.between(track, pos, n_pos)
        if gap is not None:
            notes.append(f"no rotation to target: line {gap} was lost between this observation and the judgement")
        else:
            T, why = e.in_camera(steps, obs, pos)
            if T is None:
                notes.append(f"no rotation to target: {why}")
            else:
                lab.rotation_to_target_from = "actions"
                lab.target_observation, lab.steps_to_target, lab.target_judged_by = j.observation, len(steps), j.by
                if lab.R_m2c is not None:
                    lab.R_target_m2c = T @ lab.R_m2c
    elif goal is not None and R_w is not None and C is not None:
        R_goal = pose_matrix(goal)
        T = C.T @ (R_goal @ R_w.T) @ C
        lab.rotation_to_target_from = "goal_pose"
        lab.R_target_m2c = C.T @ R_goal
    else:
        notes.append("no rotation to target: no later correct judgement, and no goal pose with the current one")
    if goal is not None:
        lab.goal_pose_in_world = goal
        if C is not None:
            if lab.R_target_m2c is None and lab.rotation_to_target_from is None:
                lab.R_target_m2c = C.T @ pose_matrix(goal)
            if goal.t_m is not None:
                lab.t_target_m2c = C.T @ (np.asarray(goal.t_m) - np.asarray(cam_pose.t_m))
    if T is not None:
        lab.rotation_applied_to_target = T
        sym = symmetry_of(lab.part_id) if lab.part_id is not None else None
        if lab.R_m2c is not None and sym is not None:
            lab.rotation_to_target = smallest_equivalent(T, lab.R_m2c, sym)
            lab.symmetry_reduced = True
        else:
            lab.rotation_to_target = T
            notes.append("rotation to target not reduced by symmetry: the current orientation is unknown")
    # the next action: rotations until this track's next observation
    later = [p for p in obs_positions if p > pos and _shows(e, e.items[p], track)]
    nxt = later[0] if later else len(e.items)
    steps, gap = e.between(track, pos, nxt)
    if gap is None and steps:
        lab.action_rotation = e.in_camera(steps, obs, pos)[0]
    return lab


def _shows(e: EpisodeIndex, item, track: str) -> bool:
    """Whether the observation ``item`` shows ``track`` (a lost observation might have)."""
    if isinstance(item, LostObservation):
        return True
    return track in ([r.track for r in item.instances] or e.tracks)
