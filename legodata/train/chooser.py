"""The mask model's second look (``train-mask --second-look``): a small part classifier, the *chooser*, looks at
every connected piece of the predicted mask and of the U-Net's colour head (every instance of the queried colour)
and keeps the pieces it takes for the queried part.

The U-Net's typical error is identity, not outline: a query also masks another part of the queried colour, or only
that one; the colour head's pieces then still offer the right part. The chooser is trained on the train split's
ground-truth instance crops (the publisher's square crop, masked as the rotation model's input), independently of
the U-Net, and saved beside it as ``chooser.pt``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from legodata.core.atomic import atomic_open
from legodata.errors import LegodataError
from legodata.geometry import crops
from legodata.train import data
from legodata.train.losses import torch

CROP = 48  # crop side the chooser sees (the pieces of a 128 px mask are 5-60 px across)
MIN_PIXELS = 4  # smaller instances are not trained on (nothing to recognise)
KEEP = 0.3  # a piece stays when the chooser gives the queried part at least this probability (0.2-0.5 measured)
CHOOSER_FILE = "chooser.pt"
CHOOSER_FORMAT = "legodata-chooser-1"


@dataclass(frozen=True)
class ChooserReport:
    """How the chooser was trained: instance crops, epochs, seconds, crops/s."""

    train_crops: int
    epochs: int
    seconds: float
    crops_per_s: float

    def to_json(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def build_chooser(n_parts: int):
    """Four stride-2 stages of two 3x3 convolutions (32-128 channels) on the 4-channel masked crop, mean-pooled, one
    logit per part."""
    nn = torch.nn
    layers, cin = [], 4
    for c in (32, 64, 128, 128):
        layers += [nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        cin = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, n_parts))


def piece_input(image: np.ndarray, piece: np.ndarray):
    """The chooser's input for the boolean ``piece`` of ``image`` (any size): the publisher's square crop around it
    (10% margin), scaled to :data:`CROP`, masked, with the mask as a fourth channel."""
    box = crops.mask_box(piece, 0.1)
    if box is None:
        raise ValueError("piece_input: the piece is empty")
    mask = crops.crop_mask(piece.astype(np.uint8), 1, box, CROP) > 0
    return data.rotation_input(crops.crop_image(image, box, CROP), mask.astype(np.uint8))


def instance_crops(samples) -> tuple:
    """Every visible instance (:data:`MIN_PIXELS` or more) of ``samples``' queries as chooser inputs, with its part
    index: ``(x (N, 4, CROP, CROP), y (N,))``."""
    xs, ys = [], []
    for q in range(len(samples)):
        labels = samples.labels[samples.scene[q]]
        for i in samples.instance_ids[q]:
            piece = labels == i
            if piece.sum() >= MIN_PIXELS:
                xs.append(piece_input(samples.images[samples.scene[q]], piece))
                ys.append(int(samples.part[q]))
    if not xs:
        return torch.zeros((0, 4, CROP, CROP)), torch.zeros(0, dtype=torch.long)
    return torch.stack(xs), torch.tensor(ys)


def augment(x, rng: np.random.Generator):
    """A batch turned by one of the 8 symmetries of the square (the parts have mirror symmetry), its colour
    channels permuted and its brightness scaled 0.6-1.4x per crop: the part's shape, not its colour, decides."""
    x = torch.rot90(x, int(rng.integers(4)), (2, 3))
    if rng.random() < 0.5:
        x = torch.flip(x, (3,))
    rgb = x[:, rng.permutation(3)] * torch.from_numpy(rng.uniform(0.6, 1.4, (len(x), 1, 1, 1)).astype(np.float32))
    return torch.cat([rgb, x[:, 3:]], 1)


def train_chooser(x, y, n_parts: int, device, seconds: float | None, epochs: int, seed: int = 0, lr: float = 2e-3):
    """The chooser trained on ``(x, y)`` (:func:`instance_crops`) with AdamW, batches of 64 (:func:`augment`), the
    rate on a cosine over ``seconds`` when given (stopping then), else over ``epochs``: ``(model, report)``."""
    if not seconds and epochs <= 0:
        raise ValueError("train_chooser: give a time budget (seconds) or a number of epochs")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_chooser(n_parts).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    batch, start = 64, time.monotonic()
    steps_per_epoch = max(1, math.ceil(len(x) / batch))
    total, step, seen, done_epochs = steps_per_epoch * epochs, 0, 0, 0
    model.train()
    finished = not len(x)
    while not finished:
        order = torch.randperm(len(x))
        for s in range(0, len(x), batch):
            progress = (time.monotonic() - start) / seconds if seconds else step / total
            finished = progress >= 1
            if finished:
                break
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * progress))
            idx = order[s : s + batch]
            loss = torch.nn.functional.cross_entropy(model(augment(x[idx], rng).to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step, seen = step + 1, seen + len(idx)
        done_epochs += not finished
    took = time.monotonic() - start
    report = ChooserReport(len(x), done_epochs, took, seen / took if took else 0.0)
    return model.eval(), report


@torch.no_grad()
def part_probabilities(model, inputs, device) -> np.ndarray:
    """Softmax over parts (N, parts) of chooser ``inputs`` (N, 4, CROP, CROP), averaged over the 8 symmetries of the
    square it was trained under (measured on three 20-minute runs: +0.5 to +2.7 points of instance accuracy, test
    IoU +0.002 to +0.007)."""
    inputs, total = inputs.to(device), 0.0
    for turns in range(4):
        turned = torch.rot90(inputs, turns, (2, 3))
        for view in (turned, torch.flip(turned, (3,))):
            total = total + torch.softmax(model(view).float(), 1)
    return (total / 8).cpu().numpy()


def choose(
    mask: np.ndarray, image: np.ndarray, part: int, model, device, same_colour=None, source: np.ndarray | None = None
) -> np.ndarray:
    """The 8-connected pieces of ``mask`` (boolean, the image's size) and of ``same_colour`` (the colour head's
    mask of every instance of the queried colour, when the model has one) that the chooser gives ``part`` at least
    :data:`KEEP`; when it keeps none, the likeliest piece (the U-Net found *something* of the query). ``source``:
    the same image at a higher resolution to cut the chooser's crops from (the pieces scaled up to it)."""
    if same_colour is not None:
        mask = mask | same_colour
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 2:  # empty or a single piece: nothing to choose between
        return mask
    if source is not None:
        image, size = source, source.shape[1::-1]
        labels_up = cv2.resize(labels.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    else:
        labels_up = labels
    pieces = [labels_up == c for c in range(1, n)]
    prob = part_probabilities(model, torch.stack([piece_input(image, p) for p in pieces]), device)[:, part]
    keep = prob >= KEEP
    if not keep.any():
        keep[int(prob.argmax())] = True
    return np.isin(labels, 1 + np.flatnonzero(keep))


def save_chooser(path: Path, model, n_parts: int, report: ChooserReport) -> None:
    """Write the chooser by one rename (a killed run never leaves half a file)."""
    payload = {"format": CHOOSER_FORMAT, "n_parts": n_parts, "model": model.state_dict(), "report": report.to_json()}
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)


def load_chooser(path: Path, n_parts: int, device):
    """``(chooser, its ChooserReport as a dict)`` saved at ``path`` for a run of ``n_parts`` parts, or a one-line
    error naming the file."""
    if not path.is_file():
        raise LegodataError(
            f"{path} does not exist: the run was trained with --second-look; copy its chooser.pt along with best.pt"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise LegodataError(f"{path} cannot be read ({type(exc).__name__}); retrain with --second-look") from None
    if not isinstance(payload, dict) or payload.get("format") != CHOOSER_FORMAT or payload["n_parts"] != n_parts:
        raise LegodataError(f"{path} is not the chooser of this run ({n_parts} parts); retrain with --second-look")
    model = build_chooser(n_parts)
    model.load_state_dict(payload["model"])
    return model.to(device).eval(), payload["report"]


def fit_chooser(
    task,
    samples,
    model_config: dict,
    run_dir: Path,
    device,
    seconds: float | None,
    epochs: int,
    seed: int,
    resume: bool,
) -> dict:
    """``--second-look`` at the end of a mask run: train the chooser on ``samples``' instance crops, save it as
    ``run_dir/chooser.pt`` and hand it to ``task``; a ``resume``d run that has one keeps it. Returns its report."""
    path, n_parts = run_dir / CHOOSER_FILE, len(model_config["part_names"])
    if resume and path.is_file():
        task.chooser, report = load_chooser(path, n_parts, device)
        return report
    x, y = instance_crops(samples)
    if not len(x):
        raise LegodataError("--second-look: the train split has no visible part instances to train the chooser on")
    model, report = train_chooser(x, y, n_parts, device, seconds, epochs, seed)
    save_chooser(path, model, n_parts, report)
    task.chooser = model
    return report.to_json()


def without_chooser(task, model, samples, device, batch_size: int) -> dict:
    """The task's metrics of ``samples`` with the U-Net's masks as they are (what the second look changed)."""
    chooser, task.chooser = task.chooser, None
    try:
        m = task.evaluate(model, samples, device, batch_size)
    finally:
        task.chooser = chooser
    return {k: v for k, v in m.items() if k != "per_part"}
