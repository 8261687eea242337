"""How much the second look adds to a mask run, and the most any chooser of pieces could add.

    python bench/bench_second_look.py RUN_DIR DATASET [--minutes 3] [--threads 2] [--source-size 256]

Trains the chooser of ``train-mask --second-look`` (:mod:`legodata.train.chooser`: a small part classifier on the
train split's instance crops) for ``--minutes`` beside an existing run (trained with or without the flag; ``--minutes
0`` takes the run's own ``chooser.pt``), then
prints the test split's IoU and misses (IoU below 0.5) as the U-Net predicted them, after the second look, and with
an oracle that keeps exactly the pieces lying mostly on the truth (the ceiling of any chooser of pieces; a run with
the colour head offers the pieces of its mask of every instance of the queried colour too), and the
chooser's accuracy on the test split's instances; writes ``--out`` (JSON). ``--source-size`` trains and runs the
chooser on crops of the dataset's images at that size (the U-Net's pieces scaled up to it) instead of the U-Net's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def oracle(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The 8-connected pieces of ``pred`` lying mostly (over half their pixels) on ``truth``."""
    import cv2

    n, labels = cv2.connectedComponents(pred.astype(np.uint8), connectivity=8)
    keep = [c for c in range(1, n) if (truth[labels == c]).mean() > 0.5]
    return np.isin(labels, keep)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a train-mask RUN_DIR (its best.pt)")
    p.add_argument("dataset", help="the published dataset it was trained on (train and test splits)")
    p.add_argument("--minutes", type=float, default=3.0, help="the chooser's training budget; 0: the run's chooser.pt")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--source-size", type=int, default=0, help="cut the chooser's crops from images of this size")
    p.add_argument("--out", default="second_look.json")
    args = p.parse_args(argv)

    import torch

    from legodata.train import chooser, data, metrics
    from legodata.train.evaluate import load_run

    torch.set_num_threads(args.threads)
    task, model, model_config, device = load_run(args.run, "best", "cpu", second_look=False)  # the U-Net's masks
    vocab, size = data.Vocab.from_json(model_config), int(model_config["image_size"])
    splits = data.open_dataset(args.dataset, "scenes")
    test = data.build_mask_samples(splits["test"], vocab, size)
    crop_size = args.source_size or size
    train = data.build_mask_samples(splits["train"], vocab, crop_size) if args.minutes else None
    crop_test = test if crop_size == size else data.build_mask_samples(splits["test"], vocab, crop_size)
    n_parts = len(vocab.part_names)
    if args.minutes:
        x, y = chooser.instance_crops(train)
        look, report = chooser.train_chooser(x, y, n_parts, device, args.minutes * 60, epochs=0)
        report = report.to_json()
    else:  # the run's own chooser
        look, report = chooser.load_chooser(Path(args.run) / chooser.CHOOSER_FILE, n_parts, device)
    tx, ty = chooser.instance_crops(crop_test)
    accuracy = float((chooser.part_probabilities(look, tx, device).argmax(1) == ty.numpy()).mean())
    pred, same_colour = task.predict_masks(model, test, np.arange(len(test)), device, 32, task.colour_head)
    ious: dict[str, list[float]] = {"predicted": [], "second_look": [], "oracle": []}
    for q in range(len(test)):
        truth, image = test.target(q), test.images[test.scene[q]]
        pool = None if same_colour is None else same_colour[q]  # a run with the colour head: its pieces too
        source = None if crop_test is test else crop_test.images[test.scene[q]]
        chosen = chooser.choose(pred[q], image, int(test.part[q]), look, device, pool, source)
        candidates = pred[q] if pool is None else pred[q] | pool
        for name, mask in (("predicted", pred[q]), ("second_look", chosen), ("oracle", oracle(candidates, truth))):
            ious[name].append(float(metrics.iou(mask[None], truth[None])[0]))
    result = {
        "run": args.run,
        "chooser": {**report, "test_instance_accuracy": accuracy, "keep": chooser.KEEP, "crops_from_px": crop_size},
        **{
            k: {"iou": float(np.mean(v)), "misses": int((np.array(v) < 0.5).sum()), "n": len(v)}
            for k, v in ious.items()
        },
    }
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
