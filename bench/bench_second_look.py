"""How much a second look would add to a mask run: a part classifier on crops of the predicted mask's pieces.

    python bench/bench_second_look.py RUN_DIR DATASET [--minutes 3] [--source-size 128] [--threads 2]

The mask model's typical error is identity: a query also masks another part of the queried colour. This measures
the direction "predict, then choose": every connected piece of a predicted mask is cropped (the publisher's square
crop, 48 px, masked as the rotation model's input) and a small CNN, trained for ``--minutes`` on the train split's
instance crops (random quarter turns), says which part it is; pieces it gives the queried part less than 0.5 are
dropped (if it drops them all, the likeliest stays). Prints the test split's IoU and misses (IoU below 0.5) as
predicted, after the second look, and with an oracle that keeps exactly the pieces lying mostly on the truth (the
most any chooser of pieces can reach), and the classifier's instance accuracy; writes ``--out`` (JSON).
``--source-size`` is the scene size the crops come from (the mask model always sees 128 px).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

CROP = 48
MASK_SIZE = 128


def crop_of(image: np.ndarray, mask: np.ndarray, size: int = CROP) -> tuple[np.ndarray, np.ndarray]:
    """The publisher's square crop around the boolean ``mask`` (its box's longer side + 10% on each side), scaled to
    ``size``: (RGB, 0/1 mask)."""
    from legodata.geometry import crops
    from legodata.train.predict import mask_box

    box = mask_box(mask)
    return crops.crop_image(image, box, size), (crops.crop_mask(mask.astype(np.uint8), 1, box, size) > 0).astype(
        np.uint8
    )


def instance_crops(samples):
    """Every visible instance (4 px or more) of the samples' scenes as a classifier input, with its part index."""
    import torch

    from legodata.train import data

    xs, ys = [], []
    for q in range(len(samples)):
        n = samples.scene[q]
        for i in samples.instance_ids[q]:
            m = samples.labels[n] == i
            if m.sum() >= 4:
                xs.append(data.rotation_input(*crop_of(samples.images[n], m)))
                ys.append(int(samples.part[q]))
    return torch.stack(xs), torch.tensor(ys)


def classifier(n_parts: int):
    """Four stride-2 stages of two 3x3 convolutions (32-128 channels), mean-pooled, one logit per part."""
    import torch

    nn = torch.nn
    layers, cin = [], 4
    for c in (32, 64, 128, 128):
        layers += [nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        cin = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, n_parts))


def train_classifier(x, y, n_parts: int, minutes: float, seed: int = 0):
    """AdamW at 2e-3, cosine over the clock, batches of 64 turned by a random quarter turn; (model, epochs, crops/s)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = classifier(n_parts)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    t0, seen, epochs, budget = time.monotonic(), 0, 0, minutes * 60
    while time.monotonic() - t0 < budget:
        order = torch.randperm(len(x))
        model.train()
        for start in range(0, len(x) - 63, 64):
            done = (time.monotonic() - t0) / budget
            if done >= 1:
                break
            for group in opt.param_groups:
                group["lr"] = 2e-3 * 0.5 * (1 + np.cos(np.pi * done))
            idx = order[start : start + 64]
            batch = torch.rot90(x[idx], int(rng.integers(4)), (2, 3))
            loss = torch.nn.functional.cross_entropy(model(batch), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(idx)
        epochs += 1
    return model.eval(), epochs, seen / (time.monotonic() - t0)


def choose_pieces(pred: np.ndarray, image: np.ndarray, part: int, model, truth: np.ndarray):
    """(second look, oracle) masks from the predicted ``pred`` (128 px): its 8-connected pieces kept by the
    classifier on ``image`` (any size), and those mostly on ``truth``."""
    import cv2
    import torch

    from legodata.geometry.crops import resize
    from legodata.train import data

    n, labels = cv2.connectedComponents(pred.astype(np.uint8), connectivity=8)
    pieces = [labels == c for c in range(1, n)]
    chosen, oracle = np.zeros_like(pred), np.zeros_like(pred)
    if not pieces:
        return chosen, oracle
    size = image.shape[0]
    up = [resize(p, size, nearest=True) for p in pieces]
    with torch.no_grad():
        x = torch.stack([data.rotation_input(*crop_of(image, p)) for p in up])
        prob = torch.softmax(model(x), 1)[:, part].numpy()
    for piece, p in zip(pieces, prob):
        if p >= 0.5:
            chosen |= piece
        if (piece & truth).sum() > 0.5 * piece.sum():
            oracle |= piece
    return (chosen if chosen.any() else pieces[int(prob.argmax())]), oracle


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a train-mask RUN_DIR (its best.pt)")
    p.add_argument("dataset", help="the published dataset it was trained on (train and test splits)")
    p.add_argument("--minutes", type=float, default=3.0, help="the classifier's training budget")
    p.add_argument("--source-size", type=int, default=MASK_SIZE, help="scene size the crops are cut from")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="second_look.json")
    args = p.parse_args(argv)

    import torch

    from legodata.train import data, metrics
    from legodata.train.evaluate import load_run

    torch.set_num_threads(args.threads)
    task, model, model_config, device = load_run(args.run, "best", "cpu")
    vocab = data.Vocab.from_json(model_config)
    splits = data.open_dataset(args.dataset, "scenes")
    train_src = data.build_mask_samples(splits["train"], vocab, args.source_size)
    test_src = data.build_mask_samples(splits["test"], vocab, args.source_size)
    test = test_src if args.source_size == MASK_SIZE else data.build_mask_samples(splits["test"], vocab, MASK_SIZE)
    x, y = instance_crops(train_src)
    chooser, epochs, rate = train_classifier(x, y, len(vocab.part_names), args.minutes)
    tx, ty = instance_crops(test_src)
    with torch.no_grad():
        accuracy = float((chooser(tx).argmax(1) == ty).float().mean())
    pred = task.predict(model, test, np.arange(len(test)), device, 32)
    ious: dict[str, list[float]] = {"predicted": [], "second_look": [], "oracle": []}
    for q in range(len(test)):
        truth = test.target(q)
        image = test_src.images[test_src.scene[q]]
        chosen, oracle = choose_pieces(pred[q], image, int(test.part[q]), chooser, truth)
        for name, mask in (("predicted", pred[q]), ("second_look", chosen), ("oracle", oracle)):
            ious[name].append(float(metrics.iou(mask[None], truth[None])[0]))
    report = {
        "run": args.run,
        "classifier": {"train_crops": len(x), "epochs": epochs, "crops_per_s": rate, "test_accuracy": accuracy},
        **{
            k: {"iou": float(np.mean(v)), "misses": int((np.array(v) < 0.5).sum()), "n": len(v)}
            for k, v in ious.items()
        },
    }
    print(json.dumps(report, indent=2))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
