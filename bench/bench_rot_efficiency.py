"""Sample efficiency of train-rot: a learning curve and fine-tuning from a synthetic run, in one run.

    python bench/bench_rot_efficiency.py PUBLISHED_DIR OTHER_DIR --minutes 4 [--sizes 500,2000,8000] [--out DIR]

1. Learning curve on PUBLISHED_DIR: the rotation model trained from scratch on the first N train crops for each
   N of ``--sizes`` (validation and test splits whole), ``--minutes`` each; today's head (harmonic) at every N and
   the former one (``--head grid``) at the smallest N.
2. Fine-tuning on OTHER_DIR (another render setting, e.g. ``legodata render --domain randomised``): the largest
   learning-curve run scored on OTHER's test split as it is (no fine-tuning), then trained on OTHER's first
   ``--finetune-crops`` train crops for ``--minutes`` from scratch and from that run's weights (``--weights``).

Prints one table per part and writes OUT/efficiency.json. Times are wall clock on this machine; the epochs and
samples seen are given beside them because machines of this kind differ in speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path


def _train(dataset: str, out: Path, minutes: float, train_limit: int | None, seed: int, **settings) -> dict:
    from legodata.train.loop import TrainConfig, train

    shutil.rmtree(out, ignore_errors=True)
    cfg = TrainConfig(
        task="rot", dataset=dataset, out=str(out), epochs=10_000, max_minutes=minutes, train_limit=train_limit,
        seed=seed, quiet=True, **settings,
    )  # fmt: skip
    t = time.monotonic()
    result = train(cfg)
    epochs = result["epochs_done"]
    rate = result["train_samples_per_s"] or 0.0
    return {
        "run": str(out),
        "wall_s": round(time.monotonic() - t, 1),
        "epochs": epochs,
        "samples_seen": (result.get("time") or {}).get("samples"),
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="published dataset (the synthetic source)")
    p.add_argument("other", help="published dataset of another render setting (fine-tuning target)")
    p.add_argument("--minutes", type=float, default=4.0, help="training budget of every run")
    p.add_argument("--sizes", default="500,2000,8000", help="train crops of the learning curve")
    p.add_argument("--finetune-crops", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench-efficiency")
    args = p.parse_args(argv)
    from legodata.train.evaluate import evaluate_run

    out = Path(args.out)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    report: dict = {"dataset": args.dataset, "other": args.other, "minutes": args.minutes, "curve": {}}
    for n in sizes:
        entry = _train(args.dataset, out / f"curve-{n}", args.minutes, n, args.seed)
        report["curve"][f"harmonic-{n}"] = entry
        print(_line(f"{n} crops, harmonic", entry), flush=True)
    entry = _train(args.dataset, out / f"curve-{sizes[0]}-grid", args.minutes, sizes[0], args.seed, head="grid")
    report["curve"][f"grid-{sizes[0]}"] = entry
    print(_line(f"{sizes[0]} crops, grid (before)", entry), flush=True)

    source = out / f"curve-{sizes[-1]}"
    as_is = evaluate_run(source, args.other, split="test", checkpoint="best", device="auto")
    fine = {"no fine-tuning": {"test": {k: v for k, v in as_is.items() if k != "per_part"}, "per_part": as_is.get(
        "per_part", {})}}  # fmt: skip
    print(_line(f"{args.other}: {sizes[-1]}-crop run, no fine-tuning", fine["no fine-tuning"]), flush=True)
    n = args.finetune_crops
    fine["from scratch"] = _train(args.other, out / "other-scratch", args.minutes, n, args.seed)
    print(_line(f"{args.other}: {n} crops from scratch", fine["from scratch"]), flush=True)
    weights = str(source / "best.pt")
    fine["fine-tuned"] = _train(args.other, out / "other-finetuned", args.minutes, n, args.seed, weights=weights)
    print(_line(f"{args.other}: {n} crops fine-tuned from the {sizes[-1]}-crop run", fine["fine-tuned"]), flush=True)
    report["finetune"] = fine
    out.mkdir(parents=True, exist_ok=True)
    (out / "efficiency.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out / 'efficiency.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
