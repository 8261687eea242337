"""Seeded scene sampling: parts, colours, orientations, placement, cameras, lights. Pure numpy.

Every random draw comes from the ``numpy.random.Generator`` passed in; ``scene_rng(seed, index)`` gives each
scene its own stream so a scene is the same whichever shard or worker renders it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.core.rotations import cube_rotations, quat_wxyz_to_matrix, random_rotations
from legodata.core.spec import CameraView, Light, PlacedPart, RenderSettings, SceneSpec, Surface
from legodata.scene.camera import intrinsics_from_fov, look_at_w2c

ORIENTATIONS = ("uniform", "resting", "canonical")
CANONICAL_JITTER_DEG = 5.0
DROP_GAP_M = 0.002  # least height of a part's lowest point above the table before a physics drop
PLACEMENT_GAP_M = 0.002


@dataclass(frozen=True)
class PartGeometry:
    """What the sampler needs to know about a part's shape: its mesh vertices (model frame, metres)."""

    part_id: str
    vertices: np.ndarray
    mesh_path: str

    @property
    def centre(self) -> np.ndarray:
        lo, hi = self.vertices.min(axis=0), self.vertices.max(axis=0)
        return (lo + hi) / 2.0

    @property
    def radius(self) -> float:
        return float(np.linalg.norm(self.vertices - self.centre, axis=1).max())


@dataclass(frozen=True)
class SamplerConfig:
    """Knobs of the scene distribution."""

    part_ids: tuple[str, ...]
    colours: tuple[tuple[int, tuple[float, float, float]], ...]  # (LDraw code, sRGB in [0,1])
    orientation: str = "uniform"
    parts_per_scene: tuple[int, int] = (3, 6)
    views: int = 4
    width: int = 256
    height: int = 256
    fov_deg: tuple[float, float] = (35.0, 50.0)
    elevation_deg: tuple[float, float] = (25.0, 80.0)
    lights: tuple[int, int] = (1, 3)


def scene_rng(seed: int, scene_index: int) -> np.random.Generator:
    """The independent random stream of scene ``scene_index`` under ``seed``."""
    return np.random.default_rng([seed, scene_index])


def sample_orientation(rng: np.random.Generator, mode: str) -> np.ndarray:
    """A model-to-world rotation for ``mode``: uniform on SO(3), or one of the 24 axis-aligned rotations
    with a small uniform jitter (``canonical``). ``resting`` starts from a uniform rotation before the drop."""
    if mode in ("uniform", "resting"):
        return random_rotations(rng, 1)[0]
    if mode == "canonical":
        base = cube_rotations()[rng.integers(24)]
        axis = rng.standard_normal(3)
        axis /= np.linalg.norm(axis)
        angle = np.radians(CANONICAL_JITTER_DEG) * rng.uniform(-1.0, 1.0)
        jitter = quat_wxyz_to_matrix(np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis]))
        return jitter @ base
    raise ValueError(f"unknown orientation mode {mode!r}; use one of {', '.join(ORIENTATIONS)}")


def _place_parts(
    rng: np.random.Generator, geoms: list[PartGeometry], rotations: list[np.ndarray], drop: bool
) -> list[np.ndarray]:
    """World translations such that bounding spheres do not overlap.

    Without ``drop`` each part's lowest point touches the table (z = 0); with ``drop`` parts float a little
    above it, ready for the physics simulation."""
    radii = np.array([g.radius for g in geoms])
    area_radius = max(0.02, 1.2 * np.sqrt((radii**2).sum()))
    centres: list[np.ndarray] = []
    for g, R, r in zip(geoms, rotations, radii):
        rotated = g.vertices @ R.T
        lowest = rotated[:, 2].min()
        local_centre = R @ g.centre
        attempt = 0
        while True:
            # The area grows slowly with failed attempts, so a free spot on the table always turns up.
            reach = area_radius * (1.0 + attempt / 100.0)
            attempt += 1
            xy = rng.uniform(-reach, reach, size=2)
            if np.linalg.norm(xy) > reach:
                continue
            lift = rng.uniform(DROP_GAP_M, DROP_GAP_M + r) if drop else 0.0
            c = np.array([xy[0], xy[1], local_centre[2] - lowest + lift])
            if all(np.linalg.norm(c - o) >= r + ro + PLACEMENT_GAP_M for o, ro in zip(centres, radii)):
                break
        centres.append(c)
    # translation t such that R @ centre + t = c
    return [c - R @ g.centre for c, R, g in zip(centres, rotations, geoms)]


def _sample_views(
    rng: np.random.Generator, cfg: SamplerConfig, target: np.ndarray, radius: float
) -> tuple[CameraView, ...]:
    views = []
    for view_id in range(cfg.views):
        fov = rng.uniform(*cfg.fov_deg)
        K = intrinsics_from_fov(cfg.width, cfg.height, fov)
        elevation = np.radians(rng.uniform(*cfg.elevation_deg))
        azimuth = rng.uniform(0.0, 2.0 * np.pi)
        # Distance so the bounding sphere fills ~75-95% of the narrower image side.
        half_fov = np.radians(fov) / 2.0 * min(cfg.width, cfg.height) / cfg.width
        distance = radius / np.sin(half_fov) / rng.uniform(0.75, 0.95)
        direction = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        look_target = target + rng.normal(0.0, 0.05 * radius, size=3)
        R, t = look_at_w2c(target + distance * direction, look_target)
        views.append(
            CameraView(
                view_id=view_id,
                width=cfg.width,
                height=cfg.height,
                K=tuple(map(tuple, K)),
                R_w2c=tuple(map(tuple, R)),
                t_w2c=tuple(t),
            )
        )
    return tuple(views)


def _sample_lights(rng: np.random.Generator, cfg: SamplerConfig, target: np.ndarray, radius: float) -> tuple:
    lights = []
    for _ in range(rng.integers(cfg.lights[0], cfg.lights[1] + 1)):
        elevation = np.radians(rng.uniform(30.0, 85.0))
        azimuth = rng.uniform(0.0, 2.0 * np.pi)
        distance = rng.uniform(4.0, 8.0) * max(radius, 0.02)
        loc = target + distance * np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        warmth = rng.uniform(-0.15, 0.15)
        lights.append(
            Light(
                location=tuple(loc),
                # Inverse-square: scale power with distance^2 so exposure does not depend on scene size.
                energy=float(rng.uniform(25.0, 90.0) * distance**2),
                rgb=(1.0, 1.0 - abs(warmth) * (warmth < 0), 1.0 - warmth * (warmth > 0)),
                size=float(rng.uniform(0.05, 0.3) * distance),
            )
        )
    return tuple(lights)


def sample_scene(
    rng: np.random.Generator,
    cfg: SamplerConfig,
    geometry: dict[str, PartGeometry],
    render: RenderSettings,
    scene_index: int,
    seed: int,
) -> SceneSpec:
    """Draw one scene: which parts and colours, their poses, the cameras, lights, table and background."""
    if cfg.orientation not in ORIENTATIONS:
        raise ValueError(f"unknown orientation mode {cfg.orientation!r}; use one of {', '.join(ORIENTATIONS)}")
    n = int(rng.integers(cfg.parts_per_scene[0], cfg.parts_per_scene[1] + 1))
    part_ids = [cfg.part_ids[i] for i in rng.integers(len(cfg.part_ids), size=n)]
    colours = [cfg.colours[i] for i in rng.integers(len(cfg.colours), size=n)]
    geoms = [geometry[p] for p in part_ids]
    rotations = [sample_orientation(rng, cfg.orientation) for _ in geoms]
    translations = _place_parts(rng, geoms, rotations, drop=cfg.orientation == "resting")

    parts = tuple(
        PlacedPart(
            instance_id=k + 1,
            part_id=g.part_id,
            colour_code=int(code),
            rgb=tuple(float(c) for c in rgb),
            mesh_path=g.mesh_path,
            R_m2w=tuple(map(tuple, R)),
            t_m2w=tuple(t),
        )
        for k, (g, (code, rgb), R, t) in enumerate(zip(geoms, colours, rotations, translations))
    )
    world_centres = np.array([R @ g.centre + t for g, R, t in zip(geoms, rotations, translations)])
    target = world_centres.mean(axis=0)
    if cfg.orientation == "resting":
        target[2] = max(g.radius for g in geoms) * 0.5  # after the drop everything lies near the table
    spread = max(float(np.linalg.norm(c[:2] - target[:2]) + g.radius) for c, g in zip(world_centres, geoms))
    radius = max(spread, 0.015)
    table_tint = rng.uniform(0.1, 0.7)
    table_rgb = np.clip(table_tint + rng.normal(0, 0.08, 3), 0, 1)
    table_rgb2 = np.clip(table_rgb * rng.uniform(0.6, 1.2) + rng.normal(0, 0.05, 3), 0, 1)
    return SceneSpec(
        scene_id=f"{scene_index:06d}",
        scene_index=scene_index,
        seed=seed,
        orientation=cfg.orientation,
        physics=cfg.orientation == "resting",
        parts=parts,
        views=_sample_views(rng, cfg, target, radius),
        lights=_sample_lights(rng, cfg, target, radius),
        table=Surface(
            rgb=tuple(float(x) for x in table_rgb),
            rgb2=tuple(float(x) for x in table_rgb2),
            noise_scale=float(rng.uniform(20.0, 200.0)),
            roughness=float(rng.uniform(0.3, 0.9)),
            size=float(max(1.0, 20 * radius)),
        ),
        background_rgb=tuple(float(x) for x in rng.uniform(0.05, 0.9, 3)),
        background_strength=float(rng.uniform(0.2, 0.6)),
        render=render,
    )
