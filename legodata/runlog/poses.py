"""Where a track is, from one episode's events: the chains of logged rotations between two moments, and a part's
pose in the world at an observation (from the nearest ``pick``/``place`` poses and the rotations between). Pure numpy.

The notation and the rules are those of :mod:`legodata.runlog.labels`, which builds the labels on these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.core.rotations import geodesic_angle, quat_wxyz_to_matrix
from legodata.runlog.episode import EpisodeLog, Gap
from legodata.runlog.events import Header, Observation, PickPlace, Pose, Rotate, Vlm

ANCHOR_TOL_DEG = 1.0  # pick and place orientations that the logged rotations do not link within this get a note


def pose_matrix(pose: Pose) -> np.ndarray:
    return quat_wxyz_to_matrix(np.asarray(pose.quat_wxyz))


def angle_deg(R: np.ndarray) -> float:
    return float(np.degrees(geodesic_angle(np.eye(3), R)))


@dataclass(frozen=True)
class _Step:
    pos: int
    track: str
    A: np.ndarray  # as logged
    A_w: np.ndarray | None  # in the world frame, when it can be known
    frame: str
    camera: str | None


class EpisodeIndex:
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


def world_pose(e: EpisodeIndex, track: str, pos: int, obs: Observation, notes: list[str]):
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
