"""Overhead of ``render --executor ray`` against the local executor (``--workers 1``) on this machine, same scenes,
one run.

    .venv/bin/python bench/bench_ray.py                          # 6 scenes x 2 views, 128 px, preset fast
    .venv/bin/python bench/bench_ray.py --scenes 20 --views 4 --resolution 256 --preset default

Rows: the local render (one worker process, all cores); Ray start-up alone (``ray.init`` of a local Ray, as the
command does without ``--address``); the Ray render on that running Ray (tasks, one render worker process per task,
results streamed back); and the whole Ray command (start-up + render + shutdown). Ratios are to the local render. An
untimed one-scene render warms up first. Both renders must give byte-identical stores (checked). Prints the load
average around each row (the machine may be shared) and writes bench/results/ray.json.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from legodata.config import RenderConfig
from legodata.jobs.render_job import run_render


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def same_scenes(a: Path, b: Path) -> bool:
    """Every file under scenes/ and specs/ equal, less the worker's timing file."""
    names = sorted(p.relative_to(a) for d in ("scenes", "specs") for p in (a / d).rglob("*") if p.is_file())
    names = [n for n in names if not n.name.endswith("worker.json")]
    other = sorted(p.relative_to(b) for d in ("scenes", "specs") for p in (b / d).rglob("*") if p.is_file())
    other = [n for n in other if not n.name.endswith("worker.json")]
    return names == other and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    import ray

    work = Path(tempfile.mkdtemp(prefix="bench_ray_"))
    base = RenderConfig(
        out="", scenes=args.scenes, views=args.views, resolution=args.resolution, seed=args.seed,
        parts="3001,3003,3039,3069b", parts_per_scene=(3, 4), preset=args.preset, workers=1,
    )  # fmt: skip
    rows = []

    def row(name: str, seconds: float, before: str) -> None:
        rows.append({"row": name, "wall_s": round(seconds, 2), "load_before": before, "load_after": load()})

    try:
        # untimed: the first render in a process pays one-time costs (imports, part meshes, a cold page cache for
        # Blender's libraries) that would otherwise land on whichever executor runs first
        run_render(RenderConfig(**{**base.__dict__, "out": str(work / "warm-up"), "scenes": 1}), progress=False)
        before = load()
        t0 = time.perf_counter()
        local = run_render(RenderConfig(**{**base.__dict__, "out": str(work / "local")}), progress=False)
        row("local --workers 1", time.perf_counter() - t0, before)

        before = load()
        t0 = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        row("ray start-up (ray.init)", time.perf_counter() - t0, before)
        before = load()
        t0 = time.perf_counter()
        on_ray = run_render(RenderConfig(**{**base.__dict__, "out": str(work / "ray"), "executor": "ray"}), False)
        row("ray render (running Ray)", time.perf_counter() - t0, before)
        before = load()
        t0 = time.perf_counter()
        ray.shutdown()
        row("ray shutdown", time.perf_counter() - t0, before)
        assert local.scenes_rendered == on_ray.scenes_rendered == args.scenes, (local, on_ray)
        assert same_scenes(work / "local", work / "ray"), "the Ray store differs from the local one"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ref = rows[0]["wall_s"]
    total = sum(r["wall_s"] for r in rows[1:])
    rows.append({"row": "ray command (start + render + shutdown)", "wall_s": round(total, 2)})
    frames = args.scenes * args.views
    setting = f"{args.scenes} scenes x {args.views} views, {args.resolution} px, preset {args.preset}"
    print(f"{setting}, {os.cpu_count()} cores")
    print(f"{'row':<42} {'wall s':>8} {'s/frame':>8} {'x local':>8}  load before -> after")
    for r in rows:
        loads = f"{r['load_before']} -> {r['load_after']}" if "load_before" in r else ""
        print(f"{r['row']:<42} {r['wall_s']:8.2f} {r['wall_s'] / frames:8.3f} {r['wall_s'] / ref:8.2f}  {loads}")
    out = Path(__file__).parent / "results" / "ray.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "cores": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
