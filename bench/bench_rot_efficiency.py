"""Sample efficiency of train-rot: a learning curve and fine-tuning from a synthetic run, in one run.

    python bench/bench_rot_efficiency.py PUBLISHED_DIR OTHER_DIR --minutes 4 [--sizes 500,2000,8000]
        [--curve-minutes 4,8,20] [--out DIR]

1. Learning curve on PUBLISHED_DIR: the rotation model trained from scratch on the first N train crops for each
   N of ``--sizes`` (validation and test splits whole), ``--curve-minutes`` each (one value, or one per size: more
   crops need more time to be seen as often); today's head (harmonic) at every N and the former one
   (``--head grid``) at the smallest N.
2. Fine-tuning on OTHER_DIR (another render setting, e.g. ``legodata render --domain randomised``): the largest
   learning-curve run scored on OTHER's test split as it is (no fine-tuning), then trained on OTHER's first
   ``--finetune-crops`` train crops for ``--minutes`` from scratch and from that run's weights (``--weights``).

With ``--side-by-side`` two runs train at a time, one core each. Writes OUT/efficiency.json. Times are wall clock
on this machine; the epochs and samples seen are given beside them because machines of this kind differ in speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path


def _train(
    dataset: str,
    out: Path,
    minutes: float,
    train_limit: int | None,
    seed: int,
    threads: int = 0,
    reuse: bool = False,
    **settings,
) -> dict:
    """Train one rotation run from scratch (or ``settings["weights"]``) and score it; its report entry. With
    ``reuse``, a finished run in ``out`` (its ``metrics.json``) is read instead."""
    import torch

    from legodata.train.loop import TrainConfig, train

    if threads:
        torch.set_num_threads(threads)
    t = time.monotonic()
    if reuse and (out / "metrics.json").is_file():
        result = json.loads((out / "metrics.json").read_text())
    else:
        shutil.rmtree(out, ignore_errors=True)
        cfg = TrainConfig(
            task="rot", dataset=dataset, out=str(out), epochs=10_000, max_minutes=minutes, train_limit=train_limit,
            seed=seed, quiet=True, **settings,
        )  # fmt: skip
        result = train(cfg)
    epochs = result["epochs_done"]
    rate = result["train_samples_per_s"] or 0.0
    return {
        "run": str(out),
        "wall_s": round((result.get("time") or {}).get("wall_s") or time.monotonic() - t, 1),
        "best_epoch": result["best_epoch"],
        "epochs": epochs,
        "samples_seen": (result.get("time") or {}).get("samples"),
        "train_crops": json.loads((out / "config.json").read_text())["data"]["train_samples_per_epoch"],
        "samples_per_s": round(rate, 1),
        "test": {k: v for k, v in result["test"].items() if k != "per_part"},
        "per_part": result["test"].get("per_part", {}),
    }


def _line(name: str, entry: dict) -> str:
    t = entry["test"]
    seen = f", {entry['epochs']} epochs, {entry['samples_seen']} samples seen" if "epochs" in entry else ""
    return (
        f"{name}: test median {t['median_deg']:.1f} deg, acc@15 {100 * t['acc15']:.1f}%, acc@30 "
        f"{100 * t['acc30']:.1f}% ({t['n']} crops){seen}, {entry.get('samples_per_s', '-')} samples/s"
    )


def _run_all(runs: dict, args, threads: int) -> dict:
    """Train every run ``name: (dataset, out, train_limit, minutes, settings)``, two at a time with
    ``--side-by-side`` (longest first, so the pair's ends meet)."""
    calls = {n: ((d, o, m, k, args.seed, threads, args.reuse), kw) for n, (d, o, k, m, kw) in runs.items()}
    if not args.side_by_side:
        return {n: _train(*a, **kw) for n, (a, kw) in calls.items()}
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        longest_first = sorted(runs, key=lambda n: -runs[n][3])
        futures = {n: pool.submit(_train, *calls[n][0], **calls[n][1]) for n in longest_first}
        return {n: futures[n].result() for n in runs}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="published dataset (the synthetic source)")
    p.add_argument("other", help="published dataset of another render setting (fine-tuning target)")
    p.add_argument("--minutes", type=float, default=4.0, help="training budget of the fine-tuning runs")
    p.add_argument("--sizes", default="500,2000,8000", help="train crops of the learning curve")
    p.add_argument("--curve-minutes", default=None, help="budget of each curve run: one value or one per size")
    p.add_argument("--finetune-crops", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench-efficiency")
    p.add_argument("--side-by-side", action="store_true", help="two runs at a time, one core each")
    p.add_argument("--reuse", action="store_true", help="read the runs already finished in --out (metrics.json)")
    args = p.parse_args(argv)
    from legodata.train.evaluate import evaluate_run

    out = Path(args.out)
    sizes = [int(s) for s in args.sizes.split(",")]
    minutes = [float(m) for m in (args.curve_minutes or str(args.minutes)).split(",")]
    if len(minutes) not in (1, len(sizes)) or sizes != sorted(sizes):
        p.error("--sizes ascending, and --curve-minutes one value or one per size")
    budget = dict(zip(sizes, minutes * len(sizes) if len(minutes) == 1 else minutes))
    report: dict = {"dataset": args.dataset, "other": args.other, "minutes": args.minutes, "curve": {}}
    report["curve_minutes"] = {str(n): m for n, m in budget.items()}
    report["side_by_side"] = args.side_by_side
    threads = 1 if args.side_by_side else 0
    runs = {f"harmonic-{n}": (args.dataset, out / f"curve-{n}", n, budget[n], {}) for n in sizes}
    small = sizes[0]
    runs[f"grid-{small}"] = (args.dataset, out / f"curve-{small}-grid", small, budget[small], {"head": "grid"})
    for name, entry in _run_all(runs, args, threads).items():
        entry["minutes"] = runs[name][3]
        report["curve"][name] = entry
        print(_line(f"{entry['train_crops']} crops, {name.split('-')[0]}, {entry['minutes']:g} min", entry), flush=True)

    source = out / f"curve-{sizes[-1]}"
    as_is = evaluate_run(source, args.other, split="test", checkpoint="best", device="auto")
    fine = {"no fine-tuning": {"test": {k: v for k, v in as_is.items() if k != "per_part"}, "per_part": as_is.get(
        "per_part", {})}}  # fmt: skip
    print(_line(f"{args.other}: {sizes[-1]}-crop run, no fine-tuning", fine["no fine-tuning"]), flush=True)
    n = args.finetune_crops
    runs = {
        "from scratch": (args.other, out / "other-scratch", n, args.minutes, {}),
        "fine-tuned": (args.other, out / "other-finetuned", n, args.minutes, {"weights": str(source / "best.pt")}),
    }
    for name, entry in _run_all(runs, args, threads).items():
        fine[name] = entry
        print(_line(f"{args.other}: {entry['train_crops']} crops, {name}", entry), flush=True)
    report["finetune"] = fine
    out.mkdir(parents=True, exist_ok=True)
    (out / "efficiency.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out / 'efficiency.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
