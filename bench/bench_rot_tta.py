"""A/B of test-time in-plane averaging for a trained rotation run, both arms in one process on the same crops.

    python bench/bench_rot_tta.py RUN_DIR DATASET [--split test] [--limit N]

Prints median error, acc@15, acc@30, the count of flips (errors > 150 degrees) and seconds for the plain model and
for the model averaged over the four quarter turns of each crop (legodata/train/tta.py), and per part medians.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("dataset")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--checkpoint", default="best")
    args = p.parse_args(argv)

    from legodata.train import data, metrics
    from legodata.train.evaluate import load_run
    from legodata.train.tasks import task_of_run

    _, model, model_config, device = load_run(args.run_dir, args.checkpoint)
    task = task_of_run("rot", model_config)
    vocab = data.Vocab.from_json(model_config)
    dsd = data.open_dataset(args.dataset, task.dataset.name)
    samples = task.dataset.samples(dsd[args.split], vocab, model_config["image_size"], args.limit, "")
    print(f"{len(samples)} crops of split {args.split}")
    for name, tta in (("plain", False), ("quarter-turn averaging", True)):
        t = time.monotonic()
        pred = task.predict_allo(model, samples, device, 64, tta=tta)
        seconds = time.monotonic() - t
        err = metrics.symmetric_angle_deg(pred, samples.R_allo, samples.sym)
        m = metrics.rotation_metrics(err, samples.part, samples.part_names)
        per_part = ", ".join(f"{k} {v['median_deg']:.1f}" for k, v in m["per_part"].items())
        print(
            f"{name}: median {m['median_deg']:.1f} deg, acc@15 {m['acc15']:.3f}, acc@30 {m['acc30']:.3f}, "
            f"flips (>150 deg) {int((err > 150).sum())}, {seconds:.1f} s; per part: {per_part}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
