"""Render throughput per preset at 256x256 against BlenderProc's default settings, in one run, same scenes.

    .venv/bin/python bench/bench_render.py --scenes 4 --views 4            # presets vs BlenderProc defaults
    .venv/bin/python bench/bench_render.py --memory-frames 500             # peak RSS over a long run

Prints a table (seconds per frame, frames per second, ratio to BlenderProc defaults, share of wall time
outside Cycles) and writes bench/results/render.json. Everything runs through the public API, so masks,
depth and ground truth are included in the times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import legodata
from legodata.store.store import Store

PRESETS = ("fast", "default", "high", "blenderproc-defaults")


def worker_timings(root: Path) -> dict[str, float]:
    """Sum the worker's per-scene timings (build, physics, render, write) over a store."""
    totals: dict[str, float] = {}
    for scene in Store(root).scene_ids():
        timing = json.loads((root / "scenes" / scene / "worker.json").read_text()).get("timing_s", {})
        for key, value in timing.items():
            totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def run_preset(preset: str, scenes: int, views: int, resolution: int, seed: int, workdir: Path) -> dict:
    out = workdir / preset
    start = time.monotonic()
    summary = legodata.render(
        str(out), scenes=scenes, views=views, resolution=resolution, seed=seed, preset=preset, progress=False
    )
    wall = time.monotonic() - start
    frames = summary.frames_rendered
    timings = worker_timings(out)
    sampling = timings.get("cycles", timings.get("render", float("nan")))
    return {
        "preset": preset,
        "frames": frames,
        "wall_s": wall,
        "s_per_frame": wall / frames,
        "fps": frames / wall,
        "worker_timing_s": timings,
        "share_outside_cycles": 1.0 - sampling / wall,
    }


def sample_rss(stop: threading.Event, samples: list) -> None:
    import psutil

    me = psutil.Process()
    while not stop.is_set():
        rss = 0
        workers = 0
        for child in me.children(recursive=True):
            try:
                rss += child.memory_info().rss
                workers += 1
            except psutil.Error:
                pass
        samples.append((time.monotonic(), me.memory_info().rss, rss, workers))
        stop.wait(1.0)


def run_memory(frames: int, views: int, resolution: int, seed: int, workdir: Path, preset: str) -> dict:
    scenes = max(1, frames // views)
    samples: list = []
    stop = threading.Event()
    thread = threading.Thread(target=sample_rss, args=(stop, samples), daemon=True)
    thread.start()
    start = time.monotonic()
    # One worker for the whole run (no recycling), so any growth per scene shows.
    summary = legodata.render(
        str(workdir / "memory"),
        scenes=scenes,
        views=views,
        resolution=resolution,
        seed=seed,
        preset=preset,
        max_scenes_per_worker=10**6,
    )
    stop.set()
    thread.join()
    worker = [s[2] for s in samples if s[3] > 0]
    tenth = max(1, len(worker) // 10)
    at = {
        f"worker_rss_at_{q}pct_mb": worker[min(len(worker) - 1, len(worker) * q // 100)] / 2**20 for q in (10, 50, 90)
    }
    return {
        **at,
        "frames": summary.frames_rendered,
        "wall_s": time.monotonic() - start,
        "preset": preset,
        "parent_peak_rss_mb": max(s[1] for s in samples) / 2**20,
        "worker_peak_rss_mb": max(worker) / 2**20,
        "worker_rss_first_tenth_mb": sum(worker[:tenth]) / tenth / 2**20,
        "worker_rss_last_tenth_mb": sum(worker[-tenth:]) / tenth / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--memory-frames", type=int, default=0, help="also run this many frames, sampling RSS")
    parser.add_argument("--memory-preset", default="fast")
    parser.add_argument("--keep", help="keep the rendered stores in this directory")
    args = parser.parse_args()

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="legodata-bench-"))
    results = {"resolution": args.resolution, "scenes": args.scenes, "views": args.views, "presets": []}
    try:
        if args.presets:
            for preset in args.presets.split(","):
                row = run_preset(preset, args.scenes, args.views, args.resolution, args.seed, workdir)
                results["presets"].append(row)
                print(json.dumps(row), flush=True)
            base = next((r for r in results["presets"] if r["preset"] == "blenderproc-defaults"), None)
            print(f"\n{'preset':<22} {'s/frame':>8} {'frames/s':>9} {'speed-up':>9} {'outside Cycles':>15}")
            for r in results["presets"]:
                ratio = base["s_per_frame"] / r["s_per_frame"] if base else float("nan")
                print(
                    f"{r['preset']:<22} {r['s_per_frame']:>8.2f} {r['fps']:>9.2f} {ratio:>8.1f}x "
                    f"{100 * r['share_outside_cycles']:>14.0f}%"
                )
        if args.memory_frames:
            mem = run_memory(args.memory_frames, args.views, args.resolution, args.seed, workdir, args.memory_preset)
            results["memory"] = mem
            print(json.dumps(mem, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "render.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
