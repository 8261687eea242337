"""Sim-to-real benchmark (issue 17): does training on randomised renders shrink the gap on held-out randomisations?

    python bench/bench_sim2real.py --out runs/sim2real                      # smoke size: minutes on 2 cores
    python bench/bench_sim2real.py --out runs/sim2real --train-scenes 500 --test-scenes 50 --views 4 \\
        --resolution 256 --minutes 20

In one run, with the same settings everywhere but ``--domain``:

1. renders a clean and a randomised training store (same seed, same parts and poses), an in-distribution test store
   of each (another seed) and a ``--domain shift`` test store (randomisations held out from training), timing
   seconds per frame of each;
2. publishes the two training stores (train/validation only: the test sets are the test stores);
3. trains a mask and a rotation model on each with the same budget (``--minutes`` per model, the LR schedule follows
   the clock);
4. scores every model on every test store with ``legodata evaluate RUN STORE`` (the store published with the run's
   training settings, all of its records);
5. prints and writes OUT/sim2real.json and OUT/sim2real.md: test IoU, rotation median and acc@15 per model and test
   set, the gap (in-distribution minus shift), and render seconds per frame randomised vs clean.

Stages already done in OUT are reused (delete a folder to redo it); render timings are kept in OUT/render.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

DOMAINS = ("clean", "randomised")
TEST_SETS = ("clean-test", "randomised-test", "shift-test")


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/sim2real")
    p.add_argument("--train-scenes", type=int, default=6)
    p.add_argument("--test-scenes", type=int, default=3)
    p.add_argument("--views", type=int, default=2)
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--parts", default="3001,3003,3020,3039")
    p.add_argument("--colours", default="1,4,14,15,71")
    p.add_argument("--parts-per-scene", default="2,4")
    p.add_argument("--preset", default="fast")
    p.add_argument("--backgrounds", default=None, help="folder of images for the randomised training store")
    p.add_argument("--workers", type=int, default=1, help="render worker processes")
    p.add_argument("--minutes", type=float, default=0.5, help="training budget per model (wall clock)")
    p.add_argument(
        "--epochs", type=int, default=None,
        help="budget in epochs instead of minutes: the same samples seen by both models, whatever the machine's load",
    )  # fmt: skip
    p.add_argument("--mask-size", type=int, default=128)
    p.add_argument("--rot-size", type=int, default=64)
    p.add_argument("--crop-size", type=int, default=128, help="published crop size")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def render_all(args, out: Path) -> dict:
    """The five stores; returns {store: {frames, wall_s, s_per_frame}} (kept in OUT/render.json across re-runs)."""
    from legodata.api import render

    timings_path = out / "render.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    lo, hi = (int(x) for x in args.parts_per_scene.split(","))
    plan = {
        "clean-train": ("clean", args.train_scenes, args.seed),
        "randomised-train": ("randomised", args.train_scenes, args.seed),
        "clean-test": ("clean", args.test_scenes, args.seed + 1000),
        "randomised-test": ("randomised", args.test_scenes, args.seed + 1000),
        "shift-test": ("shift", args.test_scenes, args.seed + 2000),
    }
    for name, (domain, scenes, seed) in plan.items():
        extra = {"backgrounds": args.backgrounds} if args.backgrounds and name == "randomised-train" else {}
        summary = render(
            str(out / "stores" / name), scenes=scenes, views=args.views, resolution=args.resolution, seed=seed,
            parts=args.parts, colours=args.colours, parts_per_scene=(lo, hi), preset=args.preset,
            workers=args.workers, domain=domain, **extra,
        )  # fmt: skip
        if summary.frames_rendered:
            timings[name] = {"domain": domain, "frames": summary.frames_rendered, "wall_s": summary.wall_s}
            timings[name]["s_per_frame"] = summary.wall_s / summary.frames_rendered
            print(f"rendered {name}: {summary.frames_rendered} frames, {timings[name]['s_per_frame']:.2f} s/frame")
        timings_path.parent.mkdir(parents=True, exist_ok=True)
        timings_path.write_text(json.dumps(timings, indent=1) + "\n")
    return timings


def publish_training(args, out: Path) -> dict[str, Path]:
    from legodata.publish import publish

    published = {}
    for domain in DOMAINS:
        folder = out / "published" / domain
        if not (folder / "publish.json").is_file():
            publish([out / "stores" / f"{domain}-train"], folder, split="0.85,0.15,0", seed=args.seed,
                    crop_size=args.crop_size, min_px=50)  # fmt: skip
        published[domain] = folder
    return published


def train_all(args, out: Path, published: dict[str, Path]) -> dict[str, Path]:
    from legodata.train.loop import TrainConfig, train

    runs = {}
    for domain in DOMAINS:
        for task in ("mask", "rot"):
            run = out / "runs" / f"{task}-{domain}"
            runs[f"{task}-{domain}"] = run
            if (run / "metrics.json").is_file():
                continue
            cfg = TrainConfig(
                task=task, dataset=str(published[domain]), out=str(run), epochs=args.epochs or 100_000,
                max_minutes=None if args.epochs else args.minutes,
                image_size=args.mask_size if task == "mask" else args.rot_size, seed=args.seed, device="cpu",
                quiet=True,
            )  # fmt: skip
            t = time.monotonic()
            result = train(cfg)
            print(f"trained {task}-{domain}: {result['epochs_done']} epochs in {time.monotonic() - t:.0f} s")
    return runs


def evaluate_all(out: Path, runs: dict[str, Path]) -> dict:
    from legodata.evaluate_store import evaluate_store

    scores: dict = {}
    for name, run in runs.items():
        for test in TEST_SETS:
            r = evaluate_store(run, str(out / "stores" / test), split="all", device="cpu")
            keep = ("iou", "n") if name.startswith("mask") else ("median_deg", "acc15", "acc30", "n")
            scores.setdefault(name, {})[test] = {k: r[k] for k in keep}
            print(f"{name} on {test}: {r['summary']}")
    return scores


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def table(scores: dict, timings: dict) -> str:
    """The results as Markdown: one row per model, one column per test set, and the in-distribution - shift gap."""
    lines = [
        "| model | metric | clean-test | randomised-test | shift-test | gap (shift worse by) |",
        "|---|---|---|---|---|---|",
    ]
    for domain in DOMAINS:
        own = f"{domain}-test"
        for task, metric, digits, sign in (("mask", "iou", 3, 1), ("rot", "median_deg", 1, -1), ("rot", "acc15", 3, 1)):
            s = scores[f"{task}-{domain}"]
            cells = [_fmt(s[t][metric], digits) for t in TEST_SETS]
            gap = sign * (s[own][metric] - s["shift-test"][metric])  # positive: worse on the shift set
            lines.append(f"| {task} trained {domain} | {metric} | " + " | ".join(cells) + f" | {_fmt(gap, digits)} |")
    clean, rand = timings.get("clean-train", {}), timings.get("randomised-train", {})
    if clean and rand:
        ratio = rand["s_per_frame"] / clean["s_per_frame"]
        lines.append("")
        lines.append(
            f"Render: randomised {rand['s_per_frame']:.2f} s/frame, clean {clean['s_per_frame']:.2f} s/frame "
            f"({ratio:.2f}x), training stores ({rand['frames']} and {clean['frames']} frames)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    load = os.getloadavg()
    timings = render_all(args, out)
    published = publish_training(args, out)
    runs = train_all(args, out, published)
    scores = evaluate_all(out, runs)
    text = table(scores, timings)
    report = {
        "settings": vars(args),
        "render": timings,
        "scores": scores,
        "load_at_start": load,
        "load_at_end": os.getloadavg(),
        "wall_s": time.monotonic() - t0,
    }
    (out / "sim2real.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "sim2real.md").write_text(text + "\n")
    print(text)
    print(f"load average at start {load[0]:.2f}, at end {os.getloadavg()[0]:.2f}; written {out / 'sim2real.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
