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

A :class:`~legodata.runlog.reader.Gap` (a lost line that may have moved the part) between ``k`` and what a label
needs stops that label; every missing label says why in ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from legodata.core.rotations import geodesic_angle, matrix_to_quat_wxyz, quat_wxyz_to_matrix
from legodata.runlog.events import Camera, Header, Judgement, Observation, PickPlace, Pose, Rotate, Vlm
from legodata.runlog.reader import EpisodeLog, Gap, LostObservation

ANCHOR_TOL_DEG = 1.0  # pick and place orientations that the logged rotations do not link within this get a note
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


def pose_matrix(pose: Pose) -> np.ndarray:
    return quat_wxyz_to_matrix(np.asarray(pose.quat_wxyz))


def quat(R: np.ndarray) -> list[float]:
    return [float(x) for x in matrix_to_quat_wxyz(R)]


def angle_deg(R: np.ndarray) -> float:
    return float(np.degrees(geodesic_angle(np.eye(3), R)))


def smallest_equivalent(T: np.ndarray, R_cur: np.ndarray, symmetries: np.ndarray) -> np.ndarray:
    """Of the rotations ``T R_cur S R_cur^T`` (all reach a target equivalent to ``T R_cur``), the smallest."""
    cands = T @ R_cur @ symmetries @ R_cur.T
    cos = (np.trace(cands, axis1=1, axis2=2) - 1.0) / 2.0
    return cands[int(np.argmax(cos))]


@dataclass(frozen=True)
class _Step:
    pos: int
    track: str
    A: np.ndarray  # as logged
    A_w: np.ndarray | None  # in the world frame, when it can be known
    frame: str
    camera: str | None


class _Episode:
    """Index of one episode's items for label queries."""

    def __init__(self, header: Header, ep: EpisodeLog) -> None:
        self.header = header
        self.ep = ep
        self.items = [ev for _, ev in ep.items]
        self.lines = [ln for ln, _ in ep.items]
        self.obs_pos: dict[str, int] = {}
        self.tracks: list[str] = []
        self.part: dict[str, tuple[str, int | None]] = {}
        moving_cams: set[str] = set()
        cam_pose_at: dict[str, Pose | None] = {n: c.pose_in_world for n, c in header.cameras.items()}
        self.obs_cam_pose: dict[int, Pose | None] = {}
        self.steps: dict[str, list[_Step]] = {}
        self.gaps: list[tuple[int, str | None]] = []
        for pos, ev in enumerate(self.items):
            track = None if isinstance(ev, Gap) else getattr(ev, "track", None)  # a lost line names no real track
            if track is not None and track not in self.tracks:
                self.tracks.append(track)
            if isinstance(ev, Observation):
                self.obs_pos[ev.id] = pos
                for ref in ev.instances:
                    if ref.track not in self.tracks:
                        self.tracks.append(ref.track)
                if ev.camera_pose_in_world is not None:
                    if cam_pose_at[ev.camera] is not None and cam_pose_at[ev.camera] != ev.camera_pose_in_world:
                        moving_cams.add(ev.camera)
                    cam_pose_at[ev.camera] = ev.camera_pose_in_world
                self.obs_cam_pose[pos] = cam_pose_at[ev.camera]
            elif isinstance(ev, Rotate):
                A = quat_wxyz_to_matrix(np.asarray(ev.quat_wxyz))
                if ev.frame == "world":
                    A_w = A
                elif ev.frame == "gripper":
                    G = quat_wxyz_to_matrix(np.asarray(ev.gripper_quat_wxyz))
                    A_w = G @ A @ G.T
                else:
                    cp = cam_pose_at.get(ev.camera)
                    A_w = None
                    if cp is not None:
                        C = pose_matrix(cp)
                        A_w = C @ A @ C.T
                self.steps.setdefault(ev.track, []).append(_Step(pos, ev.track, A, A_w, ev.frame, ev.camera))
            elif isinstance(ev, Gap):
                self.gaps.append((pos, ev.track))
            if isinstance(ev, (Vlm, PickPlace)) and ev.part_id is not None and track not in self.part:
                self.part[track] = (ev.part_id, ev.colour_code)
        self.moving_cams = moving_cams
        self.mode = ep.start.mode

    # --- chains -----------------------------------------------------------------------------------------------
    def between(self, track: str, a: int, b: int) -> tuple[list[_Step], int | None]:
        """Steps of ``track`` strictly between positions a < b, and the line of a gap there (None: no gap)."""
        lo, hi = (a, b) if a <= b else (b, a)
        for pos, gtrack in self.gaps:
            if lo < pos < hi and (gtrack is None or gtrack == track):
                return [], self.lines[pos]
        return [s for s in self.steps.get(track, ()) if lo < s.pos < hi], None

    def in_camera(self, steps: list[_Step], obs: Observation, pos: int) -> tuple[np.ndarray | None, str | None]:
        """The composition of ``steps`` in the camera frame of the observation at ``pos`` (or why not)."""
        if not steps:
            return np.eye(3), None
        cp = self.obs_cam_pose[pos]
        if cp is not None and all(s.A_w is not None for s in steps):
            C = pose_matrix(cp)
            T = np.eye(3)
            for s in steps:
                T = s.A_w @ T
            return C.T @ T @ C, None
        if all(s.frame == "camera" and s.camera == obs.camera for s in steps) and obs.camera not in self.moving_cams:
            T = np.eye(3)
            for s in steps:
                T = s.A @ T
            return T, None
        if cp is None:
            return None, f"camera {obs.camera} has no pose and the rotations were not all logged in its frame"
        return None, "a rotation in a camera frame whose pose is unknown"

    @staticmethod
    def in_world(steps: list[_Step]) -> np.ndarray | None:
        T = np.eye(3)
        for s in steps:
            if s.A_w is None:
                return None
            T = s.A_w @ T
        return T

    def events_of(self, track: str, kind: type) -> list[tuple[int, object]]:
        return [(p, ev) for p, ev in enumerate(self.items) if isinstance(ev, kind) and ev.track == track]


def _pose_T(pose: Pose) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = pose_matrix(pose)
    T[:3, 3] = pose.t_m  # type: ignore[assignment]
    return T


def _world_pose(e: _Episode, track: str, pos: int, obs: Observation, notes: list[str]):
    """(R_m2w, t_m2w, held, pose_check_deg) of ``track`` at observation position ``pos``; None where unknown."""
    picks_places = [(p, ev) for p, ev in e.events_of(track, PickPlace)]
    before = [(p, ev) for p, ev in picks_places if p < pos]
    after = [(p, ev) for p, ev in picks_places if p > pos]
    held = bool(before) and before[-1][1].type == "pick"
    # orientation from the nearest anchor with a known orientation, through the rotations between
    # (the nearest pick/place with an orientation on each side; the one with fewer rotations between wins)
    R_w, best, found = None, None, []
    near = [
        next(((p, ev) for p, ev in reversed(before) if ev.pose_in_world is not None), None),
        next(((p, ev) for p, ev in after if ev.pose_in_world is not None), None),
    ]
    for p, ev in (a for a in near if a is not None):
        steps, gap = e.between(track, pos, p)
        if gap is not None:
            continue
        T = e.in_world(steps)
        if T is None:
            continue
        R_anchor = pose_matrix(ev.pose_in_world)
        R = T.T @ R_anchor if p > pos else T @ R_anchor
        found.append((ev.type, R))
        key = (len(steps), abs(p - pos))
        if best is None or key < best:
            best, R_w = key, R
    if len(found) == 2 and angle_deg(found[0][1].T @ found[1][1]) > ANCHOR_TOL_DEG:
        notes.append(
            f"the logged rotations take the {found[0][0]} pose to within "
            f"{angle_deg(found[0][1].T @ found[1][1]):.1f} deg of the {found[1][0]} pose, not onto it"
        )
    # position
    t_w, R_grip = None, None
    if not held:
        for p, ev in ([before[-1]] if before else []) + ([after[0]] if after else []):
            if ev.pose_in_world is None or ev.pose_in_world.t_m is None:
                continue
            steps, gap = e.between(track, pos, p)
            if gap is None and not steps:
                t_w = np.asarray(ev.pose_in_world.t_m)
                break
        if t_w is None:
            notes.append("position unknown: no pick or place with a position next to this observation")
    else:
        hold_start = before[-1]
        hold_end = after[0] if after and after[0][1].type == "place" else None
        g_obs = obs.gripper_pose_in_world
        for p, ev in [hold_start] + ([hold_end] if hold_end else []):
            pose, grip = ev.pose_in_world, ev.gripper_pose_in_world
            if pose is None or pose.t_m is None or grip is None or g_obs is None:
                continue
            if e.between(track, pos, p)[1] is not None:
                continue
            offset = np.linalg.inv(_pose_T(grip)) @ _pose_T(pose)  # part in gripper frame, fixed while held
            T_part = _pose_T(g_obs) @ offset
            t_w, R_grip = T_part[:3, 3], T_part[:3, :3]
            break
        if t_w is None:
            notes.append(
                "position unknown while held: needs the observation's gripper pose and the part and gripper "
                "poses at pick or place"
            )
    check = None
    if R_w is not None and R_grip is not None:
        check = angle_deg(R_w.T @ R_grip)
    elif R_w is None and R_grip is not None:
        R_w = R_grip
        notes.append("orientation from the gripper pose (the rotations logged do not reach a pick or place pose)")
    if R_w is None:
        notes.append("orientation unknown: no pick or place pose reachable through logged rotations")
    return R_w, t_w, held, check


def derive(header: Header, ep: EpisodeLog, symmetry_of: SymmetryOf) -> list[ObservationLabels]:
    """The labels of every observation of ``ep``, in log order."""
    e = _Episode(header, ep)
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
    R_w, t_w, lab.held, lab.pose_check_deg = _world_pose(e, track, pos, obs, notes)
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


def _shows(e: _Episode, item, track: str) -> bool:
    """Whether the observation ``item`` shows ``track`` (a lost observation might have)."""
    if isinstance(item, LostObservation):
        return True
    return track in ([r.track for r in item.instances] or e.tracks)
