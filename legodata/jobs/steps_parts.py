"""Parts and colours of a ``render-steps`` run, and its store: meshes (mirrored parts mirrored), names, symmetry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from legodata.assembly.labels import PartSymmetry, surface_centroid
from legodata.assembly.specs import PartLook
from legodata.assembly.steps import MIRROR_SUFFIX, Assembly, mirrored_mesh
from legodata.core.mesh import write_ply
from legodata.core.records import SCHEMA_VERSION
from legodata.errors import LegodataError
from legodata.jobs.manifest import CONVENTIONS, catalogue_entry, package_versions
from legodata.sources.assembly import SOURCE
from legodata.store.store import Store

if TYPE_CHECKING:
    from legodata.jobs.steps_config import StepsConfig

ASSEMBLY_CONVENTIONS = {
    "splits": "by group_id (one assembly model or random build), never by image",
    "build_frame": "the LDraw model frame (-Y up) in metres: target poses in the build frame are the file's transforms",
    "rotation_action": "R_target S R_current^T in the camera frame, S the part symmetry giving the smallest angle",
}


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Meshes, names, symmetry of every part id used, and the colours (code -> (name, sRGB))."""

    meshes: dict
    names: dict[str, str]
    symmetry: dict[str, PartSymmetry]
    looks: dict[str, PartLook]
    colours: dict[int, tuple[str, tuple[float, float, float]]]
    manifest_catalogue: dict[str, Any]


def mesh_file(part_id: str) -> str:
    return f"models/{part_id.replace('/', '__')}.ply"


def _colour_table(cfg: StepsConfig) -> dict[int, tuple[str, tuple[float, float, float]]]:
    if cfg.ldraw_dir:
        from legodata.ldraw.library import get_library

        table = get_library(cfg.ldraw_dir).colours
        if table:
            return {c.code: (c.name, c.as_colour().rgb) for c in table.values()}
    from legodata.parts.colours import list_colours

    return {c.code: (c.name, c.rgb) for c in list_colours()}


def _display_name(name: str, ldraw_dir: str | None) -> str:
    """A library title, with ``~Moved to X`` replaced by X's title (what the part is called now)."""
    words = name.lstrip("~").split()
    if ldraw_dir and len(words) == 3 and words[0].lower() == "moved" and words[1].lower() == "to":
        from legodata.ldraw.library import get_library

        try:
            return get_library(ldraw_dir).part_title(words[2]).lstrip("~") or name
        except LegodataError:
            return name
    return name


def resolve_catalogue(cfg: StepsConfig, assemblies: list[tuple[str, Assembly]]) -> Catalogue:
    """Load every part (mirrored ones mirrored) and check every colour, with errors naming what is missing."""
    from legodata.geometry.symmetry import find_symmetry_group
    from legodata.parts.catalogue import UnknownPartError, get_part

    ids = list(dict.fromkeys(pid for _, a in assemblies for pid in a.part_keys()))
    if cfg.random_builds:
        ids += [p for p in cfg.parts.split(",") if p.strip() and p.strip() not in ids]
    meshes, names, symmetry, looks, entries = {}, {}, {}, {}, {}
    for pid in ids:
        base = pid[: -len(MIRROR_SUFFIX)] if pid.endswith(MIRROR_SUFFIX) else pid
        try:
            part = get_part(base, cfg.ldraw_dir)
        except UnknownPartError as exc:
            raise LegodataError(f"{exc} (pass --ldraw-dir for LDraw library parts)") from None
        mesh, group = part.mesh, part.symmetry
        if base != pid:
            mesh = mirrored_mesh(mesh)
            group = find_symmetry_group(mesh)
        meshes[pid], names[pid] = mesh, _display_name(part.info.name, cfg.ldraw_dir) + (" (mirrored)" * (base != pid))
        symmetry[pid] = PartSymmetry(group.sampled(5.0), surface_centroid(mesh))
        looks[pid] = PartLook(mesh_file(pid), mesh.vertices)
        entries[pid] = catalogue_entry(part, mesh_file(pid), name=names[pid], symmetry=group)
    colours = _colour_table(cfg)
    used = {p.colour_code for _, a in assemblies for p in a.parts}
    if cfg.random_builds:
        used |= {int(c) for c in cfg.colours.split(",") if c.strip()}
    missing = sorted(used - set(colours))
    if missing:
        raise LegodataError(f"unknown LDraw colour codes {missing}" + ("" if cfg.ldraw_dir else " (pass --ldraw-dir)"))
    return Catalogue(meshes, names, symmetry, looks, colours, entries)


def prepare_store(cfg: StepsConfig, cat: Catalogue) -> Store:
    store = Store(cfg.out)
    colours = [{"code": k, "name": v[0], "rgb": list(v[1])} for k, v in sorted(cat.colours.items())]
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kind": "legodata-store",
        "source": SOURCE,
        "settings": cfg.data_settings(),
        "seed": cfg.seed,
        "catalogue": cat.manifest_catalogue,
        "colours": colours,
        "conventions": {**CONVENTIONS, **ASSEMBLY_CONVENTIONS},
        "versions": package_versions(),
    }  # fmt: skip
    store.create_or_check(manifest)
    for pid, mesh in cat.meshes.items():
        path = store.root / mesh_file(pid)
        if not path.exists():
            write_ply(mesh, path)
    return store
