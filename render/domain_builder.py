"""The randomised look of a scene in Blender (``SceneSpec.domain``): textured table, image backdrop, distractors,
and the camera effects applied to the rendered RGB afterwards.

Distractors get ``pass_index`` 0, so the exact data pass writes 0 (background) wherever they are seen: they occlude
parts in the mask exactly as in the image, and never appear as instances. Backdrop and textures are colour only:
the object-index and depth passes do not see them.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import cv2

from legodata.core.spec import Distractor, SceneSpec, TextureRef
from legodata.scene.camera_effects import apply_camera_effects
from legodata.scene.distractors import distractor_mesh

WORLD_NODE_PREFIX = "legodata_backdrop_"
COLLISION_MARGIN_M = 0.0002
WORLD_MAP_PX = 64


def load_image(root: Path, rel: str, built) -> bpy.types.Image:
    """The image at store path ``rel``, loaded once per scene (removed with the scene)."""
    img = bpy.data.images.load(str(root / rel), check_existing=True)
    if img.name not in built.images:
        built.images.append(img.name)
    return img


def _mapped_image(nodes, links, image: bpy.types.Image, tex: TextureRef):
    """Object coordinates (metres) -> one image copy per ``tex.tile_m`` metres, turned by ``tex.rotation_rad``."""
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    mapping.inputs["Rotation"].default_value = (0.0, 0.0, float(tex.rotation_rad))
    s = 1.0 / float(tex.tile_m)
    mapping.inputs["Scale"].default_value = (s, s, s)
    node = nodes.new("ShaderNodeTexImage")
    node.image = image
    node.extension = "REPEAT"
    links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], node.inputs["Vector"])
    return node


def textured_material(name: str, root: Path, tex: TextureRef, roughness: float, built) -> bpy.types.Material:
    """A Principled material whose base colour is the image ``tex`` laid over the object's xy plane."""
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = float(roughness)
    image = _mapped_image(nodes, links, load_image(root, tex.path, built), tex)
    links.new(image.outputs["Color"], bsdf.inputs["Base Color"])
    built.materials.append(mat.name)
    return mat


def _flat_material(name: str, d: Distractor, built) -> bpy.types.Material:
    from legodata_render.scene_builder import srgb_to_linear

    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*srgb_to_linear(d.rgb), 1.0)
    bsdf.inputs["Roughness"].default_value = float(d.roughness)
    built.materials.append(mat.name)
    return mat


def build_distractors(spec: SceneSpec, root: Path, built) -> None:
    """One object per distractor, mesh from :func:`legodata.scene.distractors.distractor_mesh`, pass index 0."""
    from legodata_render.scene_builder import pose_matrix

    for k, d in enumerate(spec.domain.distractors):
        m = distractor_mesh(d)
        mesh = bpy.data.meshes.new(f"distractor_{k}")
        mesh.from_pydata(m.vertices.tolist(), [], m.faces.tolist())
        mesh.update()
        if d.kind in ("cable", "sphere", "torus", "cylinder"):
            mesh.shade_smooth()
        if d.texture:
            tex = TextureRef(path=d.texture, tile_m=max(d.size[0], d.size[1]), rotation_rad=0.0)
            mat = textured_material(f"distractor_{k}", root, tex, d.roughness, built)
        else:
            mat = _flat_material(f"distractor_{k}", d, built)
        mesh.materials.append(mat)
        obj = bpy.data.objects.new(f"distractor_{k}", mesh)
        obj.matrix_world = pose_matrix(d.R_m2w, d.t_m2w).T.tolist()
        obj.pass_index = 0  # not an instance: background in the mask
        obj["category_id"] = 0
        bpy.context.scene.collection.objects.link(obj)
        built.meshes.append(mesh.name)
        built.objects.append(obj.name)
        built.distractors.append(obj.name)


def set_backdrop(spec: SceneSpec, root: Path, built) -> None:
    """The world behind the table shows the backdrop image: ``1 / tile_m`` copies around the horizon, turned by
    ``rotation_rad``, at the spec's background strength (it also lights the scene a little)."""
    tex = spec.domain.backdrop
    world = bpy.context.scene.world
    nodes, links = world.node_tree.nodes, world.node_tree.links
    repeats = max(1.0, round(1.0 / float(tex.tile_m)))

    def node(kind: str, op: str | None = None, value: float | None = None):
        n = nodes.new(kind)
        n.name = f"{WORLD_NODE_PREFIX}{len(built.world_nodes)}"
        built.world_nodes.append(n.name)
        if op:
            n.operation = op
        if value is not None:
            n.inputs[1].default_value = value
        return n

    coords, split = node("ShaderNodeTexCoord"), node("ShaderNodeSeparateXYZ")
    azimuth, u_scale = node("ShaderNodeMath", "ARCTAN2"), node("ShaderNodeMath", "MULTIPLY", repeats / (2 * math.pi))
    u_turn = node("ShaderNodeMath", "ADD", float(tex.rotation_rad) / (2 * math.pi))
    elevation, v_scale = node("ShaderNodeMath", "ARCSINE"), node("ShaderNodeMath", "MULTIPLY", repeats / (2 * math.pi))
    v_mid, uv = node("ShaderNodeMath", "ADD", 0.5), node("ShaderNodeCombineXYZ")
    image = node("ShaderNodeTexImage")
    image.image = load_image(root, tex.path, built)
    image.extension = "MIRROR"
    links.new(coords.outputs["Generated"], split.inputs["Vector"])
    links.new(split.outputs["Y"], azimuth.inputs[0])
    links.new(split.outputs["X"], azimuth.inputs[1])
    for a, b in ((azimuth, u_scale), (u_scale, u_turn), (elevation, v_scale), (v_scale, v_mid)):
        links.new(a.outputs["Value"], b.inputs[0])
    links.new(split.outputs["Z"], elevation.inputs[0])
    links.new(u_turn.outputs["Value"], uv.inputs["X"])
    links.new(v_mid.outputs["Value"], uv.inputs["Y"])
    links.new(uv.outputs["Vector"], image.inputs["Vector"])
    links.new(image.outputs["Color"], nodes["Background"].inputs["Color"])
    # Cycles builds an importance map of a textured world before every render (seconds on 2 cores, 8x the render
    # of a 128 px frame); a coarse map keeps the world's light in the picture at a fraction of that.
    world.cycles.sampling_method = "MANUAL"
    world.cycles.sample_map_resolution = WORLD_MAP_PX


def build_domain(spec: SceneSpec, root: Path, built) -> None:
    """Distractors and backdrop of ``spec.domain`` (the table's texture is set by the table builder)."""
    build_distractors(spec, root, built)
    if spec.domain.backdrop is not None:
        set_backdrop(spec, root, built)


def make_colliders(built) -> None:
    """Distractors as passive colliders for the physics drop (they stay where the spec put them, so the spec's pose
    remains their true pose); exact triangle shapes, since a cable's convex hull would be a slab."""
    from blenderproc.python.types.MeshObjectUtility import MeshObject

    for name in built.distractors:
        MeshObject(bpy.data.objects[name]).enable_rigidbody(
            False, collision_shape="MESH", collision_margin=COLLISION_MARGIN_M, friction=0.5
        )


def remove_domain(built) -> None:
    """Remove the backdrop nodes and the images of the scene (objects, meshes, materials go with the scene)."""
    world = bpy.context.scene.world
    if world is not None and built.world_nodes:
        world.cycles.sampling_method = "AUTOMATIC"
    if world is not None and world.node_tree is not None:
        for name in built.world_nodes:
            n = world.node_tree.nodes.get(name)
            if n is not None:
                world.node_tree.nodes.remove(n)
    for name in built.images:
        img = bpy.data.images.get(name)
        if img is not None:
            bpy.data.images.remove(img)


def apply_effects(spec: SceneSpec, out_dir: Path) -> None:
    """Rewrite each view's RGB in ``out_dir/rgb`` through its camera effects (masks and depth are not touched)."""
    from legodata_render.passes import write_png

    for fx in spec.domain.effects:
        path = out_dir / "rgb" / f"{fx.view_id:04d}.png"
        write_png(path, apply_camera_effects(cv2.imread(str(path), cv2.IMREAD_COLOR), fx))
