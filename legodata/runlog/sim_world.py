"""The world of ``simulate-run``: a table, one or two calibrated cameras, lights, the parts worked on and a few
distractors, where each part lies and where it belongs; the scene spec of one observation.

All randomness comes from the generator the simulator passes in, drawn in a fixed order, so a seed gives one run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from legodata.core.rotations import axis_angle_to_matrix, geodesic_angle, random_rotations
from legodata.core.spec import CameraView, Light, PlacedPart, RenderSettings, SceneSpec, Surface
from legodata.scene.camera import intrinsics_from_fov, look_at_w2c

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


class SimPart:
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


# A part in a scene: the part, its colour code, R_m2w, t_m2w.
Placed = tuple[SimPart, int, np.ndarray, np.ndarray]


class World:
    """The table and cameras, the parts of ``part_ids`` (each lying somewhere, each with an upright goal) and
    ``distractors`` parts that never move. ``models`` receives each part's mesh as ``<part id>.ply``."""

    def __init__(
        self,
        rng: np.random.Generator,
        part_ids: tuple[str, ...],
        colour_codes: tuple[int, ...],
        *,
        resolution: int,
        cameras: int,
        distractors: int,
        render: RenderSettings,
        models: Path,
    ) -> None:
        from legodata.core.mesh import write_ply
        from legodata.parts.catalogue import part_ids as all_part_ids
        from legodata.parts.colours import get_colour

        self.rng = rng
        self.resolution = resolution
        self.parts = {pid: SimPart(pid) for pid in part_ids}
        self.colour = {code: get_colour(code) for code in colour_codes}
        self.render = render
        self.cameras = self._cameras(cameras)
        # point lights: power scales with distance squared, as in the scene sampler (~60 and ~35 W at 1 m)
        self.lights = (
            Light((0.25, -0.15, 0.45), 60.0 * 0.536**2, (1.0, 0.97, 0.92), 0.08),
            Light((-0.3, 0.25, 0.35), 35.0 * 0.525**2, (0.92, 0.95, 1.0), 0.12),
        )
        self.table = Surface(rgb=(0.55, 0.5, 0.45), rgb2=(0.45, 0.42, 0.4), noise_scale=80.0, roughness=0.7, size=1.0)
        # distractors: fixed for the whole run
        all_ids = all_part_ids()
        self.distractors: list[Placed] = []
        for k in range(distractors):
            pid = all_ids[int(rng.integers(len(all_ids)))]
            part = self.parts.get(pid) or SimPart(pid)
            R = random_rotations(rng, 1)[0]
            code = colour_codes[int(rng.integers(len(colour_codes)))]
            self.distractors.append((part, code, R, part.resting(R, np.asarray(DISTRACTOR_XY[k]))))
        for part in list(self.parts.values()) + [d[0] for d in self.distractors]:
            path = models / f"{part.part_id}.ply"
            if not path.exists():
                write_ply(part.mesh, path)
        # the state of each part: where it lies, and its goal (upright, random yaw, at GOAL_XY)
        self.state: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.goal: dict[str, np.ndarray] = {}
        for pid, part in self.parts.items():
            R0 = random_rotations(rng, 1)[0]
            self.state[pid] = (R0, part.resting(R0, self.start_xy()))
            yaw = axis_angle_to_matrix([0.0, 0.0, 1.0], float(rng.uniform(0, 2 * np.pi)))
            self.goal[pid] = yaw @ UPRIGHT

    def start_xy(self) -> np.ndarray:
        """A random spot near START_XY, where disassembly drops parts."""
        r = START_RADIUS * np.sqrt(self.rng.uniform())
        a = self.rng.uniform(0, 2 * np.pi)
        return START_XY + r * np.array([np.cos(a), np.sin(a)])

    def grip(self) -> np.ndarray:
        """A top-down grasp at a random yaw (the gripper's orientation in the world)."""
        yaw = axis_angle_to_matrix([0.0, 0.0, 1.0], float(self.rng.uniform(0, 2 * np.pi)))
        return yaw @ TOP_DOWN

    def catalogue_ids(self) -> list[str]:
        """Every part id in the world (worked on or distractor), sorted."""
        return sorted(set(self.parts) | {d[0].part_id for d in self.distractors})

    def colour_name(self, code: int) -> str:
        return self.colour[code].name.lower()

    def _cameras(self, count: int) -> list[dict]:
        res = self.resolution
        K = intrinsics_from_fov(res, res, 45.0)
        out = []
        for n, (az, el, dist) in enumerate(((35.0, 52.0, 0.17), (155.0, 40.0, 0.18))[:count]):
            a, e = np.radians(az), np.radians(el)
            eye = LOOK_AT + dist * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
            R_w2c, t_w2c = look_at_w2c(eye, LOOK_AT)
            out.append({"name": f"cam{n}", "K": K, "R_w2c": R_w2c, "t_w2c": t_w2c})
        return out

    def scene_spec(self, scene_id: str, scene_index: int, seed: int, cam: dict, placed: list[Placed]) -> SceneSpec:
        """The spec of one observation: ``placed`` (instance k + 1 is ``placed[k]``) seen from ``cam``."""
        return SceneSpec(
            scene_id=scene_id,
            scene_index=scene_index,
            seed=seed,
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
                    width=self.resolution,
                    height=self.resolution,
                    K=tuple(map(tuple, cam["K"])),
                    R_w2c=tuple(map(tuple, cam["R_w2c"])),
                    t_w2c=tuple(float(x) for x in cam["t_w2c"]),
                ),
            ),
            lights=self.lights,
            table=self.table,
            background_rgb=(0.3, 0.32, 0.35),
            background_strength=0.4,
            render=self.render,
        )
