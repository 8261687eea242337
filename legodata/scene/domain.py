"""Domain randomisation: the look of a photo scene drawn from a seeded generator, so that models trained on renders
meet on real photos nothing they have never seen. Pure numpy; the geometry of the parts and cameras is untouched
(a randomised scene has the same parts, poses and views as the clean scene of the same seed and index).

Families per ``--domain`` (``shift`` draws only from randomisations held out of ``randomised``, so the gap between
a model's scores on a ``randomised`` and a ``shift`` test set measures how well it generalises):

==================  ============================================  ==============================================
                    randomised (training)                         shift (held out)
==================  ============================================  ==============================================
table, backdrop     prints: paper (ink strokes, text, ruled        prints: fabric, newsprint, stone, dots;
                    lines), wood, cutting_mat (grid), desk;        with --backgrounds: the user's images whose
                    with --backgrounds: the user's images whose    hash is held out (~20 %)
                    hash is not held out (~80 %)
distractors         box, cylinder, cable, paper (paper prints),    sphere, torus, cone, paper (newsprint)
                    mark (thin strokes), 1-6 per scene            2-7 per scene
light colour        3000-6500 K                                   2000-3000 K or 6500-10000 K
camera              noise 0.2-1.5 %, JPEG q 60-95 (60 % of        noise 1.5-3 %, JPEG q 30-60, stronger blur
                    views), mild motion/defocus blur (30 %),      and vignetting, exposure bias x0.4-2.4
                    vignette 0-0.5, exposure bias x0.6-1.6
==================  ============================================  ==============================================

Both: 1-4 point lights from dim to bright (10-250 W at 1 m), shadows from hard (3 mm light) to soft, an imperfect
white balance, part materials jittered around their LDraw colour (hue +-0.01, saturation x0.85-1.1, value x0.8-1.1,
roughness 0.15-0.45: the spread real plastic shows under different light; records keep the LDraw colour).
"""

from __future__ import annotations

import colorsys
import functools
import logging
from dataclasses import dataclass, replace

import numpy as np

from legodata.core.spec import CameraEffects, Distractor, DomainSpec, Light, PartLook, SceneSpec, TextureRef
from legodata.scene.clutter import Footprint, KindRange, place_distractor, sample_size
from legodata.scene.sampler import PartGeometry
from legodata.scene.textures import POOL, SHIFT_FAMILIES, TRAIN_FAMILIES, texture_path

logger = logging.getLogger(__name__)

DOMAINS = ("randomised", "shift")
HELD_OUT_FRACTION = 5  # one in 5 of the user's backgrounds (by hash) is kept for the shift domain
PAPER_THICKNESS_M = 0.0003
MARK_THICKNESS_M = 0.0002


@dataclass(frozen=True)
class Families:
    """The randomisations one domain draws from."""

    textures: tuple[str, ...]
    paper_textures: tuple[str, ...]
    kinds: tuple[KindRange, ...]
    distractors: tuple[int, int]
    kelvin: tuple[tuple[float, float], ...]  # one range is chosen, then a temperature in it
    noise: tuple[float, float]
    jpeg: tuple[float, int, int]  # probability, lowest and highest quality
    blur: tuple[float, float, float]  # probability, lowest and highest blur (pixels at 256 px)
    vignette: tuple[float, float]
    exposure: tuple[float, float]
    held_out_backgrounds: bool


TRAIN = Families(
    textures=TRAIN_FAMILIES,
    paper_textures=("paper",),
    kinds=(
        KindRange("box", (0.008, 0.05), (0.008, 0.05), (0.005, 0.04)),
        KindRange("cylinder", (0.005, 0.03), (0.0, 0.0), (0.01, 0.08)),
        KindRange("cable", (0.08, 0.3), (0.0, 0.0), (0.002, 0.006)),
        KindRange("paper", (0.03, 0.12), (0.03, 0.12), (PAPER_THICKNESS_M, PAPER_THICKNESS_M)),
        KindRange("mark", (0.02, 0.1), (0.002, 0.01), (MARK_THICKNESS_M, MARK_THICKNESS_M)),
    ),
    distractors=(1, 6),
    kelvin=((3000.0, 6500.0),),
    noise=(0.002, 0.015),
    jpeg=(0.6, 60, 95),
    blur=(0.3, 0.5, 2.5),
    vignette=(0.0, 0.5),
    exposure=(0.6, 1.6),
    held_out_backgrounds=False,
)
SHIFT = Families(
    textures=SHIFT_FAMILIES,
    paper_textures=("newsprint",),
    kinds=(
        KindRange("sphere", (0.008, 0.04), (0.0, 0.0), (0.0, 0.0)),
        KindRange("torus", (0.02, 0.06), (0.0, 0.0), (0.002, 0.006)),
        KindRange("cone", (0.01, 0.04), (0.0, 0.0), (0.01, 0.05)),
        KindRange("paper", (0.03, 0.12), (0.03, 0.12), (PAPER_THICKNESS_M, PAPER_THICKNESS_M)),
    ),
    distractors=(2, 7),
    kelvin=((2000.0, 3000.0), (6500.0, 10000.0)),
    noise=(0.015, 0.03),
    jpeg=(1.0, 30, 60),
    blur=(0.5, 1.5, 4.0),
    vignette=(0.3, 0.7),
    exposure=(0.4, 2.4),
    held_out_backgrounds=True,
)
FAMILIES = {"randomised": TRAIN, "shift": SHIFT}


def domain_rng(seed: int, scene_index: int) -> np.random.Generator:
    """The random stream of scene ``scene_index``'s look: independent of the scene's geometry stream, so a
    randomised scene keeps the parts, poses and views of the clean one."""
    return np.random.default_rng([seed, scene_index, 0x0D0A1])


def blackbody_rgb(kelvin: float) -> tuple[float, float, float]:
    """Linear RGB of a black body at ``kelvin`` (Tanner Helland's fit), largest channel 1."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    srgb = np.clip(np.array([r, g, b]) / 255.0, 0.0, 1.0)
    lin = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return tuple(float(x) for x in lin / lin.max())


def split_backgrounds(paths: tuple[str, ...], domain: str) -> tuple[str, ...]:
    """The user's backgrounds (store paths ``backgrounds/<sha256 hex>.<ext>``) ``domain`` may use: ``shift`` those
    whose hash is held out (one in :data:`HELD_OUT_FRACTION`), ``randomised`` the others. When a side is empty (a
    folder of very few images) it gets all of them, with a warning."""
    held = tuple(p for p in paths if int(p.split("/")[-1][:8], 16) % HELD_OUT_FRACTION == 0)
    mine = held if FAMILIES[domain].held_out_backgrounds else tuple(p for p in paths if p not in held)
    if paths and not mine:
        _warn_all_backgrounds(domain, len(paths))
        return paths
    return mine


@functools.cache
def _warn_all_backgrounds(domain: str, n: int) -> None:
    logger.warning("none of the %d background images falls in the %s share: %s uses all of them", n, domain, domain)


def _texture(rng: np.random.Generator, families: tuple[str, ...], images: tuple[str, ...], tile) -> TextureRef:
    if images:
        path = images[int(rng.integers(len(images)))]
    else:
        path = texture_path(families[int(rng.integers(len(families)))], int(rng.integers(POOL)))
    return TextureRef(path=path, tile_m=float(rng.uniform(*tile)), rotation_rad=float(rng.uniform(0.0, 2 * np.pi)))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def sample_lights(rng: np.random.Generator, fam: Families, target: np.ndarray, radius: float) -> tuple:
    """1-4 point lights of one colour temperature (+-300 K each), dim to bright, hard to soft; and that temperature."""
    lo, hi = fam.kelvin[int(rng.integers(len(fam.kelvin)))]
    kelvin = float(rng.uniform(lo, hi))
    lights = []
    for _ in range(int(rng.integers(1, 5))):
        elevation = np.radians(rng.uniform(20.0, 88.0))
        azimuth = rng.uniform(0.0, 2.0 * np.pi)
        distance = rng.uniform(4.0, 10.0) * max(radius, 0.02)
        direction = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        lights.append(
            Light(
                location=tuple(float(x) for x in target + distance * direction),
                energy=_log_uniform(rng, 10.0, 250.0) * distance**2,
                rgb=blackbody_rgb(kelvin + rng.uniform(-300.0, 300.0)),
                size=_log_uniform(rng, 0.003, 0.4) * distance,
            )
        )
    return tuple(lights), kelvin


def sample_part_looks(rng: np.random.Generator, spec: SceneSpec) -> tuple[PartLook, ...]:
    """Each part's rendered colour and roughness, jittered around its LDraw colour."""
    looks = []
    for part in spec.parts:
        h, s, v = colorsys.rgb_to_hsv(*part.rgb)
        h = (h + rng.uniform(-0.01, 0.01)) % 1.0
        s = min(1.0, s * rng.uniform(0.85, 1.1))
        v = min(1.0, v * rng.uniform(0.8, 1.1))
        rgb = tuple(float(x) for x in colorsys.hsv_to_rgb(h, s, v))
        looks.append(PartLook(instance_id=part.instance_id, rgb=rgb, roughness=float(rng.uniform(0.15, 0.45))))
    return tuple(looks)


def sample_effects(rng: np.random.Generator, fam: Families, spec: SceneSpec, kelvin: float) -> tuple:
    """Per-view camera effects (see :mod:`legodata.scene.camera_effects`)."""
    effects = []
    for view in spec.views:
        px = view.width / 256.0
        # The camera's white balance aims at the light's temperature but misses a little or a lot.
        guess = 6500.0 + rng.uniform(0.6, 1.0) * (kelvin - 6500.0) + rng.normal(0.0, 300.0)
        gains = 1.0 / np.maximum(blackbody_rgb(float(np.clip(guess, 1500.0, 15000.0))), 0.1)
        p_blur, b_lo, b_hi = fam.blur
        p_jpeg, q_lo, q_hi = fam.jpeg
        effects.append(
            CameraEffects(
                view_id=view.view_id,
                seed=int(rng.integers(2**31)),
                exposure=_log_uniform(rng, *fam.exposure),
                white_balance=tuple(float(g) for g in np.clip(gains / gains[1], 0.4, 2.5)),
                vignette=float(rng.uniform(*fam.vignette)),
                motion_px=float(rng.uniform(b_lo, b_hi) * px) if rng.random() < p_blur else 0.0,
                motion_deg=float(rng.uniform(0.0, 180.0)),
                defocus_px=float(rng.uniform(b_lo, b_hi) * px / 2.0) if rng.random() < p_blur else 0.0,
                noise=float(rng.uniform(*fam.noise)),
                jpeg_quality=int(rng.integers(q_lo, q_hi + 1)) if rng.random() < p_jpeg else 0,
            )
        )
    return tuple(effects)


def sample_distractors(rng: np.random.Generator, fam: Families, parts: list[Footprint]) -> tuple[Distractor, ...]:
    """Distractors of the domain's kinds placed against the parts' outlines ``parts``."""
    out = []
    for _ in range(int(rng.integers(fam.distractors[0], fam.distractors[1] + 1))):
        kind = fam.kinds[int(rng.integers(len(fam.kinds)))]
        paper = kind.kind == "paper"
        hsv = (rng.random(), rng.uniform(0.0, 0.3) if paper else rng.random(), rng.uniform(0.75, 1.0) if paper
               else rng.uniform(0.05, 1.0))  # fmt: skip
        family = fam.paper_textures[int(rng.integers(len(fam.paper_textures)))]
        d = Distractor(
            kind=kind.kind,
            size=sample_size(rng, kind),
            shape_seed=int(rng.integers(2**31)),
            R_m2w=tuple(map(tuple, np.eye(3))),
            t_m2w=(0.0, 0.0, 0.0),
            rgb=tuple(float(x) for x in colorsys.hsv_to_rgb(*hsv)),
            roughness=float(rng.uniform(0.2, 0.9)),
            texture=texture_path(family, int(rng.integers(POOL))) if paper else None,
        )
        placed = place_distractor(rng, d, parts)
        if placed is not None:
            out.append(placed)
    return tuple(out)


def part_footprints(spec: SceneSpec, geometry: dict[str, PartGeometry]) -> list[Footprint]:
    """Each part's outline on the table at its spec pose."""
    return [
        Footprint.of(geometry[p.part_id].vertices @ np.asarray(p.R_m2w).T + np.asarray(p.t_m2w)) for p in spec.parts
    ]


def sample_domain(
    rng: np.random.Generator,
    spec: SceneSpec,
    geometry: dict[str, PartGeometry],
    domain: str,
    backgrounds: tuple[str, ...] = (),
) -> SceneSpec:
    """``spec`` with the look of ``domain`` (randomised | shift): textures, lights, distractors, part materials and
    camera effects drawn from ``rng``. ``geometry`` holds the parts' shapes by part id; ``backgrounds`` are the
    user's images in the store (all of them: the domain takes its share, see :func:`split_backgrounds`). Parts and
    views stay as they are."""
    fam = FAMILIES[domain]
    images = split_backgrounds(tuple(backgrounds), domain)
    parts = part_footprints(spec, geometry)
    target = np.r_[np.mean([f.centre for f in parts], axis=0), 0.0]
    radius = max(0.015, max(float(np.linalg.norm(f.centre - target[:2])) + f.radius for f in parts))
    table = _texture(rng, fam.textures, images, (0.1, 0.5))
    backdrop = _texture(rng, fam.textures, images, (0.17, 0.5))
    lights, kelvin = sample_lights(rng, fam, target, radius)
    look = DomainSpec(
        name=domain,
        table_texture=table,
        backdrop=backdrop,
        distractors=sample_distractors(rng, fam, parts),
        part_looks=sample_part_looks(rng, spec),
        effects=(),
    )
    look = replace(look, effects=sample_effects(rng, fam, spec, kelvin))
    return replace(spec, lights=lights, background_strength=_log_uniform(rng, 0.1, 1.2), domain=look)
