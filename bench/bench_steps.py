"""Seconds per assembly step (manual page + observation) against plain scenes of the same part count, in one run.

    .venv/bin/python bench/bench_steps.py [--builds 6] [--resolution 256] [--manual-resolution 384] [--preset fast]

Random builds from the built-in parts are rendered through ONE render worker, request by request, exactly as
``legodata render-steps`` does (manual pages with Workbench + the exact mask pass, one callout sheet per build,
observations with Cycles and the physics drop of the loose parts, then page composition and labels). Then, through
the same worker, one plain ``render --orientation resting`` scene per observation with the same number of parts
(all dropped by physics), same resolution and preset. The first build only warms the worker up (shader compiles)
and is not counted. Times are wall clock per worker request, seen from the parent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from legodata.assembly.random_builds import GRID_PARTS
from legodata.core.atomic import atomic_write_text
from legodata.jobs.steps_job import StepsConfig, make_assemblies
from legodata.jobs.steps_model import _context, _model_specs, compose_pages
from legodata.jobs.steps_parts import prepare_store, resolve_catalogue
from legodata.jobs.worker_client import WorkerClient
from legodata.scene.sampler import PartGeometry, SamplerConfig, sample_scene, scene_rng
from legodata.sources.assembly import model_records


def _render(client, spec, spec_dir: Path, out: Path) -> float:
    path = spec_dir / f"{spec.scene_id}.json"
    atomic_write_text(path, spec.to_json())
    t0 = time.perf_counter()
    answer = client.render(path, out)
    if not answer.ok:
        raise RuntimeError(answer.error)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builds", type=int, default=6, help="measured builds (one more warms up)")
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--manual-resolution", type=int, default=384)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", help="work directory (default: a temporary one)")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-steps-"))
    cfg = StepsConfig(
        out=str(work / "store"), random_builds=args.builds + 1, resolution=args.resolution,
        manual_resolution=args.manual_resolution, preset=args.preset, seed=args.seed,
    )  # fmt: skip
    assemblies = make_assemblies(cfg)
    cat = resolve_catalogue(cfg, assemblies)
    store = prepare_store(cfg, cat)
    spec_dir = work / "specs"
    spec_dir.mkdir(exist_ok=True)
    client = WorkerClient(store.root, work / "worker.log", max(1, os.cpu_count() or 1))
    per_step, manual, obs, callout, labels, counts = [], [], [], [], [], []
    try:
        for i, (group, a) in enumerate(assemblies):
            ws, specs = _model_specs(cfg, cat, i, group, a)
            tmp = work / "out" / group
            t = {"manual": 0.0, "callout": 0.0, "obs": 0.0}
            for sub, spec in specs:
                dt = _render(client, spec, spec_dir, tmp / sub)
                t[sub.split("/")[0]] += dt
                if i and sub.startswith("manual/"):
                    manual.append(dt)
                if i and sub.startswith("obs/"):
                    obs.append(dt)
                    counts.append(len(spec.parts))
            t0 = time.perf_counter()
            compose_pages(tmp, a, cfg.manual_resolution)
            model_records(_context(cfg, cat, group, a, ws, specs), tmp, f"out/{group}")
            t_labels = time.perf_counter() - t0
            if i:  # build 0 warms the worker up
                callout.append(t["callout"])
                labels.append(t_labels)
                per_step.append((sum(t.values()) + t_labels) / a.n_steps)
        geometry = {p: PartGeometry(p, cat.meshes[p].vertices, cat.looks[p].mesh_path) for p in GRID_PARTS}
        colours = tuple((c, cat.colours[c][1]) for c in (0, 1, 4, 14, 15))
        plain = []
        for k, n_parts in enumerate(counts):
            sc = SamplerConfig(
                part_ids=tuple(GRID_PARTS), colours=colours, orientation="resting", parts_per_scene=(n_parts, n_parts),
                views=1, width=args.resolution, height=args.resolution,
            )  # fmt: skip
            spec = sample_scene(scene_rng(args.seed, k), sc, geometry, cfg.render_settings(), k, args.seed)
            plain.append(_render(client, spec, spec_dir, work / "plain" / f"{k:04d}"))
    finally:
        client.close()
    steps = sum(a.n_steps for _, a in assemblies[1:])
    mean = statistics.mean
    print(f"{args.builds} builds, {steps} steps, {len(obs)} observations ({mean(counts):.1f} parts each), "
          f"{args.resolution}px observations, {args.manual_resolution}px pages, preset {args.preset}")  # fmt: skip
    print(f"seconds per step (page + observation + callout share + labels): {mean(per_step):.2f} "
          f"(median {statistics.median(per_step):.2f})")  # fmt: skip
    print(f"  manual page (Workbench + mask pass): {mean(manual):.3f} s")
    print(f"  observation (physics + Cycles + mask pass): {mean(obs):.3f} s")
    print(f"  callout sheet per build: {mean(callout):.3f} s; composing pages + labels per build: {mean(labels):.3f} s")
    print(f"plain resting scene with the same part count: {mean(plain):.3f} s")
    print(f"observation / plain scene: {mean(obs) / mean(plain):.2f}x; step / plain scene: "
          f"{mean(per_step) / mean(plain):.2f}x")  # fmt: skip
    print(f"per-observation part counts: min {min(counts)}, max {max(counts)}; work dir {work}")


if __name__ == "__main__":
    main()
