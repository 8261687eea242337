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

from legodata.core.units import Mat3, Vec3

SPEC_VERSION = 1
STYLES = ("photo", "manual")  # photo: Cycles observation on a table; manual: instruction-manual page (Workbench)


def _mat(m: Any) -> Mat3:
    return tuple(tuple(float(x) for x in row) for row in m)  # type: ignore[return-value]


def _vec(v: Any) -> Vec3:
    return tuple(float(x) for x in v)  # type: ignore[return-value]


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
class SceneSpec:
    """A complete scene. ``physics`` = True asks the worker to drop the parts onto the table first, except the
    parts listed in ``fixed_parts`` (instance ids: an assembly's build stays where it is and only blocks the fall).

    ``style`` "manual" asks for an instruction-manual page instead of a photo: Workbench flat shading with dark
    outlines on the uniform ``background_rgb``, no table, no lights (masks and depth from the same exact pass).
    Both fields are left out of the JSON at their defaults, so specs of plain renders stay byte-identical."""

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

    def to_json(self) -> str:
        """Deterministic JSON text (sorted keys) of this spec; ``style`` and ``fixed_parts`` only when set."""
        d = asdict(self)
        if d["style"] == "photo":
            del d["style"]
        if not d["fixed_parts"]:
            del d["fixed_parts"]
        return json.dumps(d, sort_keys=True, indent=1)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> SceneSpec:
        """Inverse of ``asdict``; raises ``ValueError`` naming the missing field."""
        try:
            return SceneSpec(
                scene_id=str(d["scene_id"]),
                scene_index=int(d["scene_index"]),
                seed=int(d["seed"]),
                orientation=str(d["orientation"]),
                physics=bool(d["physics"]),
                parts=tuple(
                    PlacedPart(
                        instance_id=int(p["instance_id"]),
                        part_id=str(p["part_id"]),
                        colour_code=int(p["colour_code"]),
                        rgb=_vec(p["rgb"]),
                        mesh_path=str(p["mesh_path"]),
                        R_m2w=_mat(p["R_m2w"]),
                        t_m2w=_vec(p["t_m2w"]),
                    )
                    for p in d["parts"]
                ),
                views=tuple(
                    CameraView(
                        view_id=int(v["view_id"]),
                        width=int(v["width"]),
                        height=int(v["height"]),
                        K=_mat(v["K"]),
                        R_w2c=_mat(v["R_w2c"]),
                        t_w2c=_vec(v["t_w2c"]),
                    )
                    for v in d["views"]
                ),
                lights=tuple(
                    Light(_vec(x["location"]), float(x["energy"]), _vec(x["rgb"]), float(x["size"]))
                    for x in d["lights"]
                ),
                table=Surface(
                    rgb=_vec(d["table"]["rgb"]),
                    rgb2=_vec(d["table"]["rgb2"]),
                    noise_scale=float(d["table"]["noise_scale"]),
                    roughness=float(d["table"]["roughness"]),
                    size=float(d["table"]["size"]),
                ),
                background_rgb=_vec(d["background_rgb"]),
                background_strength=float(d["background_strength"]),
                render=RenderSettings(**{f.name: d["render"][f.name] for f in fields(RenderSettings)}),
                version=int(d.get("version", SPEC_VERSION)),
                style=str(d.get("style", "photo")),
                fixed_parts=tuple(int(i) for i in d.get("fixed_parts", ())),
            )
        except KeyError as exc:
            raise ValueError(f"scene spec is missing field {exc.args[0]!r}") from None


def load_spec(path: str | Path) -> SceneSpec:
    """Read a spec JSON file."""
    return SceneSpec.from_dict(json.loads(Path(path).read_text()))
