"""Instance masks and depth of a batch of views from the scene's own triangles, by the exact z-buffer of
:mod:`legodata.geometry.zbuffer` (pixel centres, the silhouettes' rasteriser), instead of a second Cycles pass.

Every object Cycles shows to the camera takes part: its evaluated mesh (modifiers, physics poses applied) with its
``pass_index`` as the label, so parts are their instance ids and everything else (the table, distractors, backdrops)
occludes with label 0, as in Cycles' IndexOB pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from legodata.core.spec import CameraView
from legodata.core.units import DEPTH_SCALE_M
from legodata.geometry.zbuffer import depth_units, surface_maps

logger = logging.getLogger(__name__)

GEOMETRY_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT"}  # what Cycles renders as triangles


@dataclass(frozen=True)
class SceneTriangles:
    """World-space triangles ``(T, 3, 3)`` of everything the camera can see, with a label (pass index) each."""

    triangles: np.ndarray
    labels: np.ndarray


def scene_triangles() -> SceneTriangles:
    """The evaluated triangles of every object of the view layer that renders and is visible to camera rays."""
    bpy.context.view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    tris, labels = [np.zeros((0, 3, 3))], [np.zeros(0, np.int64)]
    for obj in bpy.context.view_layer.objects:
        if obj.type not in GEOMETRY_TYPES or obj.hide_render or not obj.visible_camera:
            continue
        evaluated = obj.evaluated_get(depsgraph)
        world = _object_triangles(evaluated)
        if len(world):
            if not 0 <= obj.pass_index <= 65535:
                raise RuntimeError(f"object {obj.name!r} has pass index {obj.pass_index}, outside the uint16 mask")
            tris.append(world)
            labels.append(np.full(len(world), int(obj.pass_index), np.int64))
    return SceneTriangles(np.concatenate(tris), np.concatenate(labels))


def _object_triangles(evaluated) -> np.ndarray:
    mesh = evaluated.to_mesh()
    try:
        mesh.calc_loop_triangles()
        corners = np.empty(3 * len(mesh.loop_triangles), np.int64)
        mesh.loop_triangles.foreach_get("vertices", corners)
        co = np.empty(3 * len(mesh.vertices), np.float32)
        mesh.vertices.foreach_get("co", co)
    finally:
        evaluated.to_mesh_clear()
    M = np.array(evaluated.matrix_world, dtype=np.float64)
    points = co.reshape(-1, 3).astype(np.float64) @ M[:3, :3].T + M[:3, 3]
    return points[corners.reshape(-1, 3)]


def view_maps(scene: SceneTriangles, view: CameraView) -> tuple[np.ndarray, np.ndarray]:
    """``(instance mask uint16, depth uint16 in DEPTH_SCALE_M units, 0 = nothing)`` of ``view``."""
    R, t = np.asarray(view.R_w2c, dtype=np.float64), np.asarray(view.t_w2c, dtype=np.float64)
    maps = surface_maps(scene.triangles @ R.T + t, scene.labels, np.asarray(view.K), view.width, view.height)
    return maps.labels.astype(np.uint16), depth_units(maps.depth, DEPTH_SCALE_M)


def write_view_maps(out_dir: Path, scene: SceneTriangles, views: list[CameraView], write_png) -> None:
    """Each view's ``mask/<view id>.png`` and ``depth/<view id>.png`` through ``write_png(path, image)``."""
    for view in views:
        mask, depth = view_maps(scene, view)
        name = f"{view.view_id:04d}.png"
        write_png(out_dir / "mask" / name, mask)
        write_png(out_dir / "depth" / name, depth)
