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
:class:`~legodata.runlog.silhouette.SilhouetteRenderer`, a flat-shaded numpy stand-in for tests without Blender.

This module is the policy (what the robot does, episode by episode); the world it acts in is
:mod:`legodata.runlog.sim_world`, what it writes is :mod:`legodata.runlog.sim_writer`.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from legodata.core.protocol import Renderer
from legodata.core.rotations import axis_angle_to_matrix, matrix_to_quat_wxyz, random_rotations
from legodata.core.spec import RenderSettings, SceneSpec
from legodata.errors import LegodataError
from legodata.runlog.sim_world import DISTRACTOR_XY, GOAL_XY, HOLD_POINT, SimPart, World
from legodata.runlog.sim_writer import LogWriter, quat_json

SIM_DIR = ".sim"  # models, specs and render scratch space while simulating (removed at the end)


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


def _axis_angle(R: np.ndarray) -> tuple[np.ndarray, float]:
    q = matrix_to_quat_wxyz(R)
    angle = 2.0 * float(np.arccos(np.clip(q[0], -1.0, 1.0)))
    s = np.linalg.norm(q[1:])
    axis = q[1:] / s if s > 1e-12 else np.array([1.0, 0.0, 0.0])
    return axis, angle


def _in_frame(A_w: np.ndarray, frame: str, cam: dict | None, R_g: np.ndarray) -> tuple[np.ndarray, dict]:
    """The world rotation ``A_w`` as logged in ``frame``, and the fields that name that frame."""
    if frame == "world":
        return A_w, {}
    if frame == "camera":
        return cam["R_w2c"] @ A_w @ cam["R_w2c"].T, {"camera": cam["name"]}  # type: ignore[index]
    return R_g.T @ A_w @ R_g, {"gripper_quat_wxyz": quat_json(R_g)}


class _Sim:
    """The scripted robot: it observes, picks, rotates, is judged and places, in one world, into one log."""

    def __init__(self, cfg: SimConfig, renderer: Renderer) -> None:
        from legodata.config import PRESETS

        self.cfg = cfg
        self.renderer = renderer
        self.root = Path(cfg.out)
        self.sim = self.root / SIM_DIR
        self.rng = np.random.default_rng(cfg.seed)
        (self.sim / "models").mkdir(parents=True, exist_ok=True)
        (self.sim / "specs").mkdir(parents=True, exist_ok=True)
        self.world = World(
            self.rng,
            cfg.parts,
            cfg.colours,
            resolution=cfg.resolution,
            cameras=cfg.cameras,
            distractors=cfg.distractors,
            render=RenderSettings(device="cpu", threads=0, **PRESETS[cfg.preset]),
            models=self.sim / "models",
        )
        self.out = LogWriter(self.root, self.rng)
        self.n_obs = 0
        self.render_s = 0.0
        self.cam_cycle = 0

    def header(self) -> None:
        config = {k: v for k, v in asdict(self.cfg).items() if k != "out"}
        w = self.world
        self.out.header(config, self.cfg.seed, w.cameras, self.cfg.resolution, w.catalogue_ids())

    # --- observing -------------------------------------------------------------------------------------------
    def observe(self, episode: str, part: SimPart, code: int, R: np.ndarray, t: np.ndarray, grip=None) -> str:
        """Render the scene now from the next camera, write the observation event and its ground truth."""
        cam = self.world.cameras[self.cam_cycle % len(self.world.cameras)]
        self.cam_cycle += 1
        obs_id = f"o{self.n_obs:06d}"
        self.n_obs += 1
        placed = [(part, code, R, t)] + list(self.world.distractors)
        work = self._render(self.world.scene_spec(obs_id, self.n_obs, self.cfg.seed, cam, placed))
        full = self.out.keep_render(work, obs_id)
        self.out.observation(episode, obs_id, cam["name"], grip)
        self.out.ground_truth(episode, obs_id, cam, self.world.goal[part.part_id], placed, full)
        self.last_cam = cam
        return obs_id

    def _render(self, spec: SceneSpec) -> Path:
        """Render ``spec`` into the scratch directory (returned)."""
        spec_path = self.sim / "specs" / f"{spec.scene_id}.json"
        spec_path.write_text(spec.to_json())
        work = self.sim / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        start = time.monotonic()
        answer = self.renderer.render(spec_path, work)
        self.render_s += time.monotonic() - start
        if not answer.ok:
            raise LegodataError(f"rendering observation {spec.scene_id} failed: {answer.error}")
        return work

    # --- episodes --------------------------------------------------------------------------------------------
    def _pick_up(self, episode: str, mode: str, part: SimPart, code: int, say: str, verb: str):
        """Start the episode, observe the part where it lies, say ``say`` about it (``{what}``: colour and name)
        and pick it up. Returns its pose, the gripper's orientation and ``what``."""
        R, t = self.world.state[part.part_id]
        what = f"{self.world.colour_name(code)} {part.name}"
        self.out.episode_start(episode, mode, part)
        o = self.observe(episode, part, code, R, t)
        self.out.vlm(episode, o, part, code, say.format(what=what), verb, {})
        R_g = self.world.grip()
        self.out.pick(episode, part, code, R, t, R_g)
        return R, t, R_g, what

    def assemble(self, episode: str, part: SimPart, code: int) -> None:
        R, t, R_g, what = self._pick_up(episode, "assemble", part, code, "pick up the {what}", "pick")
        R_goal = self.world.goal[part.part_id]
        tol = np.radians(self.cfg.tolerance_deg)
        for step in range(self.cfg.max_steps + 1):
            t = part.held(R)
            o = self.observe(episode, part, code, R, t, grip=(R_g, HOLD_POINT))
            err, D = part.error(R, R_goal)
            judge = ("vlm", "sensor", "human")[int(self.rng.integers(3))]
            self.out.judgement(episode, bool(err <= tol), judge, o)
            if err <= tol:
                break
            A_w = self._step(D, err, last=step >= self.cfg.max_steps - 1)
            frame = ("world", "camera", "gripper")[int(self.rng.integers(3))]
            self._rotate(episode, o, part, code, what, A_w, frame, R_g)
            R = A_w @ R
            R_g = A_w @ R_g
        self.out.vlm(episode, o, part, code, f"put the {what} in its place in the model", "place", {})
        t = part.resting(R, GOAL_XY)
        self.out.place(episode, part, R, t, R_g)
        self.observe(episode, part, code, R, t)
        self.out.episode_end(episode)
        self.world.state[part.part_id] = (R, t)

    def _rotate(self, episode: str, o: str, part: SimPart, code: int, what: str, A_w, frame: str, R_g) -> None:
        """Say (as the VLM) and log the world rotation ``A_w``, expressed in ``frame``."""
        cam = self.last_cam
        A, extra = _in_frame(A_w, frame, cam, R_g)
        axis, angle = _axis_angle(A)
        where = {"world": "the world", "camera": f"camera {cam['name']}", "gripper": "the gripper"}[frame]
        text = (
            f"rotate the {what} by {np.degrees(angle):.0f} degrees about the axis "
            f"({axis[0]:.2f}, {axis[1]:.2f}, {axis[2]:.2f}) of {where}"
        )
        args = {
            "angle_deg": round(float(np.degrees(angle)), 3),
            "axis": [round(float(x), 6) for x in axis],
            "frame": frame,
        }
        self.out.vlm(episode, o, part, code, text, "rotate", args)
        self.out.rotate(episode, A, frame, extra)

    def disassemble(self, episode: str, part: SimPart, code: int) -> None:
        R, _, R_g, _ = self._pick_up(episode, "disassemble", part, code, "take the {what} off the model", "remove")
        R_new = random_rotations(self.rng, 1)[0]
        A_w = R_new @ R.T
        frame = "world" if self.rng.uniform() < 0.5 else "gripper"
        A, extra = _in_frame(A_w, frame, None, R_g)
        self.out.rotate(episode, A, frame, extra)
        R_g = A_w @ R_g
        t_new = part.resting(R_new, self.world.start_xy())
        self.out.place(episode, part, R_new, t_new, R_g)
        for _ in self.world.cameras:
            self.observe(episode, part, code, R_new, t_new)
        self.out.episode_end(episode)
        self.world.state[part.part_id] = (R_new, t_new)

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
            part = sim.world.parts[cfg.parts[(n // 2) % len(cfg.parts)]]
            code = cfg.colours[((n // 2) * 7 + cfg.seed) % len(cfg.colours)]
            episode = f"ep{n:05d}"
            if n % 2 == 0:
                sim.assemble(episode, part, code)
            else:
                sim.disassemble(episode, part, code)
            sim.out.flush()
            per_episode.append(time.monotonic() - t0)
    finally:
        sim.out.close()
    shutil.rmtree(sim.sim, ignore_errors=True)
    return SimSummary(
        str(out), cfg.episodes, sim.n_obs, sim.out.events, time.monotonic() - start, sim.render_s, per_episode
    )
