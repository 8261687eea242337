"""``simulate-run``: scripted robot runs written as a ``legodata-log``, every observation rendered.

A table, one or two calibrated cameras, the part being worked on (track ``p1``) and a few distractors.
Episodes alternate:

- **assemble**: the part lies where the last disassembly (or the start) left it; the robot picks it (top-down
  grasp at its centre), holds it in front of the cameras and rotates it by noisy steps toward its goal orientation
  (logged in the world, camera or gripper frame at random), observing after each step; a judge (vlm, sensor or human
  at random) says whether the pose is within ``tolerance_deg`` of the goal (symmetry-aware); once it is, the robot
  places the part at its goal in the model.
- **disassemble**: the part is picked from its goal pose, turned to a random orientation and dropped on the table;
  each camera observes it there.

Everything the robot does is logged; the renderer's own poses go to ``ground_truth.jsonl`` beside the log (one
line per observation), so tests can compare the importer's labels with them. The renderer is anything with the
:class:`~legodata.core.protocol.Renderer` interface: the Blender worker (``legodata.jobs.worker_client``), or
:class:`SilhouetteRenderer`, a flat-shaded numpy stand-in for tests without Blender.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from legodata.core.protocol import WORKER_RESULT, RenderAnswer, Renderer
from legodata.core.rotations import axis_angle_to_matrix, geodesic_angle, matrix_to_quat_wxyz, random_rotations
from legodata.core.spec import CameraView, Light, PlacedPart, RenderSettings, SceneSpec, Surface, load_spec
from legodata.core.units import DEPTH_SCALE_M
from legodata.errors import LegodataError
from legodata.runlog.events import FORMAT_NAME, FORMAT_VERSION
from legodata.runlog.reader import LOG_NAME
from legodata.scene.camera import intrinsics_from_fov, look_at_w2c

GROUND_TRUTH = "ground_truth.jsonl"
SIM_DIR = ".sim"  # models, specs and render scratch space while simulating (removed at the end)
TRACK = "p1"
HOLD_POINT = np.array([0.0, 0.0, 0.035])  # where the robot holds a part while rotating it
GOAL_XY = np.array([0.028, 0.018])  # the part's place in the "model"
START_XY = np.array([-0.026, -0.012])  # where disassembly drops parts (within START_RADIUS)
START_RADIUS = 0.008
DISTRACTOR_XY = ((-0.040, 0.034), (0.038, -0.036), (-0.044, -0.040))
LOOK_AT = np.array([0.0, 0.0, 0.015])
# Upright in the world: the LDraw part frame's -Y (up) onto the world's +Z.
UPRIGHT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
# A top-down grasp: the gripper's z axis points down.
TOP_DOWN = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. ``parts``: LDraw ids of the built-in catalogue, worked on in turn (one per episode pair)."""

    out: str
    episodes: int = 4
    seed: int = 0
    parts: tuple[str, ...] = ("3001", "3039")
    colours: tuple[int, ...] = (4, 14, 1, 2, 15)
    resolution: int = 96
    cameras: int = 2
    distractors: int = 2
    tolerance_deg: float = 8.0
    max_steps: int = 8
    preset: str = "fast"
    explore: float = 0.15  # chance that a rotation step is a random exploratory turn

    def validate(self) -> SimConfig:
        if self.episodes < 1:
            raise LegodataError(f"--episodes {self.episodes}: must be at least 1")
        if not 16 <= self.resolution <= 4096:
            raise LegodataError(f"--resolution {self.resolution}: must be between 16 and 4096 pixels")
        if self.cameras not in (1, 2):
            raise LegodataError(f"--cameras {self.cameras}: 1 or 2")
        if not 0 <= self.distractors <= len(DISTRACTOR_XY):
            raise LegodataError(f"--distractors {self.distractors}: 0 to {len(DISTRACTOR_XY)}")
        if not 0.5 <= self.tolerance_deg <= 90:
            raise LegodataError(f"--tolerance-deg {self.tolerance_deg}: between 0.5 and 90")
        if self.max_steps < 1:
            raise LegodataError(f"--max-steps {self.max_steps}: at least 1")
        if not self.parts:
            raise LegodataError("--parts is empty: name at least one built-in part id")
        return self


@dataclass
class SimSummary:
    out: str
    episodes: int
    observations: int
    events: int
    wall_s: float
    render_s: float
    seconds_per_episode: list[float] = field(default_factory=list)


# --- geometry helpers ------------------------------------------------------------------------------------------


def _q(R: np.ndarray) -> list[float]:
    return [float(x) for x in matrix_to_quat_wxyz(R)]


def _pose(R: np.ndarray, t: np.ndarray) -> dict:
    return {"quat_wxyz": _q(R), "t_m": [float(x) for x in t]}


def _mat(R) -> list:
    return [[float(x) for x in row] for row in np.asarray(R)]


def _axis_angle(R: np.ndarray) -> tuple[np.ndarray, float]:
    q = matrix_to_quat_wxyz(R)
    angle = 2.0 * float(np.arccos(np.clip(q[0], -1.0, 1.0)))
    s = np.linalg.norm(q[1:])
    axis = q[1:] / s if s > 1e-12 else np.array([1.0, 0.0, 0.0])
    return axis, angle


class _Part:
    """A catalogue part: mesh vertices, centre, symmetry rotations, name."""

    def __init__(self, part_id: str) -> None:
        from legodata.parts.catalogue import get_part

        part = get_part(part_id)
        self.part_id = part_id
        self.name = part.info.name
        self.mesh = part.mesh
        v = part.mesh.vertices
        self.centre = (v.min(axis=0) + v.max(axis=0)) / 2.0
        self.symmetries = part.symmetry.sampled()

    def resting(self, R: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Translation that puts the part with orientation R on the table (lowest point at z = 0), centre over xy."""
        c = R @ self.centre
        low = (self.mesh.vertices @ R.T)[:, 2].min()
        return np.array([xy[0] - c[0], xy[1] - c[1], -low])

    def held(self, R: np.ndarray) -> np.ndarray:
        """Translation that puts the part's centre at the hold point."""
        return HOLD_POINT - R @ self.centre

    def error(self, R: np.ndarray, R_goal: np.ndarray) -> tuple[float, np.ndarray]:
        """Symmetry-aware angle (radians) to the goal and the smallest world rotation reaching it."""
        cands = R_goal @ self.symmetries @ R.T
        ang = geodesic_angle(np.eye(3), cands)
        k = int(np.argmin(ang))
        return float(ang[k]), cands[k]


# --- the simulator ---------------------------------------------------------------------------------------------


class _Sim:
    def __init__(self, cfg: SimConfig, renderer: Renderer) -> None:
        from legodata.config import PRESETS
        from legodata.parts.catalogue import part_ids
        from legodata.parts.colours import get_colour

        self.cfg = cfg
        self.renderer = renderer
        self.root = Path(cfg.out)
        self.sim = self.root / SIM_DIR
        self.rng = np.random.default_rng(cfg.seed)
        self.parts = {pid: _Part(pid) for pid in cfg.parts}
        self.colour = {code: get_colour(code) for code in cfg.colours}
        for sub in ("images", "masks", "depth"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.sim / "models").mkdir(parents=True, exist_ok=True)
        (self.sim / "specs").mkdir(parents=True, exist_ok=True)
        self.render_settings = RenderSettings(device="cpu", threads=0, **PRESETS[cfg.preset])
        self.cameras = self._cameras()
        # point lights: power scales with distance squared, as in the scene sampler (~60 and ~35 W at 1 m)
        self.lights = (
            Light((0.25, -0.15, 0.45), 60.0 * 0.536**2, (1.0, 0.97, 0.92), 0.08),
            Light((-0.3, 0.25, 0.35), 35.0 * 0.525**2, (0.92, 0.95, 1.0), 0.12),
        )
        self.table = Surface(rgb=(0.55, 0.5, 0.45), rgb2=(0.45, 0.42, 0.4), noise_scale=80.0, roughness=0.7, size=1.0)
        # distractors: fixed for the whole run
        all_ids = part_ids()
        self.distractors = []
        for k in range(cfg.distractors):
            pid = all_ids[int(self.rng.integers(len(all_ids)))]
            part = self.parts.get(pid) or _Part(pid)
            R = random_rotations(self.rng, 1)[0]
            code = cfg.colours[int(self.rng.integers(len(cfg.colours)))]
            self.distractors.append((part, code, R, part.resting(R, np.asarray(DISTRACTOR_XY[k]))))
        for part in list(self.parts.values()) + [d[0] for d in self.distractors]:
            path = self.sim / "models" / f"{part.part_id}.ply"
            if not path.exists():
                from legodata.core.mesh import write_ply

                write_ply(part.mesh, path)
        # the state of each part: where it lies, and its goal (upright, random yaw, at GOAL_XY)
        self.state: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.goal: dict[str, np.ndarray] = {}
        for pid, part in self.parts.items():
            R0 = random_rotations(self.rng, 1)[0]
            self.state[pid] = (R0, part.resting(R0, self._start_xy()))
            yaw = axis_angle_to_matrix([0.0, 0.0, 1.0], float(self.rng.uniform(0, 2 * np.pi)))
            self.goal[pid] = yaw @ UPRIGHT
        self.t = 0.0
        self.n_obs = 0
        self.n_events = 0
        self.render_s = 0.0
        self.log = open(self.root / LOG_NAME, "w", encoding="utf-8")
        self.gt = open(self.root / GROUND_TRUTH, "w", encoding="utf-8")
        self.cam_cycle = 0

    def _start_xy(self) -> np.ndarray:
        r = START_RADIUS * np.sqrt(self.rng.uniform())
        a = self.rng.uniform(0, 2 * np.pi)
        return START_XY + r * np.array([np.cos(a), np.sin(a)])

    def _cameras(self) -> list[dict]:
        res = self.cfg.resolution
        K = intrinsics_from_fov(res, res, 45.0)
        out = []
        for n, (az, el, dist) in enumerate(((35.0, 52.0, 0.17), (155.0, 40.0, 0.18))[: self.cfg.cameras]):
            a, e = np.radians(az), np.radians(el)
            eye = LOOK_AT + dist * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
            R_w2c, t_w2c = look_at_w2c(eye, LOOK_AT)
            out.append({"name": f"cam{n}", "K": K, "R_w2c": R_w2c, "t_w2c": t_w2c})
        return out

    # --- writing ---------------------------------------------------------------------------------------------
    def emit(self, event: dict) -> None:
        self.t = round(self.t + float(self.rng.uniform(0.4, 2.0)), 3)
        if "t" in event:
            event["t"] = self.t
        self.log.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.n_events += 1

    def header(self) -> None:
        cfg = self.cfg
        cams = []
        for c in self.cameras:
            R_c2w = c["R_w2c"].T
            cams.append(
                {
                    "name": c["name"],
                    "K": _mat(c["K"]),
                    "width": cfg.resolution,
                    "height": cfg.resolution,
                    "pose_in_world": _pose(R_c2w, -R_c2w @ c["t_w2c"]),
                }
            )
        event = {
            "type": "header",
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "robot": {
                "name": "legodata-sim",
                "kind": "simulator",
                "seed": cfg.seed,
                "config": {k: v for k, v in asdict(cfg).items() if k != "out"},
            },
            "world_frame": "table",
            "cameras": cams,
            "catalogue": {
                "kind": "builtin",
                "part_ids": sorted(set(cfg.parts) | {d[0].part_id for d in self.distractors}),
            },
        }
        self.log.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.n_events += 1

    def observe(self, episode: str, part: _Part, code: int, R: np.ndarray, t: np.ndarray, grip=None) -> str:
        """Render the scene now from the next camera, write the observation event and its ground truth."""
        cam = self.cameras[self.cam_cycle % len(self.cameras)]
        self.cam_cycle += 1
        obs_id = f"o{self.n_obs:06d}"
        self.n_obs += 1
        placed = [(part, code, R, t)] + list(self.distractors)
        spec = SceneSpec(
            scene_id=obs_id,
            scene_index=self.n_obs,
            seed=self.cfg.seed,
            orientation="uniform",
            physics=False,
            parts=tuple(
                PlacedPart(
                    instance_id=k + 1,
                    part_id=p.part_id,
                    colour_code=int(c),
                    rgb=tuple(float(x) for x in self.colour.get(c).rgb),  # type: ignore[union-attr]
                    mesh_path=f"models/{p.part_id}.ply",
                    R_m2w=tuple(map(tuple, Rp)),
                    t_m2w=tuple(float(x) for x in tp),
                )
                for k, (p, c, Rp, tp) in enumerate(placed)
            ),
            views=(
                CameraView(
                    view_id=0,
                    width=self.cfg.resolution,
                    height=self.cfg.resolution,
                    K=tuple(map(tuple, cam["K"])),
                    R_w2c=tuple(map(tuple, cam["R_w2c"])),
                    t_w2c=tuple(float(x) for x in cam["t_w2c"]),
                ),
            ),
            lights=self.lights,
            table=self.table,
            background_rgb=(0.3, 0.32, 0.35),
            background_strength=0.4,
            render=self.render_settings,
        )
        spec_path = self.sim / "specs" / f"{obs_id}.json"
        spec_path.write_text(spec.to_json())
        work = self.sim / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        start = time.monotonic()
        answer = self.renderer.render(spec_path, work)
        self.render_s += time.monotonic() - start
        if not answer.ok:
            raise LegodataError(f"rendering observation {obs_id} failed: {answer.error}")
        shutil.copyfile(work / "rgb" / "0000.png", self.root / "images" / f"{obs_id}.png")
        full = cv2.imread(str(work / "mask" / "0000.png"), cv2.IMREAD_UNCHANGED)
        # the log's mask marks the tracked part only, as a robot's masking of the relevant part would
        cv2.imwrite(str(self.root / "masks" / f"{obs_id}.png"), (full == 1).astype(np.uint16))
        shutil.copyfile(work / "depth" / "0000.png", self.root / "depth" / f"{obs_id}.png")
        event = {
            "type": "observation",
            "episode": episode,
            "id": obs_id,
            "t": 0.0,
            "camera": cam["name"],
            "image": f"images/{obs_id}.png",
            "mask": f"masks/{obs_id}.png",
            "depth": f"depth/{obs_id}.png",
            "depth_scale_m": DEPTH_SCALE_M,
            "instances": [{"track": TRACK, "instance_id": 1}],
        }
        if grip is not None:
            event["gripper_pose_in_world"] = _pose(*grip)
        self.emit(event)
        gt_parts = []
        for k, (p, c, Rp, tp) in enumerate(placed):
            gt_parts.append(
                {
                    "track": TRACK if k == 0 else None,
                    "part_id": p.part_id,
                    "colour_code": int(c),
                    "instance_id": k + 1,
                    "R_m2w": _mat(Rp),
                    "t_m2w": [float(x) for x in tp],
                    "R_m2c": _mat(cam["R_w2c"] @ Rp),
                    "t_m2c": [float(x) for x in cam["R_w2c"] @ tp + cam["t_w2c"]],
                }
            )
        gt = {
            "episode": episode,
            "observation": obs_id,
            "camera": cam["name"],
            "R_w2c": _mat(cam["R_w2c"]),
            "t_w2c": [float(x) for x in cam["t_w2c"]],
            "goal_R_m2w": _mat(self.goal[part.part_id]),
            "parts": gt_parts,
            "visible_px": int((full == 1).sum()),
        }
        self.gt.write(json.dumps(gt, separators=(",", ":")) + "\n")
        self.last_cam = cam
        return obs_id

    # --- episodes --------------------------------------------------------------------------------------------
    def _colour_name(self, code: int) -> str:
        return self.colour[code].name.lower()

    def _grip(self, yaw_rng: bool = True) -> np.ndarray:
        yaw = axis_angle_to_matrix([0.0, 0.0, 1.0], float(self.rng.uniform(0, 2 * np.pi)))
        return yaw @ TOP_DOWN

    def assemble(self, episode: str, part: _Part, code: int) -> None:
        R, t = self.state[part.part_id]
        R_goal = self.goal[part.part_id]
        what = f"{self._colour_name(code)} {part.name}"
        self.emit(
            {
                "type": "episode_start",
                "episode": episode,
                "mode": "assemble",
                "source_kind": "robot",
                "t": 0.0,
                "model": f"sim/{part.part_id}-upright",
            }
        )
        o = self.observe(episode, part, code, R, t)
        self._vlm(episode, o, part, code, f"pick up the {what}", "pick", {})
        R_g = self._grip()
        centre = R @ part.centre + t
        self.emit(
            {
                "type": "pick",
                "episode": episode,
                "t": 0.0,
                "track": TRACK,
                "pose_in_world": _pose(R, t),
                "gripper_pose_in_world": _pose(R_g, centre),
                "part_id": part.part_id,
                "colour_code": code,
            }
        )
        tol = np.radians(self.cfg.tolerance_deg)
        for step in range(self.cfg.max_steps + 1):
            t = part.held(R)
            o = self.observe(episode, part, code, R, t, grip=(R_g, HOLD_POINT))
            err, D = part.error(R, R_goal)
            judge = ("vlm", "sensor", "human")[int(self.rng.integers(3))]
            self.emit(
                {
                    "type": "judgement",
                    "episode": episode,
                    "t": 0.0,
                    "track": TRACK,
                    "correct": bool(err <= tol),
                    "by": judge,
                    "observation": o,
                }
            )
            if err <= tol:
                break
            A_w = self._step(D, err, last=step >= self.cfg.max_steps - 1)
            frame = ("world", "camera", "gripper")[int(self.rng.integers(3))]
            cam = self.last_cam
            if frame == "world":
                A, extra = A_w, {}
            elif frame == "camera":
                A, extra = cam["R_w2c"] @ A_w @ cam["R_w2c"].T, {"camera": cam["name"]}
            else:
                A, extra = R_g.T @ A_w @ R_g, {"gripper_quat_wxyz": _q(R_g)}
            axis, angle = _axis_angle(A)
            where = {"world": "the world", "camera": f"camera {cam['name']}", "gripper": "the gripper"}[frame]
            text = (
                f"rotate the {what} by {np.degrees(angle):.0f} degrees about the axis "
                f"({axis[0]:.2f}, {axis[1]:.2f}, {axis[2]:.2f}) of {where}"
            )
            self._vlm(
                episode,
                o,
                part,
                code,
                text,
                "rotate",
                {
                    "angle_deg": round(float(np.degrees(angle)), 3),
                    "axis": [round(float(x), 6) for x in axis],
                    "frame": frame,
                },
            )
            self.emit(
                {
                    "type": "rotate",
                    "episode": episode,
                    "t": 0.0,
                    "track": TRACK,
                    "quat_wxyz": _q(A),
                    "frame": frame,
                    **extra,
                }
            )
            R = A_w @ R
            R_g = A_w @ R_g
        self._vlm(episode, o, part, code, f"put the {what} in its place in the model", "place", {})
        t = part.resting(R, GOAL_XY)
        self.emit(
            {
                "type": "place",
                "episode": episode,
                "t": 0.0,
                "track": TRACK,
                "pose_in_world": _pose(R, t),
                "gripper_pose_in_world": _pose(R_g, R @ part.centre + t),
            }
        )
        self.observe(episode, part, code, R, t)
        self.emit({"type": "episode_end", "episode": episode, "outcome": "success", "t": 0.0})
        self.state[part.part_id] = (R, t)

    def disassemble(self, episode: str, part: _Part, code: int) -> None:
        R, t = self.state[part.part_id]
        what = f"{self._colour_name(code)} {part.name}"
        self.emit(
            {
                "type": "episode_start",
                "episode": episode,
                "mode": "disassemble",
                "source_kind": "robot",
                "t": 0.0,
                "model": f"sim/{part.part_id}-upright",
            }
        )
        o = self.observe(episode, part, code, R, t)
        self._vlm(episode, o, part, code, f"take the {what} off the model", "remove", {})
        R_g = self._grip()
        self.emit(
            {
                "type": "pick",
                "episode": episode,
                "t": 0.0,
                "track": TRACK,
                "pose_in_world": _pose(R, t),
                "gripper_pose_in_world": _pose(R_g, R @ part.centre + t),
                "part_id": part.part_id,
                "colour_code": code,
            }
        )
        R_new = random_rotations(self.rng, 1)[0]
        A_w = R_new @ R.T
        frame = "world" if self.rng.uniform() < 0.5 else "gripper"
        if frame == "world":
            self.emit(
                {"type": "rotate", "episode": episode, "t": 0.0, "track": TRACK, "quat_wxyz": _q(A_w), "frame": "world"}
            )
        else:
            self.emit(
                {
                    "type": "rotate",
                    "episode": episode,
                    "t": 0.0,
                    "track": TRACK,
                    "quat_wxyz": _q(R_g.T @ A_w @ R_g),
                    "frame": "gripper",
                    "gripper_quat_wxyz": _q(R_g),
                }
            )
        R_g = A_w @ R_g
        t_new = part.resting(R_new, self._start_xy())
        self.emit(
            {
                "type": "place",
                "episode": episode,
                "t": 0.0,
                "track": TRACK,
                "pose_in_world": _pose(R_new, t_new),
                "gripper_pose_in_world": _pose(R_g, R_new @ part.centre + t_new),
            }
        )
        for _ in self.cameras:
            self.observe(episode, part, code, R_new, t_new)
        self.emit({"type": "episode_end", "episode": episode, "outcome": "success", "t": 0.0})
        self.state[part.part_id] = (R_new, t_new)

    def _vlm(self, episode: str, obs: str, part: _Part, code: int, text: str, verb: str, args: dict) -> None:
        self.emit(
            {
                "type": "vlm",
                "episode": episode,
                "t": 0.0,
                "observation": obs,
                "track": TRACK,
                "part_id": part.part_id,
                "colour_code": code,
                "action": {"text": text, "verb": verb, "args": args},
                "model": "scripted",
            }
        )

    def _step(self, D: np.ndarray, err: float, last: bool) -> np.ndarray:
        """A noisy rotation toward the goal (world frame): most of the way about a perturbed axis, sometimes a
        random exploratory turn, exact on the last allowed step or when close."""
        axis, angle = _axis_angle(D)
        tol = np.radians(self.cfg.tolerance_deg)
        if last or angle < 2.5 * tol:
            return D
        if self.rng.uniform() < self.cfg.explore:
            rand_axis = self.rng.standard_normal(3)
            return axis_angle_to_matrix(rand_axis, np.radians(self.rng.uniform(15.0, 60.0)))
        noisy = axis + self.rng.normal(0.0, 0.15, 3)
        return axis_angle_to_matrix(noisy, angle * self.rng.uniform(0.6, 1.0))

    def close(self) -> None:
        self.log.close()
        self.gt.close()


def simulate_run(cfg: SimConfig, renderer: Renderer, progress: bool = False) -> SimSummary:
    """Write ``cfg.episodes`` episodes (assemble, disassemble, assemble, ...) into ``cfg.out``."""
    cfg = cfg.validate()
    out = Path(cfg.out)
    if out.exists() and (not out.is_dir() or any(p.name != SIM_DIR for p in out.iterdir())):
        raise LegodataError(f"--out {out} exists and is not an empty directory (simulate-run writes a new log)")
    start = time.monotonic()
    sim = _Sim(cfg, renderer)
    per_episode = []
    try:
        sim.header()
        from tqdm import tqdm

        for n in tqdm(range(cfg.episodes), desc="simulate", unit="episode", disable=not progress):
            t0 = time.monotonic()
            part = sim.parts[cfg.parts[(n // 2) % len(cfg.parts)]]
            code = cfg.colours[((n // 2) * 7 + cfg.seed) % len(cfg.colours)]
            episode = f"ep{n:05d}"
            if n % 2 == 0:
                sim.assemble(episode, part, code)
            else:
                sim.disassemble(episode, part, code)
            sim.log.flush()
            sim.gt.flush()
            per_episode.append(time.monotonic() - t0)
    finally:
        sim.close()
    shutil.rmtree(sim.sim, ignore_errors=True)
    return SimSummary(
        str(out), cfg.episodes, sim.n_obs, sim.n_events, time.monotonic() - start, sim.render_s, per_episode
    )


class SilhouetteRenderer(Renderer):
    """A stand-in renderer in numpy: flat colours, exact silhouettes, painter's order by depth. For tests and
    benchmarks without Blender; real runs use the Blender worker."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def render(self, spec_path: Path, out_dir: Path) -> RenderAnswer:
        from legodata.core.mesh import read_ply
        from legodata.scene.ground_truth import pose_m2c, silhouette

        spec = load_spec(spec_path)
        out_dir = Path(out_dir)
        for sub in ("rgb", "mask", "depth"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
        for view in spec.views:
            h, w = view.height, view.width
            rgb = np.zeros((h, w, 3), np.uint8)
            rgb[:] = (np.asarray(spec.table.rgb[::-1]) * 255).astype(np.uint8)
            mask = np.zeros((h, w), np.uint16)
            depth = np.zeros((h, w), np.uint16)
            layers = []
            for p in spec.parts:
                mesh = read_ply(self.root / p.mesh_path)
                R, t = pose_m2c(
                    np.asarray(p.R_m2w), np.asarray(p.t_m2w), np.asarray(view.R_w2c), np.asarray(view.t_w2c)
                )
                sil = silhouette(mesh, np.asarray(view.K), R, t, w, h)
                layers.append((float(t[2]), p, sil))
            for z, p, sil in sorted(layers, key=lambda x: -x[0]):  # far first
                rgb[sil] = (np.asarray(p.rgb[::-1]) * 255).astype(np.uint8)
                mask[sil] = p.instance_id
                depth[sil] = int(min(65535, z / DEPTH_SCALE_M))
            name = f"{view.view_id:04d}.png"
            cv2.imwrite(str(out_dir / "rgb" / name), rgb)
            cv2.imwrite(str(out_dir / "mask" / name), mask)
            cv2.imwrite(str(out_dir / "depth" / name), depth)
        (out_dir / WORKER_RESULT).write_text(
            json.dumps(
                {"parts": [{"instance_id": p.instance_id, "R_m2w": p.R_m2w, "t_m2w": p.t_m2w} for p in spec.parts]}
            )
        )
        return RenderAnswer(ok=True, out=str(out_dir))

    def close(self, kill: bool = False) -> None:
        pass
