"""Cycles settings from a spec's :class:`~legodata.core.spec.RenderSettings`: samples, denoiser, bounces,
adaptive sampling, threads and device."""

from __future__ import annotations

import os

import bpy

from legodata.core.protocol import THREADS_ENV
from legodata.core.spec import RenderSettings

GPU_TYPES = ("OPTIX", "CUDA", "HIP", "METAL")
# How spec.denoiser=True is realised: "cycles" = Cycles' built-in OpenImageDenoise (fast, no compositor),
# "compositor" = BlenderProc's compositor Denoise node (what bproc.renderer.set_denoiser("INTEL") does); the
# default, as it measured faster (1.1 vs 1.5-2.1 s/frame at 16 spp, 256x256, 2 threads).
DENOISER_ENV = "LEGODATA_DENOISER"
PREFILTER_ENV = "LEGODATA_OIDN_PREFILTER"  # NONE | FAST | ACCURATE for our presets (defaults keep ACCURATE)
PERSISTENT_ENV = "LEGODATA_PERSISTENT_DATA"  # "0" turns Cycles persistent data off (benchmarks)

_device_done: str | None = None


class DeviceError(RuntimeError):
    """device=gpu was asked for but Cycles found no GPU."""


def set_device(device: str) -> str:
    """Select the Cycles device for ``auto | cpu | gpu``; returns "CPU" or "GPU:<type>"."""
    global _device_done
    if _device_done is not None and _device_done.split("=")[0] == device:
        return _device_done.split("=")[1]
    scene = bpy.context.scene
    prefs = bpy.context.preferences.addons["cycles"].preferences
    chosen = "CPU"
    if device not in ("auto", "cpu", "gpu"):
        raise ValueError(f"render device must be auto, cpu or gpu, not {device!r}")
    if device != "cpu":
        for kind in GPU_TYPES:
            try:
                devices = prefs.get_devices_for_type(kind)
            except (TypeError, ValueError):  # type not compiled into this build
                continue
            gpus = [d for d in devices if d.type != "CPU"]
            if gpus:
                prefs.compute_device_type = kind
                for d in devices:
                    d.use = d.type != "CPU"
                chosen = f"GPU:{kind}"
                break
    if chosen == "CPU":
        if device == "gpu":
            raise DeviceError(f"render device 'gpu' requested but Cycles found no {'/'.join(GPU_TYPES)} device")
        prefs.compute_device_type = "NONE"
        scene.cycles.device = "CPU"
    else:
        scene.cycles.device = "GPU"
    _device_done = f"{device}={chosen}"
    return chosen


def thread_count(settings: RenderSettings) -> int:
    """Threads for Cycles: the spec's value, else the parent's ``THREADS_ENV``, else 0 (all)."""
    if settings.threads > 0:
        return int(settings.threads)
    try:
        return max(0, int(os.environ.get(THREADS_ENV, "0")))
    except ValueError:
        return 0


def apply_render_settings(bproc, settings: RenderSettings) -> dict:
    """Configure the beauty (RGB) render. ``samples <= 0`` keeps BlenderProc's own defaults (1024 spp, adaptive
    threshold 0.01, compositor OIDN, its bounce limits) -- the benchmark baseline. Returns what was set."""
    from blenderproc.python.utility.DefaultConfig import DefaultConfig

    scene = bpy.context.scene
    cycles = scene.cycles
    device = set_device(settings.device)
    threads = thread_count(settings)
    bproc.renderer.set_cpu_threads(threads)
    # Switching persistent data off frees what the previous scene left in Cycles, so a scene renders the same pixels
    # in a fresh worker as after other scenes (recycled workers, --workers, resumed runs); views still share it.
    scene.render.use_persistent_data = False
    scene.render.use_persistent_data = os.environ.get(PERSISTENT_ENV, "1") != "0"
    if settings.samples <= 0:
        bproc.renderer.set_max_amount_of_samples(DefaultConfig.samples)
        bproc.renderer.set_noise_threshold(DefaultConfig.sampling_noise_threshold)
        bproc.renderer.set_light_bounces(
            DefaultConfig.diffuse_bounces,
            DefaultConfig.glossy_bounces,
            DefaultConfig.ao_bounces_render,
            DefaultConfig.max_bounces,
            DefaultConfig.transmission_bounces,
            DefaultConfig.transparency_bounces,
            DefaultConfig.volume_bounces,
        )
        denoiser, prefilter = "compositor", "ACCURATE"
    else:
        bproc.renderer.set_max_amount_of_samples(int(settings.samples))
        bproc.renderer.set_noise_threshold(float(settings.adaptive_threshold))
        b = int(settings.max_bounces)
        bproc.renderer.set_light_bounces(
            diffuse_bounces=b, glossy_bounces=b, ao_bounces_render=0, max_bounces=b, transmission_bounces=b
        )
        denoiser = os.environ.get(DENOISER_ENV, "compositor") if settings.denoiser else "none"
        prefilter = os.environ.get(PREFILTER_ENV, "FAST")
    cycles.pixel_filter_type = "BLACKMAN_HARRIS"
    cycles.filter_width = 1.5
    _set_denoiser(bproc, denoiser, prefilter)
    return {"device": device, "threads": threads, "denoiser": denoiser, "samples": cycles.samples}


def _set_denoiser(bproc, mode: str, prefilter: str) -> None:
    scene = bpy.context.scene
    if mode == "compositor":
        nodes = [n for n in scene.node_tree.nodes if n.bl_idname == "CompositorNodeDenoise"] if scene.use_nodes else []
        if not nodes:
            bproc.renderer.set_denoiser("INTEL")
            nodes = [n for n in scene.node_tree.nodes if n.bl_idname == "CompositorNodeDenoise"]
        for node in nodes:
            node.prefilter = prefilter
        scene.cycles.use_denoising = False
    else:
        bproc.renderer.set_denoiser(None)  # removes compositor denoise nodes, turns Cycles denoising off
        if mode == "cycles":  # measured slower than the compositor node with the bpy 4.2 wheel
            scene.cycles.use_denoising = True
            bpy.context.view_layer.cycles.use_denoising = True
            scene.cycles.denoiser = "OPENIMAGEDENOISE"
            scene.cycles.denoising_input_passes = "RGB_ALBEDO_NORMAL"
            scene.cycles.denoising_prefilter = "ACCURATE"
        elif mode != "none":
            raise ValueError(f"{DENOISER_ENV} must be cycles or compositor, not {mode!r}")
