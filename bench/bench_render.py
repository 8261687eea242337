"""Cost per frame of each preset at 256x256 against BlenderProc's default settings, in one run, same scenes.

    .venv/bin/python bench/bench_render.py                       # 100 frames per preset, 24 for the baseline (~10 min)
    .venv/bin/python bench/bench_render.py --ab-masks fast,default   # + the former Cycles mask/depth pass, same run
    .venv/bin/python bench/bench_render.py --presets "" --memory-frames 500   # peak RSS over a long run

Prints, per preset: seconds per frame, the ratio to BlenderProc's defaults (whose run is only the denominator, so it
may be shorter: ``--baseline-frames``), the share of wall time outside Cycles' beauty sampling and where that time
went, CPU seconds per frame (worker and parent; steadier than wall time on a shared machine), and the load average
around each row. Writes bench/results/render.json. Everything runs through the public API (one worker), so
start-up, masks, depth, PNGs and all ground truth are in the times.

Wall time outside the beauty pass = wall - the worker's ``render_rgb`` seconds. It is split into the worker's
``build`` + ``physics``, ``masks`` (z-buffer time the beauty pass did not hide) or ``render_data`` (the Cycles data
pass of ``--ab-masks`` rows), ``write`` (PNGs), and the rest: starting the worker (Blender, BlenderProc), sampling
specs, the parent's records (a silhouette per part and view) and
commits. What a process does once (imports, the parts' symmetry groups: ``per_process_s``) is done and timed
before the first row, so no row pays for it; add it to a row for a single short run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import legodata
from legodata.store.store import Store

PRESETS = ("fast", "default", "high", "blenderproc-defaults")
BASELINE = "blenderproc-defaults"
MASKS_ENV = "LEGODATA_MASKS"  # read by the worker (legodata_render.passes)
STAGES = ("build", "physics", "masks", "render_data", "write")


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the workers): less sensitive to a loaded machine than
    wall time, and what a cluster bills."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def worker_timings(root: Path) -> dict[str, float]:
    """Sum the worker's per-scene timings (build, physics, render_rgb, masks, write, ...) over a store."""
    store = Store(root)
    totals: dict[str, float] = {}
    for scene in store.scene_ids():
        timing = json.loads((store.scene_dir(scene) / "worker.json").read_text()).get("timing_s", {})
        for key, value in timing.items():
            totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def per_process_setup() -> dict[str, float]:
    """Time (and do, so that no row pays for it) what a render process does once: import the render job, build the
    default parts with their symmetry groups (cached per process)."""
    t0 = time.monotonic()
    import legodata.jobs.render_job  # noqa: F401  (what legodata.render imports)
    from legodata.config import RenderConfig
    from legodata.parts.catalogue import get_part, parse_part_list

    t1 = time.monotonic()
    for pid in parse_part_list(RenderConfig(out="-").parts):
        get_part(pid)
    return {"imports": t1 - t0, "part_catalogue": time.monotonic() - t1}


def run_preset(preset: str, frames: int, views: int, resolution: int, seed: int, workdir: Path, masks: str) -> dict:
    """Render ``frames`` (rounded up to whole scenes of ``views``) with ``preset``; masks by ``masks``."""
    out = workdir / f"{preset}-{masks}"
    scenes = max(1, -(-frames // views))
    load_before = load()
    saved = os.environ.get(MASKS_ENV)
    os.environ[MASKS_ENV] = masks
    try:
        cpu0 = cpu_seconds()
        start = time.monotonic()
        summary = legodata.render(
            str(out), scenes=scenes, views=views, resolution=resolution, seed=seed, preset=preset, progress=False
        )
        wall = time.monotonic() - start
        cpu = cpu_seconds() - cpu0
    finally:
        os.environ.pop(MASKS_ENV) if saved is None else os.environ.__setitem__(MASKS_ENV, saved)
    n = summary.frames_rendered
    timings = worker_timings(out)
    beauty = timings.get("render_rgb", float("nan"))
    outside = {k: timings.get(k, 0.0) / n for k in STAGES}
    outside["start-up, parent, records"] = (wall - beauty - sum(timings.get(k, 0.0) for k in STAGES)) / n
    return {
        "preset": preset,
        "masks": masks,
        "frames": n,
        "failed_scenes": summary.scenes_failed,
        "wall_s": wall,
        "s_per_frame": wall / n,
        "cpu_s_per_frame": cpu / n,
        "beauty_s_per_frame": beauty / n,
        "share_outside_beauty": 1.0 - beauty / wall,
        "outside_s_per_frame": outside,
        "worker_timing_s": timings,
        "load_before": load_before,
        "load_after": load(),
    }


def print_table(rows: list[dict]) -> None:
    base = next((r for r in rows if r["preset"] == BASELINE and r["masks"] == "zbuffer"), None)
    head = f"{'preset':<22} {'masks':<8} {'frames':>6} {'s/frame':>8} {'vs BP':>7} {'outside beauty':>15}"
    print(f"\n{head} {'CPU s/frame':>12} {'vs BP':>7}  load before -> after")
    for r in rows:
        ratio = base["s_per_frame"] / r["s_per_frame"] if base else float("nan")
        cpu_ratio = base["cpu_s_per_frame"] / r["cpu_s_per_frame"] if base else float("nan")
        print(
            f"{r['preset']:<22} {r['masks']:<8} {r['frames']:>6} {r['s_per_frame']:>8.3f} {ratio:>6.1f}x "
            f"{100 * r['share_outside_beauty']:>14.1f}% {r['cpu_s_per_frame']:>12.3f} {cpu_ratio:>6.1f}x  "
            f"{r['load_before']} -> {r['load_after']}"
        )
    print("\nwall time outside the beauty pass, s/frame:")
    for r in rows:
        parts = ", ".join(f"{k} {v:.4f}" for k, v in r["outside_s_per_frame"].items() if v)
        print(f"  {r['preset']:<22} {r['masks']:<8} {parts}")
    if base:
        print(f"\n{BASELINE} ran {base['frames']} frames: only the denominator of 'vs BP' (BlenderProc defaults).")


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
    parser.add_argument("--frames", type=int, default=100, help="frames per preset (whole scenes of --views)")
    parser.add_argument("--baseline-frames", type=int, default=24, help="frames with BlenderProc's defaults")
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--ab-masks", default="", help="presets to run again with the Cycles mask/depth pass")
    parser.add_argument("--memory-frames", type=int, default=0, help="also run this many frames, sampling RSS")
    parser.add_argument("--memory-preset", default="fast")
    parser.add_argument("--keep", help="keep the rendered stores in this directory")
    args = parser.parse_args()

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="legodata-bench-"))
    results: dict = {"resolution": args.resolution, "views": args.views, "load_at_start": load(), "presets": []}
    results["per_process_s"] = per_process_setup()
    print(json.dumps({"per_process_s": results["per_process_s"], "load": load()}), flush=True)
    runs = [(p, "zbuffer") for p in args.presets.split(",") if p]
    runs += [(p, "cycles") for p in args.ab_masks.split(",") if p]
    try:
        for preset, masks in runs:
            frames = args.baseline_frames if preset == BASELINE else args.frames
            row = run_preset(preset, frames, args.views, args.resolution, args.seed, workdir, masks)
            results["presets"].append(row)
            print(json.dumps(row), flush=True)
        if runs:
            print_table(results["presets"])
        if args.memory_frames:
            mem = run_memory(args.memory_frames, args.views, args.resolution, args.seed, workdir, args.memory_preset)
            results["memory"] = mem
            print(json.dumps(mem, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    results["load_at_end"] = load()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "render.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
