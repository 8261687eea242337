"""The store manifest for rendered datasets: settings, catalogue snapshot, conventions, versions."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import TYPE_CHECKING, Any

from legodata.core.records import SCHEMA_VERSION

if TYPE_CHECKING:
    from legodata.geometry.symmetry import SymmetryGroup
    from legodata.parts.catalogue import Part

CONVENTIONS = {
    "units": "metres for all poses and scene coordinates; LDraw geometry is in LDU, 1 LDU = 0.4 mm",
    "model_frame": "the LDraw part frame (-Y up, origin at the top centre of the body) scaled to metres",
    "camera_frame": "OpenCV: x right, y down, z forward (as BOP)",
    "pose": "model-to-camera: x_cam = R_m2c @ x_model + t_m2c",
    "quaternion": "unit, scalar first (w, x, y, z), sign fixed so that w >= 0; fields say 'wxyz'",
    "intrinsics": "K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], pixel centres at integer coordinates",
    "mask": "single-channel uint16 PNG; pixel k > 0 is the instance with instance_id k; 0 is background",
    "depth": "uint16 PNG, metres = value * depth_scale_m, 0 = no surface; depth along the camera z axis",
    "bbox": "x, y, width, height in pixels; (-1, -1, -1, -1) when empty",
    "symmetry": "finite group per part, found from the mesh: x -> R x + t maps the part onto itself; "
    "rotation labels and metrics take the minimum over the group",
    "splits": "by group_id (scene), never by image",
}

_PACKAGES = ("legodata", "numpy", "opencv-python-headless", "bpy", "blenderproc")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the data (without importing them)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def catalogue_entry(
    part: Part, mesh_path: str, *, name: str | None = None, symmetry: SymmetryGroup | None = None
) -> dict[str, Any]:
    """``part``'s entry in a store manifest's catalogue: its name, kind, mesh file in the store and symmetry group.
    ``name`` and ``symmetry`` replace the part's own (a mirrored part has its own group and name)."""
    return {
        "name": part.info.name if name is None else name,
        "kind": part.info.kind,
        "mesh_path": mesh_path,
        "symmetry": (part.symmetry if symmetry is None else symmetry).to_json(),
    }


def domain_entry(domain: str) -> dict[str, Any] | None:
    """What a ``--domain`` randomises, for the manifest (None for the clean look): texture families, distractor
    kinds, light temperatures, camera effect ranges (see :mod:`legodata.scene.domain`)."""
    if domain == "clean":
        return None
    from dataclasses import asdict

    from legodata.scene.domain import FAMILIES

    fam = asdict(FAMILIES[domain])
    fam["kinds"] = {k["kind"]: {"x": k["x"], "y": k["y"], "z": k["z"]} for k in fam["kinds"]}
    return {"name": domain, **fam}


def render_manifest(
    settings: dict[str, Any], catalogue: dict[str, Any], colours: list[dict[str, Any]], domain: str = "clean"
) -> dict:
    """The manifest dict of a rendered store; ``domain`` other than clean adds what it randomises (``domain``)."""
    extra = {} if domain == "clean" else {"domain": domain_entry(domain)}
    return {
        **extra,
        "schema_version": SCHEMA_VERSION,
        "kind": "legodata-store",
        "source": "render",
        "settings": settings,
        "seed": settings["seed"],
        "catalogue": catalogue,
        "colours": colours,
        "conventions": CONVENTIONS,
        "versions": package_versions(),
    }
