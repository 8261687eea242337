"""A route to the masks that lost its A/B (kept so it can be re-measured): parse the scene, then choose.

    python bench/bench_colour_parser.py DATASET [--minutes 12] [--chooser-minutes 3] [--size 128] [--threads 1]

Trains a U-Net without a query (the mask model's own network, its FiLM fed a constant query) to give every pixel its
colour class (0 the background, else the colour's index), one image per sample rather than one query, for
``--minutes``; then the second look's chooser (:mod:`legodata.train.chooser`) on the train split's instance crops for
``--chooser-minutes``. A query (part, colour) is answered by the chooser among the 8-connected pieces of the pixels
parsed as its colour. Prints (and writes to ``--out``, JSON) the parser's epochs and images/s, its mask of every
instance of each test query's colour against the truth, the oracle over its pieces (those lying mostly on the
query's truth: the ceiling of any chooser) and the route's test IoU, misses and per-part IoU, on the same test split
and IoU as ``bench/bench_train.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def colour_maps(samples) -> np.ndarray:
    """(N, S, S) int64: every pixel's colour index (0 background or an instance no query covers)."""
    out = np.zeros(samples.labels.shape, np.int64)
    for q in range(len(samples)):
        n = samples.scene[q]
        out[n][np.isin(samples.labels[n], samples.instance_ids[q])] = samples.colour[q]
    return out


def train_parser(net, images: np.ndarray, targets: np.ndarray, seconds: float, batch: int = 16, lr: float = 2e-3):
    """``net`` trained on (images, colour maps) with AdamW, bf16 autocast, left-right flips and the training
    loop's schedule (3% warm-up, cosine to 2%) over ``seconds``: ``(epochs, images seen, seconds)``."""
    import torch

    from legodata.train.loop import _schedule
    from legodata.train.tensors import image_tensor

    y_all = torch.from_numpy(targets)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    start, seen, epochs, done = time.monotonic(), 0, 0, False
    net.train()
    while not done:
        order = torch.randperm(len(images))
        for s in range(0, len(order) - batch + 1, batch):
            p = (time.monotonic() - start) / seconds
            if p >= 1:
                done = True
                break
            for g in opt.param_groups:
                g["lr"] = lr * _schedule(p)
            idx = order[s : s + batch]
            x, y = image_tensor(images[idx.numpy()]), y_all[idx]
            if rng.random() < 0.5:
                x, y = x.flip(3), y.flip(2)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = parse(net, x.contiguous(memory_format=torch.channels_last))
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(idx)
        epochs += not done
    return epochs, seen, time.monotonic() - start


def parse(net, x):
    """Colour-class logits (B, colours + 1, S, S) of images ``x`` (B, 3, S, S) in [-1, 1]."""
    import torch

    b = len(x)
    none = torch.zeros(b, dtype=torch.long)
    return net(x, none, none, torch.zeros(b, 3), with_parts=True)[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="a published dataset (train and test splits of the scenes config)")
    p.add_argument("--minutes", type=float, default=12.0, help="the parser's training budget")
    p.add_argument("--chooser-minutes", type=float, default=3.0)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=None, help="train on the first N train rows")
    p.add_argument("--out", default="colour_parser.json")
    args = p.parse_args(argv)

    import cv2
    import torch

    from legodata.train import chooser, data, metrics
    from legodata.train.models import MaskUNet
    from legodata.train.tensors import image_tensor

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    splits = data.open_dataset(args.dataset, "scenes")
    vocab = data.scenes_vocab(splits["train"])
    train = data.build_mask_samples(splits["train"], vocab, args.size, limit=args.train_limit)
    test = data.build_mask_samples(splits["test"], vocab, args.size)
    n_colours = len(vocab.colour_codes)
    # the part head of a U-Net of n_colours "parts" has n_colours + 1 outputs: the colour classes
    net = MaskUNet(n_colours, n_colours, part_head=True).to(memory_format=torch.channels_last)
    epochs, seen, took = train_parser(net, train.images, colour_maps(train), args.minutes * 60)
    net.eval()
    x_test = image_tensor(test.images)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        parsed = torch.cat([parse(net, x_test[i : i + 16]).float().argmax(1) for i in range(0, len(x_test), 16)])
    parsed = parsed.numpy()

    look, report = chooser.train_chooser(
        *chooser.instance_crops(train), len(vocab.part_names), "cpu", args.chooser_minutes * 60, epochs=0
    )
    same_colour = test.colour_instance_ids()
    union, ceiling, chosen = [], [], []
    for q in range(len(test)):
        n, truth = test.scene[q], test.target(q)
        mine = parsed[n] == test.colour[q]
        union.append(metrics.iou(mine[None], np.isin(test.labels[n], same_colour[q])[None])[0])
        count, labels = cv2.connectedComponents(mine.astype(np.uint8), connectivity=8)
        on_truth = [c for c in range(1, count) if truth[labels == c].mean() > 0.5]
        ceiling.append(metrics.iou(np.isin(labels, on_truth)[None], truth[None])[0])
        answer = chooser.choose(mine, test.images[n], int(test.part[q]), look, "cpu")
        chosen.append(metrics.iou(answer[None], truth[None])[0])
    m = metrics.mask_metrics(np.asarray(chosen), test.part, test.part_names)
    result = {
        "dataset": args.dataset,
        "parser": {"epochs": epochs, "images_seen": seen, "images_per_s": round(seen / took, 1)},
        "chooser": report.to_json(),
        "colour_union_iou": float(np.mean(union)),
        "oracle_over_pieces": {"iou": float(np.mean(ceiling)), "misses": int((np.asarray(ceiling) < 0.5).sum())},
        "test": m,
    }
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
