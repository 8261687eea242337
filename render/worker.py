"""The render worker process: ``python -m legodata_render.worker --root STORE_ROOT [--log FILE]``.

Protocol: :mod:`legodata.core.protocol` (a ``RenderRequest`` line on stdin is answered by a ``RenderAnswer``
line on the original stdout). Blender's own output goes to ``--log`` (or stderr), never into the protocol
stream. EOF on stdin ends the worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from legodata.core.protocol import RenderAnswer, RenderRequest
from legodata.core.spec import SceneSpec, load_spec

PHYSICS = {
    "collision_shape": "CONVEX_HULL",
    "collision_margin": 0.0002,
    "friction": 0.5,
    "min_simulation_time": 1.0,
    "max_simulation_time": 10.0,
    "check_object_interval": 1.0,
    "object_stopped_location_threshold": 0.001,
    "object_stopped_rotation_threshold": 0.05,
    "substeps_per_frame": 20,
    "solver_iters": 20,
}

_ready = False


def _ensure_ready():
    """Bootstrap BlenderProc and initialise the Blender scene once per process."""
    global _ready
    from legodata_render.bootstrap import load_blenderproc

    bproc = load_blenderproc()
    if not _ready:
        from legodata_render.passes import setup_compositor

        bproc.init()
        bproc.renderer.set_output_format(file_format="PNG", color_depth=8, enable_transparency=False)
        import bpy

        bpy.context.scene.view_settings.view_transform = "Standard"  # part colours as given (sRGB)
        setup_compositor()
        _ready = True
    return bproc


def _simulate(bproc, built, fixed: tuple[int, ...] = ()) -> None:
    import bpy
    from blenderproc.python.types.MeshObjectUtility import MeshObject

    for instance_id, name in built.part_objects.items():
        MeshObject(bpy.data.objects[name]).enable_rigidbody(
            instance_id not in fixed,  # fixed parts (an assembly's build) stay put: passive colliders
            collision_shape=PHYSICS["collision_shape"],
            collision_margin=PHYSICS["collision_margin"],
            friction=PHYSICS["friction"],
        )
    MeshObject(bpy.data.objects["table"]).enable_rigidbody(
        False, collision_shape="BOX", collision_margin=0.0, friction=PHYSICS["friction"]
    )
    bproc.object.simulate_physics_and_fix_final_poses(
        **{k: v for k, v in PHYSICS.items() if k not in ("collision_shape", "collision_margin", "friction")}
    )


def render_scene(spec: SceneSpec | str | Path, root: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Render every view of ``spec`` into ``out_dir`` (rgb/, mask/, depth/, worker.json); returns worker.json's
    content. Everything created in Blender for the scene is removed afterwards."""
    import bpy
    from legodata_render import passes, scene_builder, settings

    if not isinstance(spec, SceneSpec):
        spec = load_spec(spec)
    root, out_dir = Path(root), Path(out_dir)
    bproc = _ensure_ready()
    if spec.style == "manual":
        from legodata_render.manual import render_manual

        return render_manual(bproc, spec, root, out_dir, _scratch_dir())
    timing = {"build": 0.0, "physics": 0.0, "render": 0.0, "render_rgb": 0.0, "render_data": 0.0, "write": 0.0}
    for sub in ("rgb", "mask", "depth"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    built = scene_builder.build_scene(spec, root)
    tmp = Path(tempfile.mkdtemp(prefix="data-", dir=_scratch_dir()))
    try:
        applied = settings.apply_render_settings(bproc, spec.render)
        timing["build"] = time.perf_counter() - t0
        if spec.physics:
            t0 = time.perf_counter()
            if spec.domain is not None:  # distractors: passive colliders, the parts may land on them
                from legodata_render.domain_builder import make_colliders

                make_colliders(built)
            _simulate(bproc, built, spec.fixed_parts)
            timing["physics"] = time.perf_counter() - t0
        poses = scene_builder.part_poses(built)
        for views in passes.group_views(spec.views):
            passes.set_cameras(bproc, views)
            passes.render_views(out_dir, tmp, views, timing)
        if spec.domain is not None:  # camera effects: the RGB only, after both passes
            from legodata_render.domain_builder import apply_effects

            t0 = time.perf_counter()
            apply_effects(spec, out_dir)
            timing["write"] += time.perf_counter() - t0
        timing["render"] = timing["render_rgb"] + timing["render_data"]
        result = {
            "scene_id": spec.scene_id,
            "parts": poses,
            "timing_s": {k: round(v, 4) for k, v in timing.items()},
            "blender_version": bpy.app.version_string,
            "render": applied,
        }
        return passes.write_result(out_dir, result)
    finally:
        scene_builder.remove_scene(built)
        shutil.rmtree(tmp, ignore_errors=True)


def _scratch_dir() -> str | None:
    from legodata_render.bootstrap import temp_dir

    return temp_dir()


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " | ")
    return text[:2000]


def serve(root: Path, requests, answer) -> None:
    """Answer each request line from ``requests`` through ``answer(RenderAnswer)``."""
    for line in requests:
        if not line.strip():
            continue
        try:
            req = RenderRequest.from_line(line)
            result = render_scene(req.spec, root, req.out)
            reply = RenderAnswer(ok=True, out=req.out, timing_s=result["timing_s"])
        except Exception as exc:  # one bad scene must not kill the worker
            traceback.print_exc()
            sys.stderr.flush()
            reply = RenderAnswer(ok=False, error=_one_line(exc))
        answer(reply)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="legodata_render.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="store root; spec mesh paths are relative to it")
    parser.add_argument("--log", help="file for Blender's output (default: stderr)")
    args = parser.parse_args(argv)

    # Keep the real stdout for the protocol; everything else that writes to fd 1 (Blender, Cycles, print) goes
    # to the log.
    sys.stdout.flush()
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    if args.log:
        fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    else:
        os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)

    def answer(reply: RenderAnswer) -> None:
        sys.stdout.flush()
        protocol.write(reply.to_line())
        protocol.flush()

    try:
        _ensure_ready()
    except Exception as exc:
        traceback.print_exc()
        print(f"render worker failed to start: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 1
    serve(Path(args.root), sys.stdin, answer)
    # bpy can crash during interpreter teardown (exit code 139); finish our own cleanup and leave directly.
    from legodata_render.bootstrap import cleanup

    cleanup()
    protocol.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
