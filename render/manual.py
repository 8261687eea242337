"""Instruction-manual pages: a scene spec with ``style == "manual"`` rendered with Blender's Workbench engine.

The look of a printed LEGO manual: flat studio shading (no shadows, no path tracing), the part colours as given,
a dark outline around every part, on the spec's uniform background (white). No table and no lights. The instance
mask and depth come from the same exact Cycles data pass as photos (1 sample at each pixel centre), so a page's
mask says which part covers which pixel of the page. Step numbers and the parts callout are drawn by the parent
(``legodata.assembly.manual_page``), not here.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import bpy
from legodata_render import passes, scene_builder, settings

from legodata.core.spec import SceneSpec

OUTLINE_RGB = (0.06, 0.06, 0.06)
WORKBENCH_AA = "8"  # Workbench anti-aliasing samples
EXPOSURE = 0.7  # studio light with this exposure keeps white parts white, as printed manuals show them


def _workbench(spec: SceneSpec) -> dict[str, Any]:
    """Switch the scene to Workbench with the manual look; returns what to restore afterwards."""
    scene = bpy.context.scene
    shading = scene.display.shading
    world = scene.world
    saved = {
        "engine": scene.render.engine,
        "world_color": tuple(world.color) if world is not None else None,
        "exposure": scene.view_settings.exposure,
    }
    scene.view_settings.exposure = EXPOSURE
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.render_aa = WORKBENCH_AA
    shading.light = "STUDIO"
    shading.color_type = "MATERIAL"  # the material's diffuse colour (set from the part colour)
    shading.show_object_outline = True
    shading.object_outline_color = OUTLINE_RGB
    shading.show_cavity = True
    shading.cavity_type = "WORLD"
    shading.show_specular_highlight = False
    shading.show_shadows = False
    shading.show_xray = False
    if world is None:
        world = bpy.data.worlds.new("World")
        scene.world = world
    world.color = scene_builder.srgb_to_linear(spec.background_rgb)  # Workbench paints the film in this colour
    for node in scene.node_tree.nodes:  # no compositor denoising of a Workbench image
        if node.bl_idname == "CompositorNodeDenoise":
            node.mute = True
    return saved


def _restore(saved: dict[str, Any]) -> None:
    scene = bpy.context.scene
    scene.render.engine = saved["engine"]
    scene.view_settings.exposure = saved["exposure"]
    if saved["world_color"] is not None and scene.world is not None:
        scene.world.color = saved["world_color"]


def _workbench_beauty(spec: SceneSpec, rgb_dir: Path, n_frames: int) -> list[Path]:
    """The beauty pass in the manual look (Workbench), the scene's own settings restored after."""
    saved = _workbench(spec)
    try:
        return passes.render_beauty(rgb_dir, n_frames)
    finally:
        _restore(saved)


def render_manual(bproc, spec: SceneSpec, root: Path, out_dir: Path, scratch: str | None) -> dict[str, Any]:
    """Render every view of the manual-style ``spec`` into ``out_dir`` (rgb/, mask/, depth/, worker.json)."""
    timing = {"build": 0.0, "render_rgb": 0.0, "render_data": 0.0, "write": 0.0}
    for sub in ("rgb", "mask", "depth"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    built = scene_builder.BuiltScene()
    for part in spec.parts:
        scene_builder.build_part(root, part, built, own_mesh=False)
    tmp = Path(tempfile.mkdtemp(prefix="manual-", dir=scratch))
    try:
        applied = settings.apply_render_settings(bproc, spec.render)  # threads and device for the data pass
        timing["build"] = time.perf_counter() - t0
        for views in passes.group_views(spec.views):
            passes.set_cameras(bproc, views)
            passes.render_views(out_dir, tmp, views, timing, beauty=lambda d, n: _workbench_beauty(spec, d, n))
        poses = scene_builder.part_poses(built)
        result = {
            "scene_id": spec.scene_id,
            "style": "manual",
            "parts": poses,
            "timing_s": {k: round(v, 4) for k, v in timing.items()},
            "blender_version": bpy.app.version_string,
            "render": {**applied, "engine": "BLENDER_WORKBENCH", "aa": WORKBENCH_AA},
        }
        return passes.write_result(out_dir, result)
    finally:
        scene_builder.remove_scene(built)
        shutil.rmtree(tmp, ignore_errors=True)
