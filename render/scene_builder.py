"""Build one :class:`~legodata.core.spec.SceneSpec` as Blender data, and remove it again afterwards.

Everything a scene creates is recorded in a :class:`BuiltScene` so :func:`remove_scene` can delete exactly
that (memory stays flat over many scenes). Part mesh datablocks are cached per ``mesh_path`` across scenes
and looked up by name each time (BlenderProc's physics uses undo, which invalidates Python references).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np
from legodata_render import domain_builder

from legodata.core.mesh import read_ply
from legodata.core.spec import PartLook, PlacedPart, SceneSpec

PART_ROUGHNESS = 0.25
TABLE_THICKNESS_M = 0.02
SMOOTH_ANGLE_RAD = math.radians(30.0)
_MESH_CACHE: dict[str, str] = {}  # mesh_path -> name of the cached bpy mesh datablock


def srgb_to_linear(rgb) -> tuple[float, float, float]:
    """sRGB in [0, 1] -> linear Rec.709 (what Blender's shader colour sockets expect)."""
    c = np.clip(np.asarray(rgb, dtype=float), 0.0, 1.0)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return tuple(float(x) for x in lin)


def pose_matrix(R, t) -> np.ndarray:
    """4x4 homogeneous matrix from a 3x3 rotation and a translation."""
    T = np.eye(4)
    T[:3, :3] = np.asarray(R, dtype=float)
    T[:3, 3] = np.asarray(t, dtype=float)
    return T


@dataclass
class BuiltScene:
    """Names of everything created for one scene (names survive BlenderProc's undo, references do not)."""

    part_objects: dict[int, str] = field(default_factory=dict)  # instance_id -> object name
    objects: list[str] = field(default_factory=list)
    meshes: list[str] = field(default_factory=list)  # per-scene meshes (not the cache)
    materials: list[str] = field(default_factory=list)
    lights: list[str] = field(default_factory=list)
    distractors: list[str] = field(default_factory=list)  # object names (also in ``objects``)
    images: list[str] = field(default_factory=list)
    world_nodes: list[str] = field(default_factory=list)  # backdrop nodes added to the shared world


def cached_mesh(root: Path, mesh_path: str) -> bpy.types.Mesh:
    """The mesh datablock for ``mesh_path`` (PLY in metres, model frame), built once per process."""
    name = _MESH_CACHE.get(mesh_path)
    mesh = bpy.data.meshes.get(name) if name else None
    if mesh is not None:
        return mesh
    m = read_ply(root / mesh_path)
    mesh = bpy.data.meshes.new(f"part_mesh:{mesh_path}")
    mesh.from_pydata(m.vertices.tolist(), [], m.faces.tolist())
    mesh.validate(clean_customdata=False)
    mesh.update()
    if hasattr(mesh, "set_sharp_from_angle"):  # Blender >= 4.1: smooth, with sharp edges above the angle
        mesh.shade_smooth()
        mesh.set_sharp_from_angle(angle=SMOOTH_ANGLE_RAD)
    mesh.materials.append(None)  # one slot; each object links its own material to it
    mesh.use_fake_user = True  # survive orphan purges between scenes
    _MESH_CACHE[mesh_path] = mesh.name
    return mesh


def clear_mesh_cache() -> None:
    """Forget and delete every cached part mesh."""
    for name in _MESH_CACHE.values():
        mesh = bpy.data.meshes.get(name)
        if mesh is not None:
            bpy.data.meshes.remove(mesh)
    _MESH_CACHE.clear()


def _plastic(name: str, rgb, roughness: float = PART_ROUGHNESS) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*srgb_to_linear(rgb), 1.0)
    bsdf.inputs["Roughness"].default_value = float(roughness)
    mat.diffuse_color = (*srgb_to_linear(rgb), 1.0)
    return mat


def _table_material(name: str, spec: SceneSpec) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = float(spec.table.roughness)
    noise = nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = float(spec.table.noise_scale)
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.inputs["A"].default_value = (*srgb_to_linear(spec.table.rgb), 1.0)
    mix.inputs["B"].default_value = (*srgb_to_linear(spec.table.rgb2), 1.0)
    links.new(noise.outputs["Fac"], mix.inputs["Factor"])
    links.new(mix.outputs["Result"], bsdf.inputs["Base Color"])
    return mat


def _link(obj: bpy.types.Object) -> None:
    bpy.context.scene.collection.objects.link(obj)


def build_part(
    root: Path, part: PlacedPart, built: BuiltScene, own_mesh: bool, look: PartLook | None = None
) -> bpy.types.Object:
    """One part object; ``own_mesh`` gives it a private copy of the cached mesh (physics edits mesh data). ``look``
    (randomised domains) replaces the LDraw colour and the default roughness of its material."""
    mesh = cached_mesh(root, part.mesh_path)
    if own_mesh:
        mesh = mesh.copy()
        mesh.use_fake_user = False
        built.meshes.append(mesh.name)
    obj = bpy.data.objects.new(f"part_{part.instance_id}", mesh)
    obj.matrix_world = pose_matrix(part.R_m2w, part.t_m2w).T.tolist()  # mathutils takes rows
    obj.pass_index = int(part.instance_id)  # -> IndexOB pass -> instance mask
    obj["instance_id"] = int(part.instance_id)
    obj["category_id"] = int(part.instance_id)
    mat = (
        _plastic(f"plastic_{part.instance_id}", part.rgb)
        if look is None
        else _plastic(f"plastic_{part.instance_id}", look.rgb, look.roughness)
    )
    built.materials.append(mat.name)
    # The material sits on the object's slot, so the shared cached mesh is never modified.
    obj.material_slots[0].link = "OBJECT"
    obj.material_slots[0].material = mat
    _link(obj)
    built.objects.append(obj.name)
    built.part_objects[int(part.instance_id)] = obj.name
    return obj


def build_table(spec: SceneSpec, built: BuiltScene, root: Path | None = None) -> bpy.types.Object:
    """A square slab whose top face is z = 0 (half-extent ``table.size``) with a procedural two-colour noise
    material, or the domain's table texture (an image in the store under ``root``). A slab, not a plane: a
    zero-thickness passive collider lets dropped parts tunnel through."""
    s, d = float(spec.table.size), TABLE_THICKNESS_M
    mesh = bpy.data.meshes.new("table")
    verts = [(x, y, z) for z in (-d, 0.0) for x, y in ((-s, -s), (s, -s), (s, s), (-s, s))]
    quads = [(4, 5, 6, 7), (3, 2, 1, 0), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    mesh.from_pydata(verts, [], quads)
    mesh.update()
    texture = spec.domain.table_texture if spec.domain is not None else None
    if texture is not None and root is not None:
        mat = domain_builder.textured_material("table", root, texture, spec.table.roughness, built)
        built.materials.remove(mat.name)  # appended again below with the table's own
    else:
        mat = _table_material("table", spec)
    mesh.materials.append(mat)
    obj = bpy.data.objects.new("table", mesh)
    obj.pass_index = 0
    obj["category_id"] = 0
    _link(obj)
    built.meshes.append(mesh.name)
    built.materials.append(mat.name)
    built.objects.append(obj.name)
    return obj


def build_lights(spec: SceneSpec, built: BuiltScene) -> None:
    """Point lights: ``energy`` in watts, ``size`` = soft-shadow radius."""
    for k, light in enumerate(spec.lights):
        data = bpy.data.lights.new(f"light_{k}", type="POINT")
        data.energy = float(light.energy)
        data.color = tuple(float(c) for c in light.rgb)
        data.shadow_soft_size = float(light.size)
        obj = bpy.data.objects.new(f"light_{k}", data)
        obj.location = tuple(float(c) for c in light.location)
        _link(obj)
        built.lights.append(data.name)
        built.objects.append(obj.name)


def set_world(spec: SceneSpec) -> None:
    """Uniform background: ``background_rgb`` (sRGB) at ``background_strength``; reuses the one world."""
    world = bpy.context.scene.world
    if world is None:
        world = bpy.data.worlds.new("World")
        bpy.context.scene.world = world
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    if bg is None:
        bg = world.node_tree.nodes.new("ShaderNodeBackground")
        out = world.node_tree.nodes.get("World Output") or world.node_tree.nodes.new("ShaderNodeOutputWorld")
        world.node_tree.links.new(bg.outputs["Background"], out.inputs["Surface"])
    bg.inputs["Color"].default_value = (*srgb_to_linear(spec.background_rgb), 1.0)
    bg.inputs["Strength"].default_value = float(spec.background_strength)


def build_scene(spec: SceneSpec, root: Path) -> BuiltScene:
    """Create parts, table, lights and background of ``spec`` in the current Blender scene."""
    built = BuiltScene()
    looks = {look.instance_id: look for look in spec.domain.part_looks} if spec.domain is not None else {}
    for part in spec.parts:
        build_part(root, part, built, own_mesh=spec.physics, look=looks.get(part.instance_id))
    build_table(spec, built, root)
    build_lights(spec, built)
    set_world(spec)
    if spec.domain is not None:
        domain_builder.build_domain(spec, root, built)
    return built


def part_poses(built: BuiltScene) -> list[dict]:
    """Final model-to-world poses read back from Blender's object matrices."""
    bpy.context.view_layer.update()
    out = []
    for instance_id, name in sorted(built.part_objects.items()):
        M = np.array(bpy.data.objects[name].matrix_world, dtype=float)
        out.append({"instance_id": instance_id, "R_m2w": M[:3, :3].tolist(), "t_m2w": M[:3, 3].tolist()})
    return out


def remove_scene(built: BuiltScene) -> None:
    """Delete what :func:`build_scene` created (cached part meshes stay)."""
    domain_builder.remove_domain(built)
    for name in built.objects:
        obj = bpy.data.objects.get(name)
        if obj is not None:
            bpy.data.objects.remove(obj, do_unlink=True)
    for name in built.meshes:
        mesh = bpy.data.meshes.get(name)
        if mesh is not None and not mesh.use_fake_user:
            bpy.data.meshes.remove(mesh)
    for name in built.materials:
        mat = bpy.data.materials.get(name)
        if mat is not None:
            bpy.data.materials.remove(mat)
    for name in built.lights:
        light = bpy.data.lights.get(name)
        if light is not None:
            bpy.data.lights.remove(light)
