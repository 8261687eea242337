"""The scene spec: everything the render worker needs, as plain JSON-serialisable data.

World frame: metres, Z up, the table top is the plane z = 0. Cameras use the OpenCV convention
(x right, y down, z forward); ``R_w2c``/``t_w2c`` map world points into the camera frame.
Part poses are model-to-world: ``x_world = R_m2w @ x_model + t_m2w`` with the model frame being the
LDraw part frame (-Y up) in metres.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from legodata.core.decode import decode
from legodata.core.units import Mat3, Vec3

SPEC_VERSION = 1
STYLES = ("photo", "manual")  # photo: Cycles observation on a table; manual: instruction-manual page (Workbench)


@dataclass(frozen=True)
class PlacedPart:
    """One part instance. ``instance_id`` >= 1 is the pixel value of this part in the instance mask."""

    instance_id: int
    part_id: str
    colour_code: int
    rgb: Vec3  # sRGB in [0, 1]
    mesh_path: str  # PLY in metres, model frame, relative to the store root
    R_m2w: Mat3
    t_m2w: Vec3


@dataclass(frozen=True)
class CameraView:
    """A pinhole camera: intrinsics ``K`` (pixels) and OpenCV world-to-camera extrinsics."""

    view_id: int
    width: int
    height: int
    K: Mat3
    R_w2c: Mat3
    t_w2c: Vec3


@dataclass(frozen=True)
class Light:
    """A point light (``size`` = soft-shadow radius in metres) with power in watts."""

    location: Vec3
    energy: float
    rgb: Vec3
    size: float


@dataclass(frozen=True)
class Surface:
    """A procedural table: base colour, a second colour mixed in by noise, roughness."""

    rgb: Vec3
    rgb2: Vec3
    noise_scale: float
    roughness: float
    size: float  # half-extent of the square table, metres


@dataclass(frozen=True)
class RenderSettings:
    """Cycles settings for this scene (filled from the quality preset)."""

    samples: int
    denoiser: bool
    max_bounces: int
    device: str  # auto | cpu | gpu
    threads: int  # 0 = all cores
    adaptive_threshold: float  # 0 = adaptive sampling off


@dataclass(frozen=True)
class TextureRef:
    """An image laid on a surface: ``path`` relative to the store root, one copy of the image covering
    ``tile_m`` metres (the world backdrop: 1/``tile_m`` repeats around the horizon), turned by ``rotation_rad``."""

    path: str
    tile_m: float
    rotation_rad: float


@dataclass(frozen=True)
class Distractor:
    """An object that is not an instance (mask value 0): its shape is ``legodata.scene.distractors.distractor_mesh``
    of ``kind``, ``size`` (metres) and ``shape_seed``, posed model-to-world like a part."""

    kind: str
    size: Vec3
    shape_seed: int
    R_m2w: Mat3
    t_m2w: Vec3
    rgb: Vec3
    roughness: float
    texture: str | None = None  # store-relative image printed on the object (paper pieces)


@dataclass(frozen=True)
class PartLook:
    """The rendered material of part ``instance_id``: its LDraw colour jittered (records keep the LDraw colour)."""

    instance_id: int
    rgb: Vec3
    roughness: float


@dataclass(frozen=True)
class CameraEffects:
    """Post-processing of view ``view_id``'s RGB (``legodata.scene.camera_effects``): exposure (linear gain), white
    balance gains, vignetting, motion and defocus blur (pixels), sensor noise, JPEG quality (0 = none)."""

    view_id: int
    seed: int
    exposure: float
    white_balance: Vec3
    vignette: float
    motion_px: float
    motion_deg: float
    defocus_px: float
    noise: float
    jpeg_quality: int


@dataclass(frozen=True)
class DomainSpec:
    """The randomised look of a photo scene (``--domain randomised|shift``): textures, distractors, part materials,
    camera effects. Lights and their colour temperature are in ``SceneSpec.lights``."""

    name: str
    table_texture: TextureRef | None
    backdrop: TextureRef | None
    distractors: tuple[Distractor, ...]
    part_looks: tuple[PartLook, ...]
    effects: tuple[CameraEffects, ...]

    @staticmethod
    def from_dict(d: dict[str, Any]) -> DomainSpec:
        """Inverse of ``asdict``."""
        texture = lambda t: None if t is None else decode(TextureRef, t)  # noqa: E731
        return decode(
            DomainSpec,
            d,
            table_texture=texture,
            backdrop=texture,
            distractors=lambda xs: tuple(decode(Distractor, x) for x in xs),
            part_looks=lambda xs: tuple(decode(PartLook, x) for x in xs),
            effects=lambda xs: tuple(decode(CameraEffects, x) for x in xs),
        )


@dataclass(frozen=True)
class SceneSpec:
    """A complete scene. ``physics`` = True asks the worker to drop the parts onto the table first, except the
    parts listed in ``fixed_parts`` (instance ids: an assembly's build stays where it is and only blocks the fall).

    ``style`` "manual" asks for an instruction-manual page instead of a photo: Workbench flat shading with dark
    outlines on the uniform ``background_rgb``, no table, no lights (masks and depth from the same exact pass).
    ``domain`` (None = the clean look) holds the randomised look. These fields are left out of the JSON at their
    defaults, so specs of plain renders stay byte-identical."""

    scene_id: str
    scene_index: int
    seed: int
    orientation: str
    physics: bool
    parts: tuple[PlacedPart, ...]
    views: tuple[CameraView, ...]
    lights: tuple[Light, ...]
    table: Surface
    background_rgb: Vec3
    background_strength: float
    render: RenderSettings
    version: int = field(default=SPEC_VERSION)
    style: str = field(default="photo")
    fixed_parts: tuple[int, ...] = field(default=())
    domain: DomainSpec | None = field(default=None)

    def to_json(self) -> str:
        """Deterministic JSON text (sorted keys) of this spec; ``style``, ``fixed_parts``, ``domain`` only when set."""
        d = asdict(self)
        if d["style"] == "photo":
            del d["style"]
        if not d["fixed_parts"]:
            del d["fixed_parts"]
        if d["domain"] is None:
            del d["domain"]
        return json.dumps(d, sort_keys=True, indent=1)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> SceneSpec:
        """Inverse of ``asdict``; raises ``ValueError`` naming the missing field."""
        try:
            return decode(
                SceneSpec,
                d,
                parts=lambda ps: tuple(decode(PlacedPart, p) for p in ps),
                views=lambda vs: tuple(decode(CameraView, v) for v in vs),
                lights=lambda ls: tuple(decode(Light, x) for x in ls),
                table=lambda t: decode(Surface, t),
                render=lambda r: RenderSettings(**{f.name: r[f.name] for f in fields(RenderSettings)}),
                domain=lambda x: None if x is None else DomainSpec.from_dict(x),
            )
        except KeyError as exc:
            raise ValueError(f"scene spec is missing field {exc.args[0]!r}") from None


def load_spec(path: str | Path) -> SceneSpec:
    """Read a spec JSON file."""
    return SceneSpec.from_dict(json.loads(Path(path).read_text()))
