"""Cameras, the Cycles beauty pass per batch of views and the masks and depth, written as the worker's outputs.

* beauty pass: the RGB image with the scene's sampling settings (anti-aliased, optionally denoised);
* masks and depth (``LEGODATA_MASKS``): by default ``zbuffer``, the exact z-buffer of the scene's own triangles
  (:mod:`legodata_render.surfaces`), computed in a thread while Cycles renders the beauty pass; ``cycles`` is the
  former second Cycles pass (kept for comparison in bench/bench_render.py): 1 sample, a 0.01 px pixel filter and no
  bounces, writing the object-index and Z passes to one float32 EXR. Cycles writes these data passes from the first
  sample only, at a filter-jittered position; with the tiny filter every pixel is sampled at its centre. Both are
  exact (not anti-aliased, one object per pixel) and agree with a ray cast through each pixel centre.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bpy
import cv2
import numpy as np

from legodata.core.atomic import atomic_write_text
from legodata.core.protocol import WORKER_RESULT
from legodata.core.spec import CameraView
from legodata.core.units import DEPTH_SCALE_M

MASKS_ENV = "LEGODATA_MASKS"  # zbuffer (default) | cycles: how masks and depth are made
DATA_NODE = "legodata_data_output"
DATA_PREFIX = "data_"
RGB_PREFIX = "_frame_"
CLIP_START_M = 0.005
CLIP_END_M = 100.0
# OpenCV camera axes (x right, y down, z forward) -> Blender camera axes (x right, y up, z backward).
_CV_TO_BLENDER = np.diag([1.0, -1.0, -1.0, 1.0])


def setup_compositor() -> None:
    """Add (once) the File Output node that writes IndexOB (R) and Depth (G) as a float32 EXR per frame."""
    scene = bpy.context.scene
    scene.use_nodes = True
    scene.render.use_compositing = True
    tree = scene.node_tree
    if tree.nodes.get(DATA_NODE) is not None:
        return
    layers = next(n for n in tree.nodes if n.bl_idname == "CompositorNodeRLayers")
    view_layer = bpy.context.view_layer
    view_layer.use_pass_z = True
    view_layer.use_pass_object_index = True
    combine = tree.nodes.new("CompositorNodeCombineColor")
    combine.mode = "RGB"
    tree.links.new(layers.outputs["IndexOB"], combine.inputs["Red"])
    tree.links.new(layers.outputs["Depth"], combine.inputs["Green"])
    out = tree.nodes.new("CompositorNodeOutputFile")
    out.name = DATA_NODE
    out.format.file_format = "OPEN_EXR"
    out.format.color_mode = "RGB"
    out.format.color_depth = "32"  # the default half float would round ids > 2048 and depth to ~0.5 mm
    out.format.exr_codec = "NONE"
    out.file_slots.values()[0].path = DATA_PREFIX
    tree.links.new(combine.outputs["Image"], out.inputs["Image"])


def _data_node() -> bpy.types.Node:
    return bpy.context.scene.node_tree.nodes[DATA_NODE]


def cam2world_blender(view: CameraView) -> np.ndarray:
    """Blender camera-to-world matrix from OpenCV world-to-camera ``R_w2c``, ``t_w2c``."""
    R = np.asarray(view.R_w2c, dtype=float)
    t = np.asarray(view.t_w2c, dtype=float)
    T = np.eye(4)
    T[:3, :3] = R.T
    T[:3, 3] = -R.T @ t
    return T @ _CV_TO_BLENDER


def intrinsics_key(view: CameraView) -> tuple:
    return (view.width, view.height, view.K)


def group_views(views) -> list[list[CameraView]]:
    """Consecutive views sharing intrinsics and size (one Blender animation render each)."""
    groups: list[list[CameraView]] = []
    for v in views:
        if groups and intrinsics_key(groups[-1][-1]) == intrinsics_key(v):
            groups[-1].append(v)
        else:
            groups.append([v])
    return groups


def set_cameras(bproc, views: list[CameraView]) -> None:
    """Intrinsics from K (exact, principal point may be off-centre) and one keyframed pose per view."""
    v0 = views[0]
    bproc.utility.reset_keyframes()
    bproc.camera.set_intrinsics_from_K_matrix(
        np.asarray(v0.K, dtype=float), v0.width, v0.height, clip_start=CLIP_START_M, clip_end=CLIP_END_M
    )
    for v in views:
        bproc.camera.add_camera_pose(cam2world_blender(v))


def _render_animation(filepath: str, n_frames: int) -> None:
    scene = bpy.context.scene
    scene.frame_start = 0
    scene.frame_end = n_frames - 1
    scene.render.filepath = filepath
    try:
        bpy.ops.render.render(animation=True, write_still=True)
    finally:
        scene.frame_end = n_frames


def render_beauty(rgb_dir: Path, n_frames: int) -> list[Path]:
    """The RGB pass with the current sampling settings; returns the PNG of each frame."""
    view_layer = bpy.context.view_layer
    view_layer.use_pass_z = False
    view_layer.use_pass_object_index = False
    _data_node().mute = True
    for node in bpy.context.scene.node_tree.nodes:
        if node.bl_idname == "CompositorNodeDenoise":
            node.mute = False
    _render_animation(str(rgb_dir / RGB_PREFIX), n_frames)
    return [rgb_dir / f"{RGB_PREFIX}{i:04d}.png" for i in range(n_frames)]


def render_data(tmp_dir: Path, n_frames: int) -> list[Path]:
    """The exact data pass (see module doc); returns the EXR of each frame. Restores the sampling settings."""
    scene, cycles, view_layer = bpy.context.scene, bpy.context.scene.cycles, bpy.context.view_layer
    saved = {
        k: getattr(cycles, k)
        for k in ("samples", "use_adaptive_sampling", "filter_width", "pixel_filter_type", "max_bounces")
    }
    saved_denoise = (cycles.use_denoising, view_layer.cycles.use_denoising)
    try:
        cycles.samples = 1
        cycles.use_adaptive_sampling = False
        cycles.pixel_filter_type = "BOX"
        cycles.filter_width = 0.01
        cycles.max_bounces = 0
        cycles.use_denoising = False
        view_layer.cycles.use_denoising = False
        view_layer.use_pass_z = True
        view_layer.use_pass_object_index = True
        node = _data_node()
        node.mute = False
        node.base_path = str(tmp_dir)
        for n in scene.node_tree.nodes:
            if n.bl_idname == "CompositorNodeDenoise":
                n.mute = True
        _render_animation(str(tmp_dir / "_discard_"), n_frames)
    finally:
        for k, v in saved.items():
            setattr(cycles, k, v)
        cycles.use_denoising, view_layer.cycles.use_denoising = saved_denoise
        for i in range(n_frames):
            junk = tmp_dir / f"_discard_{i:04d}.png"
            if junk.exists():
                junk.unlink()
    return [tmp_dir / f"{DATA_PREFIX}{i:04d}.exr" for i in range(n_frames)]


def decode_data_exr(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(instance mask uint16, depth uint16 in 0.1 mm with 0 = no surface or beyond 6.5535 m) from a data EXR."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise RuntimeError(f"cannot read data pass {path} (OpenCV without OpenEXR?)")
    index = img[..., 2]  # OpenCV gives BGR: R = object index
    depth = img[..., 1].astype(np.float64)
    mask = np.rint(index).astype(np.int64)
    if mask.min() < 0 or mask.max() > 65535:
        raise RuntimeError(f"object index out of uint16 range in {path}")
    units = np.rint(depth / DEPTH_SCALE_M)
    valid = np.isfinite(depth) & (depth > 0) & (units <= 65535)
    depth16 = np.where(valid, units, 0).astype(np.uint16)
    return mask.astype(np.uint16), depth16


def render_views(
    out_dir: Path,
    tmp_dir: Path,
    views: list[CameraView],
    timing: dict[str, float],
    beauty: Callable[[Path, int], list[Path]] = render_beauty,
) -> None:
    """One batch of views (the cameras set): the beauty pass (``beauty``, by default :func:`render_beauty`), the
    masks and depth (see the module doc), then the outputs; the seconds of each go to ``timing``'s ``render_rgb``,
    ``masks`` (z-buffer: what the beauty pass did not hide) or ``render_data`` (Cycles pass), and ``write``."""
    mode = os.environ.get(MASKS_ENV, "zbuffer")
    if mode == "cycles":
        _render_views_cycles(out_dir, tmp_dir, views, timing, beauty)
        return
    if mode != "zbuffer":
        raise ValueError(f"{MASKS_ENV} must be zbuffer or cycles, not {mode!r}")
    from legodata_render.surfaces import scene_triangles, write_view_maps

    t0 = time.perf_counter()
    triangles = scene_triangles()
    with ThreadPoolExecutor(max_workers=1) as pool:  # numpy and PNG encoding release the GIL, as does Cycles
        maps = pool.submit(write_view_maps, out_dir, triangles, views, write_png)
        t1 = time.perf_counter()
        rgb_files = beauty(out_dir / "rgb", len(views))
        t2 = time.perf_counter()
        maps.result()
    t3 = time.perf_counter()
    write_rgb(out_dir, views, rgb_files)
    timing["render_rgb"] += t2 - t1
    timing["masks"] = timing.get("masks", 0.0) + (t1 - t0) + (t3 - t2)
    timing["write"] += time.perf_counter() - t3


def _render_views_cycles(out_dir: Path, tmp_dir: Path, views, timing: dict[str, float], beauty) -> None:
    """:func:`render_views` with masks and depth from the Cycles data pass."""
    t0 = time.perf_counter()
    rgb_files = beauty(out_dir / "rgb", len(views))
    t1 = time.perf_counter()
    data_files = render_data(tmp_dir, len(views))
    t2 = time.perf_counter()
    timing["render_rgb"] += t1 - t0
    timing["render_data"] += t2 - t1
    write_views(out_dir, views, rgb_files, data_files)
    timing["write"] += time.perf_counter() - t2


def write_rgb(out_dir: Path, views: list[CameraView], rgb_files: list[Path]) -> None:
    """Each view's beauty render as ``rgb/<view id>.png``; Blender's own files are removed."""
    for view, rgb in zip(views, rgb_files):
        # Re-encode: Blender's PNGs carry a duplicate eXIf chunk that makes libpng warn on every read.
        write_png(out_dir / "rgb" / f"{view.view_id:04d}.png", cv2.imread(str(rgb), cv2.IMREAD_COLOR))
        rgb.unlink()


def write_views(out_dir: Path, views: list[CameraView], rgb_files: list[Path], data_files: list[Path]) -> None:
    """Each view's outputs as ``<view id>.png``: the beauty render in ``rgb/``, the instance mask in ``mask/`` and
    the depth in ``depth/`` (from the data pass); the passes' own files are removed."""
    write_rgb(out_dir, views, rgb_files)
    for view, data in zip(views, data_files):
        name = f"{view.view_id:04d}.png"
        mask, depth = decode_data_exr(data)
        write_png(out_dir / "mask" / name, mask)
        write_png(out_dir / "depth" / name, depth)
        data.unlink()


def write_result(out_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write ``result`` as the scene's ``WORKER_RESULT`` JSON in one rename; returns it."""
    atomic_write_text(out_dir / WORKER_RESULT, json.dumps(result, indent=1))
    return result


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a PNG atomically (temp name, then rename)."""
    tmp = path.with_name(path.stem + ".tmp.png")
    if not cv2.imwrite(str(tmp), image):
        raise RuntimeError(f"cannot write {path}")
    os.replace(tmp, path)
