"""Train both models on a published dataset within a time budget and print the test metrics.

    python bench/bench_train.py PUBLISHED_DIR --minutes 20 [--out runs/bench]
    python bench/bench_train.py --synthetic 400 --minutes 4      # shaded-cuboid scenes (tests/support/cuboids.py)

Half the budget goes to each model (the LR schedule follows the clock); evaluation time is not counted. Prints
mask IoU, rotation median error / acc@15 / acc@30 (symmetry-aware) on the test split and training samples/s,
and writes them to OUT/bench.json.

``--compare`` trains each model twice in the same run, each with the whole per-model budget: first with the
settings before 2026-11-30 (``--precision fp32``, and ``--head grid`` for rotations), then with today's defaults;
the report has both, per part. ``--arms today,parthead`` compares other settings (``ARMS``). ``--side-by-side``
runs a model's two runs at the same time, one core each (same conditions for both, half the wall time).
``--also DIR`` scores every run on another dataset's test split too (e.g. rendered with ``--domain randomised``
and another seed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", nargs="?", help="published dataset folder (or Hub id)")
    p.add_argument("--synthetic", type=int, default=0, help="make N synthetic train scenes instead")
    p.add_argument("--minutes", type=float, default=20.0, help="total training budget for both models")
    p.add_argument("--out", default="runs/bench")
    p.add_argument("--mask-size", type=int, default=128)
    p.add_argument("--rot-size", type=int, default=64)
    p.add_argument("--mask-batch", type=int, default=16)
    p.add_argument("--rot-batch", type=int, default=32)
    p.add_argument("--only", choices=["mask", "rot"], default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--compare", action="store_true", help="each model with the former settings, then today's")
    p.add_argument(
        "--side-by-side", action="store_true", help="with --compare: a model's two runs at once, one core each"
    )
    p.add_argument("--arms", default="before,today", help="with --compare: the two settings compared (see ARMS)")
    p.add_argument("--also", default=None, help="also score every run on this dataset's test split (generalisation)")
    p.add_argument("--limit", type=int, default=None, help="at most this many rows per split (quick runs)")
    p.add_argument("--train-limit", type=int, default=None, help="train on the first N train rows (little data)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    out = Path(args.out)
    dataset = args.dataset
    if args.synthetic:
        sys.path.insert(0, str(ROOT / "tests"))
        from support.cuboids import publish_cuboids

        n = args.synthetic
        dataset = str(out / "synthetic" / "published")
        if not Path(dataset, "README.md").is_file():
            t = time.monotonic()
            total = n + 2 * max(4, n // 10)  # n train scenes and a tenth each for validation and test, by group
            publish_cuboids(
                out / "synthetic", scenes=total, size=128, seed=args.seed, crop_size=64, split=(0.8, 0.1, 0.1)
            )
            print(f"synthetic dataset: {n} train scenes in {time.monotonic() - t:.1f} s -> {dataset}")
    if not dataset:
        p.error("give a DATASET folder or --synthetic N")

    models = [args.only] if args.only else ["mask", "rot"]
    minutes = args.minutes / len(models)
    arms = args.arms.split(",")
    unknown = [a for a in arms if a not in ARMS]
    if unknown or len(arms) != 2:
        p.error(f"--arms {args.arms!r}: two of {', '.join(ARMS)}")
    tasks = [f"{m}-{v}" for m in models for v in arms] if args.compare else models
    report: dict = {"dataset": dataset, "minutes_per_model": minutes, "threads": os.cpu_count()}
    report["side_by_side"] = bool(args.side_by_side and args.compare)
    if report["side_by_side"]:  # the two runs of a model at once, one core each: same conditions for both
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        for model in models:
            pair = [f"{model}-{arm}" for arm in arms]
            with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(run_one, name, dataset, out, minutes, args, 1) for name in pair]
                for name, future in zip(pair, futures):
                    report[name] = future.result()
                    print_entry(name, report[name])
    else:
        for name in tasks:
            report[name] = run_one(name, dataset, out, minutes, args)
            print_entry(name, report[name])
    print(time_table(report, tasks))
    print(per_part_table(report, tasks))
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out / 'bench.json'}")
    return 0


# --compare's settings: before 2026-11-30 (fp32, and the grid head for rotations), today's defaults, and the mask
# model with the part head (every pixel's part class learnt beside the query's mask; --part-head), with the second
# look (the colour head's and the query's pieces, a part classifier keeps the queried part's; --second-look), with
# both, and both without the colour head (the second look as first built)
ARMS = {
    "before": {"head": "grid", "precision": "fp32"},
    "today": {},
    "parthead": {"part_head": True},
    "secondlook": {"second_look": True},
    "both": {"part_head": True, "second_look": True},
    "both-nocolour": {"part_head": True, "second_look": True, "colour_head": False},  # the second look of 2026-12-01
}
MASK_ONLY = ("part_head", "second_look", "colour_head")


def run_one(name: str, dataset: str, out: Path, minutes: float, args, threads: int | None = None) -> dict:
    """Train run ``name`` (``mask``, ``rot``, or ``<model>-before|today``) and score it; its report entry."""
    import shutil

    from legodata.train.loop import TrainConfig, train

    if threads:
        import torch

        torch.set_num_threads(threads)
    task, _, variant = name.partition("-")
    run = out / name
    shutil.rmtree(run, ignore_errors=True)
    arm = {k: v for k, v in ARMS[variant].items() if task == "mask" or k not in MASK_ONLY} if variant else {}
    cfg = TrainConfig(
        task=task, dataset=dataset, out=str(run), epochs=10_000, max_minutes=minutes, seed=args.seed,
        image_size=args.mask_size if task == "mask" else args.rot_size,
        batch_size=args.mask_batch if task == "mask" else args.rot_batch,
        lr=2e-3 if task == "mask" else 1e-3, quiet=args.quiet, workers=args.workers, limit=args.limit,
        train_limit=args.train_limit,
        **arm,
    )  # fmt: skip
    t = time.monotonic()
    result = train(cfg)
    test = result.get("test", {})
    entry = {
        "wall_s": time.monotonic() - t,
        "epochs": result["epochs_done"],
        "samples_per_s": result["train_samples_per_s"],
        "samples_seen": (result.get("time") or {}).get("samples"),
        "test": {k: v for k, v in test.items() if k != "per_part"},
        "per_part": test.get("per_part", {}),
        "time": result.get("time"),
    }
    if "second_look" in result:  # the chooser's training and the U-Net's test IoU before it
        entry["second_look"] = result["second_look"]
    if args.also:
        from legodata.train.evaluate import evaluate_run

        also = evaluate_run(run, args.also, split="test", checkpoint="best")
        entry["also"] = {k: v for k, v in also.items() if k != "per_part"}
    return entry


def print_entry(name: str, entry: dict) -> None:
    test, nan = entry["test"], float("nan")
    seen = f"{entry['epochs']} epochs ({entry['samples_seen']} samples), {entry['samples_per_s']:.1f} samples/s"
    if name.startswith("mask"):
        print(
            f"{name}: test IoU {test.get('iou', nan):.3f} over {test.get('n', 0)} queries ({test.get('misses', '-')} "
            f"below 0.5, the rest at {test.get('iou_found', nan):.3f}), {seen}"
        )
    else:
        print(
            f"{name}: test median {test.get('median_deg', nan):.1f} deg, acc@15 {test.get('acc15', nan):.3f}, "
            f"acc@30 {test.get('acc30', nan):.3f}, flips {test.get('flips', '-')} over {test.get('n', 0)} crops, "
            f"{seen}"
        )
    if "second_look" in entry:
        print(f"{name} second look: {json.dumps(entry['second_look'])}")
    if "also" in entry:
        print(f"{name} on the --also test split: {json.dumps(entry['also'])}")
    sys.stdout.flush()


def per_part_table(report: dict, names: list[str]) -> str:
    """Markdown table: the test metric of every run per part (IoU / misses below 0.5; rotation median / acc@15 /
    flips)."""
    parts = sorted({p for n in names for p in report[n]["per_part"]})
    rows = ["| part | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for part in parts:
        cells = []
        for n in names:
            m = report[n]["per_part"].get(part)
            if m is None:
                cells.append("-")
            elif "iou" in m:
                cells.append(f"{m['iou']:.3f} / {m.get('misses', '-')} of {m['n']}")
            else:
                cells.append(f"{m['median_deg']:.1f} deg / {100 * m['acc15']:.0f}% / {m.get('flips', '-')} of {m['n']}")
        rows.append(f"| {part} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def time_table(report: dict, tasks: list[str]) -> str:
    """Markdown table: samples/s and the share of wall time per phase, one row per model."""
    phases = ("data", "forward", "backward", "evaluation", "other")
    rows = ["| model | samples/s | " + " | ".join(phases) + " |", "|---" * (len(phases) + 2) + "|"]
    for task in tasks:
        t = report[task].get("time") or {}
        shares = " | ".join(f"{100 * (t.get(f'{p}_share') or 0):.1f} %" for p in phases)
        rows.append(f"| {task} | {t.get('samples_per_s') or 0:.1f} | {shares} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
