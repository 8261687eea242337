"""Scene specs of an assembly: per step a manual page and an observation, plus one callout sheet per model.

World frame as in every spec: metres, Z up, table top z = 0. The build frame (LDraw, -Y up) is turned Z-up by
``R_LDRAW_TO_Z_UP`` and set on the table with its lowest point at z = 0 (the finished model's bounds, so the build
never moves between steps). Instance ids: part ``i`` of the assembly is instance ``i + 1`` in every image of the
model (in the build or loose); distractors follow.

- Manual page ``n``: the parts of steps 1..n, seen by one fixed camera from the front-left and above (the view of a
  printed manual), ``style="manual"`` on white.
- Callout sheet: every distinct (part, colour) once, as it is turned in the build, each in its own small view.
- Observation ``n`` (1..N+1): the build of steps 1..n-1 fixed on the table, the parts of step ``n`` and the
  distractors dropped around it by physics, seen by the model's fixed robot cameras. Observation N+1 is the
  finished model (the start of disassembly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.assembly.steps import Assembly
from legodata.core.rotations import random_rotations
from legodata.core.spec import CameraView, Light, PlacedPart, RenderSettings, SceneSpec, Surface
from legodata.scene.camera import intrinsics_from_fov, look_at_w2c

R_LDRAW_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # x_w = x, y_w = z, z_w = -y
MANUAL_ELEVATION_DEG = 30.0
MANUAL_AZIMUTH_DEG = 30.0  # the camera sits in front (LDraw -Z), turned this far towards the model's left (-X)
MANUAL_FOV_DEG = 20.0  # narrow: close to the parallel projection of printed manuals
CALLOUT_FRACTION = 0.26  # share of the page height above the model for the step number and the parts callout
DROP_GAP_M = 0.002
LOOSE_MARGIN_M = 0.015  # free ring between the build and the loose parts


@dataclass(frozen=True)
class StepsSettings:
    """What the specs of one model depend on besides the assembly."""

    resolution: int = 256  # observation width and height
    manual_resolution: int = 384  # page width and height
    callout_resolution: int = 96  # side of a callout thumbnail
    views: int = 1
    distractors: tuple[int, int] = (1, 3)
    elevation_deg: tuple[float, float] = (40.0, 70.0)
    fov_deg: tuple[float, float] = (35.0, 50.0)


@dataclass(frozen=True)
class PartLook:
    """What a spec needs per part id: its mesh path (relative to the store root) and vertices (model frame, m)."""

    mesh_path: str
    vertices: np.ndarray

    @property
    def centre(self) -> np.ndarray:
        return (self.vertices.min(axis=0) + self.vertices.max(axis=0)) / 2.0

    @property
    def radius(self) -> float:
        return float(np.linalg.norm(self.vertices - self.centre, axis=1).max())


@dataclass(frozen=True)
class Workspace:
    """Everything fixed across the steps of one model: the build's place on the table, cameras, lights, table,
    distractor parts. ``R_b2w``/``t_b2w`` map the build frame into the world (observation); ``manual_R_b2w``,
    ``manual_t_b2w`` likewise for the manual pages (no turn)."""

    R_b2w: np.ndarray
    t_b2w: np.ndarray
    manual_R_b2w: np.ndarray
    manual_t_b2w: np.ndarray
    build_radius: float  # horizontal radius of the finished build about its centre, metres
    views: tuple[CameraView, ...]
    manual_view: CameraView
    lights: tuple[Light, ...]
    table: Surface
    background_rgb: tuple[float, float, float]
    background_strength: float
    distractors: tuple[tuple[str, int], ...]  # (part id, colour code)
    reach: float  # loose parts lie within this distance of the build centre


@dataclass(frozen=True)
class ModelScene:
    """What every spec of one model is made with besides the assembly: its workspace, each part id's look, each
    colour code's sRGB, the render settings, and the group (model) name and seed the specs carry."""

    ws: Workspace
    looks: dict[str, PartLook]
    rgb_of: dict[int, tuple[float, float, float]]
    render: RenderSettings
    group: str
    seed: int

    def part(self, iid: int, part_id: str, colour: int, R: np.ndarray, t: np.ndarray) -> PlacedPart:
        """Instance ``iid``: ``part_id`` in ``colour`` at pose ``R``, ``t`` in the world."""
        rgb = _vec(self.rgb_of[int(colour)])
        return PlacedPart(iid, part_id, int(colour), rgb, self.looks[part_id].mesh_path, _rows(R), _vec(t))

    def build_parts(self, assembly: Assembly, indices, R_b2w: np.ndarray, t_b2w: np.ndarray) -> list[PlacedPart]:
        """The parts ``indices`` of ``assembly`` (part ``i`` is instance ``i + 1``) where the build frame placed at
        ``R_b2w``, ``t_b2w`` puts them."""
        out = []
        for i in indices:
            p = assembly.parts[i]
            out.append(self.part(i + 1, p.part_id, p.colour_code, R_b2w @ p.R, R_b2w @ p.t + t_b2w))
        return out

    def spec(self, kind: str, index: int, parts, views, **kw) -> SceneSpec:
        """The spec ``<group>-<kind>`` (the workspace's lights, table and background unless ``kw`` says else)."""
        ws = self.ws
        return SceneSpec(
            scene_id=f"{self.group}-{kind}",
            scene_index=index,
            seed=self.seed,
            orientation="assembly",
            physics=kw.pop("physics", False),
            parts=tuple(parts),
            views=tuple(views),
            lights=kw.pop("lights", ws.lights),
            table=ws.table,
            background_rgb=kw.pop("background_rgb", ws.background_rgb),
            background_strength=kw.pop("background_strength", ws.background_strength),
            render=self.render,
            **kw,
        )


def _rows(m) -> tuple:
    return tuple(tuple(float(x) for x in row) for row in np.asarray(m))


def _vec(v) -> tuple:
    return tuple(float(x) for x in np.asarray(v).reshape(3))


def placed_points(assembly: Assembly, looks: dict[str, PartLook], indices=None) -> np.ndarray:
    """All mesh vertices of the parts ``indices`` (default all) in the build frame."""
    idx = range(len(assembly.parts)) if indices is None else indices
    return np.concatenate(
        [looks[assembly.parts[i].part_id].vertices @ assembly.parts[i].R.T + assembly.parts[i].t for i in idx]
    )


def _on_table(R_b2w: np.ndarray, pts_build: np.ndarray) -> np.ndarray:
    """``t_b2w`` putting the points' lowest point on z = 0 with their horizontal centre at the origin."""
    w = pts_build @ R_b2w.T
    lo, hi = w.min(axis=0), w.max(axis=0)
    return -np.array([(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, lo[2]])


def _yaw(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def manual_camera(pts_world: np.ndarray, width: int, height: int, view_id: int = 0, fill: float = 0.9) -> CameraView:
    """The fixed manual view of points already placed Z-up: front-left, from above, the points' projection
    centred and filling ``fill`` of the image's narrower extent."""
    lo, hi = pts_world.min(axis=0), pts_world.max(axis=0)
    centre = (lo + hi) / 2.0
    radius = max(float(np.linalg.norm(pts_world - centre, axis=1).max()), 1e-3)
    el, az = np.radians(MANUAL_ELEVATION_DEG), np.radians(MANUAL_AZIMUTH_DEG)
    direction = np.array([-np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])
    K = intrinsics_from_fov(width, height, MANUAL_FOV_DEG)
    distance = radius / np.sin(np.arctan(min(width, height) / 2.0 / K[0, 0]))
    for _ in range(4):  # aim at the projection's centre, then move in until it fills the frame
        R, t = look_at_w2c(centre + direction * distance, centre)
        cam = pts_world @ R.T + t
        uv = cam[:, :2] / cam[:, 2:3] * K[0, 0]
        mid = (uv.min(axis=0) + uv.max(axis=0)) / 2.0
        centre = centre + R.T @ np.array([mid[0], mid[1], 0.0]) * distance / K[0, 0]
        span = max((uv[:, 0].max() - uv[:, 0].min()) / width, (uv[:, 1].max() - uv[:, 1].min()) / height)
        distance *= span / fill
    R, t = look_at_w2c(centre + direction * distance, centre)
    return CameraView(view_id, width, height, _rows(K), _rows(R), _vec(t))


def _robot_views(rng: np.random.Generator, s: StepsSettings, reach: float) -> tuple[CameraView, ...]:
    views = []
    for view_id in range(s.views):
        fov = rng.uniform(*s.fov_deg)
        K = intrinsics_from_fov(s.resolution, s.resolution, fov)
        el, az = np.radians(rng.uniform(*s.elevation_deg)), rng.uniform(0.0, 2.0 * np.pi)
        distance = reach / np.sin(np.radians(fov) / 2.0) / rng.uniform(0.85, 0.95)
        direction = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        target = np.array([0.0, 0.0, 0.2 * reach]) + rng.normal(0.0, 0.03 * reach, 3)
        R, t = look_at_w2c(target + distance * direction, target)
        views.append(CameraView(view_id, s.resolution, s.resolution, _rows(K), _rows(R), _vec(t)))
    return tuple(views)


def _lights(rng: np.random.Generator, reach: float) -> tuple[Light, ...]:
    out = []
    for _ in range(int(rng.integers(1, 3))):
        el, az = np.radians(rng.uniform(35.0, 80.0)), rng.uniform(0.0, 2.0 * np.pi)
        distance = rng.uniform(4.0, 8.0) * reach
        loc = distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        out.append(
            Light(_vec(loc), float(rng.uniform(30.0, 80.0) * distance**2), (1.0, 1.0, 1.0), float(0.15 * distance))
        )
    return tuple(out)


def make_workspace(
    rng: np.random.Generator,
    assembly: Assembly,
    looks: dict[str, PartLook],
    s: StepsSettings,
    distractor_pool: list[tuple[str, int]],
) -> Workspace:
    """Draw the per-model scene: build turn and place, cameras, lights, table, distractors."""
    pts = placed_points(assembly, looks)
    R_b2w = _yaw(rng.uniform(0.0, 2.0 * np.pi)) @ R_LDRAW_TO_Z_UP
    t_b2w = _on_table(R_b2w, pts)
    world = pts @ R_b2w.T + t_b2w
    build_radius = float(np.linalg.norm(world[:, :2], axis=1).max())
    n_d = int(rng.integers(s.distractors[0], s.distractors[1] + 1)) if distractor_pool else 0
    distractors = tuple(distractor_pool[int(rng.integers(len(distractor_pool)))] for _ in range(n_d))
    loose = [looks[p.part_id].radius for p in assembly.parts] + [looks[d[0]].radius for d in distractors]
    per_step = max(sum(loose[i] ** 2 for i in assembly.step_parts(n)) for n in range(1, assembly.n_steps + 1))
    per_step += sum(r**2 for r in loose[len(assembly.parts) :])
    inner = build_radius + LOOSE_MARGIN_M
    reach = float(np.sqrt(inner**2 + 3.0 * per_step)) + max(loose)  # room for ~3x the loose parts' discs
    manual_R = R_LDRAW_TO_Z_UP
    manual_t = _on_table(manual_R, pts)
    m_side = s.manual_resolution
    manual_view = manual_camera(pts @ manual_R.T + manual_t, m_side, m_side - round(CALLOUT_FRACTION * m_side))
    tint = rng.uniform(0.15, 0.7)
    table_rgb = np.clip(tint + rng.normal(0, 0.08, 3), 0, 1)
    table_rgb2 = np.clip(table_rgb * rng.uniform(0.6, 1.2) + rng.normal(0, 0.05, 3), 0, 1)
    return Workspace(
        R_b2w=R_b2w,
        t_b2w=t_b2w,
        manual_R_b2w=manual_R,
        manual_t_b2w=manual_t,
        build_radius=build_radius,
        views=_robot_views(rng, s, reach),
        manual_view=manual_view,
        lights=_lights(rng, reach),
        table=Surface(
            _vec(table_rgb),
            _vec(table_rgb2),
            float(rng.uniform(20.0, 200.0)),
            float(rng.uniform(0.3, 0.9)),
            float(max(1.0, 10 * reach)),
        ),
        background_rgb=_vec(rng.uniform(0.05, 0.9, 3)),
        background_strength=float(rng.uniform(0.2, 0.6)),
        distractors=distractors,
        reach=float(reach),
    )


def manual_spec(assembly: Assembly, n: int, m: ModelScene) -> SceneSpec:
    """Manual page ``n``: the parts of steps 1..n on white, seen by the model's fixed manual camera."""
    shown = [i for i, p in enumerate(assembly.parts) if p.step <= n]
    parts = m.build_parts(assembly, shown, m.ws.manual_R_b2w, m.ws.manual_t_b2w)
    return m.spec(
        f"manual-{n:03d}", n, parts, [m.ws.manual_view],
        lights=(), background_rgb=(1.0, 1.0, 1.0), background_strength=1.0, style="manual",
    )  # fmt: skip


def callout_keys(assembly: Assembly) -> list[tuple[str, int]]:
    """The distinct (part id, colour) of the assembly, in order of first use: the callout thumbnails."""
    return list(dict.fromkeys((p.part_id, p.colour_code) for p in assembly.parts))


CALLOUT_SPACING_M = 1.0


def callout_spec(assembly: Assembly, m: ModelScene, side: int) -> SceneSpec:
    """One small view per :func:`callout_keys` entry (view ``k`` shows entry ``k`` alone, turned as in the build and
    seen from the manual's direction), all in one scene a metre apart."""
    first = {}
    for p in assembly.parts:
        first.setdefault((p.part_id, p.colour_code), p)
    parts, views = [], []
    for k, key in enumerate(callout_keys(assembly)):
        p = first[key]
        R = m.ws.manual_R_b2w @ p.R
        offset = np.array([k * CALLOUT_SPACING_M, 0.0, 0.0])
        t = offset - R @ m.looks[p.part_id].centre
        parts.append(m.part(k + 1, p.part_id, p.colour_code, R, t))
        pts = m.looks[p.part_id].vertices @ R.T + t
        views.append(manual_camera(pts, side, side, view_id=k))
    return m.spec(
        "callout", 0, parts, views,
        lights=(), background_rgb=(1.0, 1.0, 1.0), background_strength=1.0, style="manual",
    )  # fmt: skip


def _loose_poses(
    rng: np.random.Generator, items: list[PartLook], inner: float, outer: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random rotations and positions in the ring ``inner``..``outer`` around the origin with bounding spheres
    apart, each part's lowest point a little above the table (ready to drop)."""
    placed: list[tuple[np.ndarray, float]] = []
    out = []
    for look in items:
        R = random_rotations(rng, 1)[0]
        r = look.radius
        rotated = look.vertices @ R.T
        attempt = 0
        while True:
            grow = 1.0 + attempt / 200.0
            attempt += 1
            rho = np.sqrt(rng.uniform((inner + r) ** 2, max((inner + r) ** 2, (outer * grow - r) ** 2) + 1e-12))
            phi = rng.uniform(0.0, 2.0 * np.pi)
            c = np.array([rho * np.cos(phi), rho * np.sin(phi)])
            if all(np.linalg.norm(c - o) >= r + ro + 0.002 for o, ro in placed):
                break
        placed.append((c, r))
        lift = DROP_GAP_M + rng.uniform(0.0, 0.5 * r)
        centre = R @ look.centre
        z_centre = centre[2] - rotated[:, 2].min() + lift
        t = np.array([c[0], c[1], z_centre]) - centre
        out.append((R, t))
    return out


def observation_spec(rng: np.random.Generator, assembly: Assembly, n: int, m: ModelScene) -> SceneSpec:
    """Observation ``n`` (1..N+1): the build of steps < n fixed, step ``n``'s parts and the distractors loose."""
    ws = m.ws
    parts = m.build_parts(assembly, assembly.built_before(n), ws.R_b2w, ws.t_b2w)
    fixed = tuple(p.instance_id for p in parts)
    loose = [(i + 1, assembly.parts[i].part_id, assembly.parts[i].colour_code) for i in assembly.step_parts(n)]
    first_distractor = len(assembly.parts) + 1
    loose += [(first_distractor + k, pid, colour) for k, (pid, colour) in enumerate(ws.distractors)]
    poses = _loose_poses(rng, [m.looks[pid] for _, pid, _ in loose], ws.build_radius + LOOSE_MARGIN_M, ws.reach)
    parts += [m.part(iid, pid, colour, R, t) for (iid, pid, colour), (R, t) in zip(loose, poses)]
    return m.spec(f"obs-{n:03d}", n, parts, ws.views, physics=bool(loose), fixed_parts=fixed)
