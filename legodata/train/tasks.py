"""What differs between ``train-mask`` and ``train-rot``: dataset config, samples, model, loss, metrics.

The shared loop (:mod:`legodata.train.loop`) only calls the methods of a :class:`Task`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.errors import LegodataError
from legodata.train import data, metrics, relative
from legodata.train.losses import bce_dice_loss, grid_rotation_loss, part_loss, torch


def to_device(batch: dict, device, channels_last: bool = False) -> dict:
    """Tensors of ``batch`` on ``device``; with ``channels_last`` images (4D) in that memory format."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return {
        k: v.to(device, non_blocking=True, memory_format=fmt) if v.dim() == 4 else v.to(device, non_blocking=True)
        for k, v in batch.items()
    }


@dataclass(frozen=True)
class DatasetConfig:
    """How a task reads a published dataset: the config ``name``, the ``columns`` (and ``instance_fields`` of its
    instances) it needs, its vocabulary ``vocab(ds)``, its ``samples(ds, vocab, image_size, limit, where)`` and
    those as tensors, ``tensors(samples, augment, seed)``."""

    name: str
    columns: tuple[str, ...]
    vocab: Callable[[Any], data.Vocab]
    samples: Callable[..., Any]
    tensors: Callable[..., Any]
    instance_fields: tuple[str, ...] = ()


SCENES = DatasetConfig(
    name="scenes", columns=data.SCENES_COLUMNS, vocab=data.scenes_vocab, samples=data.build_mask_samples,
    tensors=data.make_mask_dataset, instance_fields=data.INSTANCE_FIELDS,
)  # fmt: skip
PARTS = DatasetConfig(
    name="parts", columns=data.PARTS_COLUMNS, vocab=data.parts_vocab, samples=data.build_rotation_samples,
    tensors=data.make_rotation_dataset,
)  # fmt: skip
STEPS = DatasetConfig(
    name="steps", columns=relative.STEPS_COLUMNS, vocab=relative.steps_vocab, samples=relative.build_relative_samples,
    tensors=relative.make_relative_dataset,
)  # fmt: skip
ROT_MODES = ("absolute", "relative")


class Task:
    name: str
    dataset: DatasetConfig
    score_key: str  # validation metric used to pick the best checkpoint
    higher_is_better: bool = True
    channels_last: bool = False  # NHWC activations: measured 1.6x faster for the U-Net on CPU, no gain for rot

    def torch_dataset(self, samples, train: bool, seed: int, augment: bool):
        """``samples`` as tensors; augmented (where the task augments) when ``train`` and ``augment``."""
        return self.dataset.tensors(samples, augment=train and augment, seed=seed)

    def model_config(self, vocab: data.Vocab, base: int | None) -> dict[str, Any]: ...
    def loss(self, model, batch, progress: float = 1.0):
        """The training loss of ``batch`` when ``progress`` of the run is done (a task may anneal by it)."""

    def evaluate(self, model, samples, device, batch_size: int) -> dict: ...

    def score(self, m: dict) -> float:
        """Larger is better."""
        return m[self.score_key] if self.higher_is_better else -m[self.score_key]

    def summary(self, m: dict) -> str: ...

    def after_training(self, model, samples, device, run_dir: Path) -> None:
        """Extra outputs of the finished run (rank 0)."""


class MaskTask(Task):
    """``query="id"``: the query is (part, colour); ``"image"``: a reference image of the part (another scene's crop
    of the same part and colour, :mod:`legodata.train.references`)."""

    name = "mask"
    dataset = SCENES
    score_key = "iou"
    channels_last = True

    def __init__(
        self, query: str = "id", part_head: bool = False, second_look: bool = False, colour_head: bool = False
    ) -> None:
        self.query, self.part_head, self.second_look, self.colour_head = query, part_head, second_look, colour_head
        self.chooser = None  # the second look's part classifier (legodata.train.chooser), once trained or loaded

    def torch_dataset(self, samples, train: bool, seed: int, augment: bool):
        """Queries as tensors; the reference image (drawn at random in training) only for the image query; with the
        part head, every pixel's part class (its target)."""
        if self.query == "image" and hasattr(samples, "ref_crops"):
            data.with_references(samples)  # once, before DataLoader workers copy the samples
        image = self.query == "image"
        return data.make_mask_dataset(
            samples, augment=train, seed=seed, references=image, parts=self.part_head, colours=self.colour_head
        )

    def model_config(self, vocab, base):
        extra = {} if self.query == "id" else {"query": self.query}  # id runs' configs stay as they were
        if self.part_head:
            extra["part_head"] = True
        if self.second_look:
            extra["second_look"] = True  # the run dir holds chooser.pt
        if self.colour_head:
            extra["colour_head"] = True
        return {"kind": "mask", "base": base or 16, "depth": 4, **extra, **vocab.to_json()}

    def loss(self, model, batch, progress: float = 1.0):
        query = (batch["image"], batch["part"], batch["colour"], batch["colour_rgb"], batch.get("ref"))
        if not (self.part_head or self.colour_head):
            return bce_dice_loss(model(*query).float(), batch["target"])
        logits, *extra = model(*query, with_parts=self.part_head, with_colour=self.colour_head)
        loss = bce_dice_loss(logits.float(), batch["target"])
        if self.part_head:
            loss = loss + part_loss(extra.pop(0).float(), batch["parts"])
        if self.colour_head:
            loss = loss + bce_dice_loss(extra.pop(0).float(), batch["colour_target"])
        return loss

    @torch.no_grad()
    def predict_masks(self, model, samples, idx, device, batch_size, same_colour: bool = False):
        """The U-Net's masks (len(idx), S, S) of queries ``idx``, and with ``same_colour`` its colour head's (every
        instance of each query's colour; else None)."""
        image_query = getattr(getattr(model, "module", model), "query_mode", "id") == "image"
        ds = data.make_mask_dataset(samples, references=image_query)
        out, colour_out = [], []
        for start in range(0, len(idx), batch_size):
            items = [ds[int(i)] for i in idx[start : start + batch_size]]
            batch = to_device({k: torch.stack([it[k] for it in items]) for k in items[0]}, device, self.channels_last)
            query = (batch["image"], batch["part"], batch["colour"], batch["colour_rgb"], batch.get("ref"))
            logits, *colour_logits = model(*query, with_colour=True) if same_colour else (model(*query),)
            out.append((logits[:, 0] > 0).cpu().numpy())
            colour_out += [(c[:, 0] > 0).cpu().numpy() for c in colour_logits]
        masks = np.concatenate(out) if out else np.zeros((0, 1, 1), bool)
        return masks, (np.concatenate(colour_out) if same_colour and colour_out else None)

    def predict(self, model, samples, idx, device, batch_size):
        """The masks of queries ``idx``; with a chooser, the second look's (:func:`legodata.train.chooser.choose`
        among the pieces of the query's mask and, when the model has one, of its colour head's)."""
        with_colour = self.colour_head and self.chooser is not None
        masks, same_colour = self.predict_masks(model, samples, idx, device, batch_size, with_colour)
        if self.chooser is not None:
            from legodata.train.chooser import choose

            for k, q in enumerate(idx):
                pool = None if same_colour is None else same_colour[k]
                image = samples.images[samples.scene[q]]
                masks[k] = choose(masks[k], image, int(samples.part[q]), self.chooser, device, pool)
        return masks

    def evaluate(self, model, samples, device, batch_size):
        model.eval()
        ious = []
        for start in range(0, len(samples), batch_size):
            idx = np.arange(start, min(start + batch_size, len(samples)))
            pred = self.predict(model, samples, idx, device, batch_size)
            ious.append(metrics.iou(pred, np.stack([samples.target(int(i)) for i in idx])))
        ious = np.concatenate(ious) if ious else np.zeros(0)
        return metrics.mask_metrics(ious, samples.part, samples.part_names)

    def summary(self, m):
        misses = f", {m['misses']} below {metrics.MISS_IOU:g}" if "misses" in m else ""
        return f"IoU {m['iou']:.3f} ({m['n']} queries{misses})"

    def after_training(self, model, samples, device, run_dir):
        """``masked_test.png``: rows of image | ground-truth masked | predicted masked, first queries of the split."""
        n = min(8, len(samples))
        if not n:
            return
        model.eval()
        pred = self.predict(model, samples, np.arange(n), device, n)
        rows = []
        for q in range(n):
            image = samples.images[samples.scene[q]]
            gt = image * samples.target(q)[..., None]
            pm = image * pred[q][..., None]
            label = f"{samples.part_names[samples.part[q]]}"
            tile = np.concatenate([image, gt, pm], axis=1).astype(np.uint8)
            cv2.putText(tile, label, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
            rows.append(tile)
        cv2.imwrite(str(run_dir / "masked_test.png"), np.concatenate(rows, axis=0)[:, :, ::-1])


class RotationTask(Task):
    """``mode="absolute"``: crop + part -> allocentric R_m2c (config ``parts``); ``"relative"``: (observation crop,
    manual crop) + part -> the action R_target R_current^T (config ``steps``, :mod:`legodata.train.relative`)."""

    name = "rot"
    dataset = PARTS
    score_key = "median_deg"
    higher_is_better = False

    bins = 4096  # grid rotations: a random rotation is within 8 degrees of one at the median
    sigma_deg = 8.0  # width of the soft target on the grid, about the grid spacing
    sigma_start_deg = 30.0  # harmonic head: the width at the start, narrowed to sigma_deg over the first half
    geodesic_weight = 0.0

    degree = 6  # harmonic head: band limit of the scores on SO(3) (455 coefficients)

    def __init__(self, mode: str = "absolute", head: str = "grid", finetune: bool = False) -> None:
        self.mode, self.head = mode, head
        # One width throughout: as trained before the harmonic head, and from --weights: those are off the uniform
        # answer already, and the broad start target undoes their precision (validation 6.1 -> 17 deg in 4 epochs).
        if head == "grid" or finetune:
            self.sigma_start_deg = self.sigma_deg
        if mode == "relative":
            self.dataset = STEPS

    def model_config(self, vocab, base):
        extra = {"mode": "relative", "in_channels": 8} if self.mode == "relative" else {}
        if self.head != "grid":  # grid runs' configs stay as they were
            extra |= {"head": self.head, "degree": self.degree, "sigma_start_deg": self.sigma_start_deg}
        return {
            "kind": "rot",
            "base": base or 32,
            "bins": self.bins,
            "sigma_deg": self.sigma_deg,
            "geodesic_weight": self.geodesic_weight,
            **extra,
            **vocab.to_json(),
        }

    def loss(self, model, batch, progress: float = 1.0):
        grid = getattr(model, "module", model).grid  # DDP wraps the model
        logits = model(batch["x"], batch["part"])
        return grid_rotation_loss(
            logits, grid, batch["R"], batch["sym"], np.radians(self.sigma_at(progress)), self.geodesic_weight
        )

    def sigma_at(self, progress: float) -> float:
        """The soft target's width when ``progress`` of the run is done: broad targets first get a model off the
        uniform answer that 4096 sharp classes leave it at for long, sharp ones later give the precision."""
        shrink = min(1.0, progress / 0.5)
        return self.sigma_deg * (self.sigma_start_deg / self.sigma_deg) ** (1.0 - shrink)

    @torch.no_grad()
    def predict_allo(self, model, samples, device, batch_size, tta: bool = False) -> np.ndarray:
        """Rotations (N, 3, 3) of ``samples``; ``tta`` averages the scores over quarter turns (:mod:`.tta`)."""
        model.eval()
        decode = getattr(model, "module", model).rotation
        if tta:
            from legodata.train.tta import InplaneAverager

            if self.mode == "relative":  # turning both crops conjugates the action: the averaging does not apply
                raise LegodataError("in-plane averaging (tta) is for the absolute rotation mode only")

            decode = InplaneAverager(model).rotation
        ds = self.dataset.tensors(samples)
        out = []
        for start in range(0, len(samples), batch_size):
            items = [ds[i] for i in range(start, min(start + batch_size, len(samples)))]
            batch = to_device({k: torch.stack([it[k] for it in items]) for k in items[0]}, device)
            out.append(decode(batch["x"], batch["part"]).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 3, 3))

    def evaluate(self, model, samples, device, batch_size, tta: bool = False):
        pred = self.predict_allo(model, samples, device, batch_size, tta)
        errors = metrics.symmetric_angle_deg(pred, samples.R_allo, samples.sym)
        return metrics.rotation_metrics(errors, samples.part, samples.part_names)

    def summary(self, m):
        return f"median {m['median_deg']:.1f} deg, acc@15 {m['acc15']:.3f}, acc@30 {m['acc30']:.3f} ({m['n']} crops)"


TASKS = {"mask": MaskTask, "rot": RotationTask}


def get_task(name: str, **options) -> Task:
    """The task ``name`` (``mask`` takes ``query``, ``rot`` ``mode``, ``head`` and ``finetune``)."""
    return TASKS[name](**options)


def task_options(cfg) -> dict:
    """The :func:`get_task` options of a :class:`~legodata.train.config.TrainConfig`."""
    if cfg.task == "mask":
        colour_head = cfg.second_look if cfg.colour_head is None else cfg.colour_head  # the second look's pieces
        return {
            "query": cfg.query,
            "part_head": cfg.part_head,
            "second_look": cfg.second_look,
            "colour_head": colour_head,
        }
    return {"mode": cfg.mode, "head": cfg.head, "finetune": bool(cfg.weights)}


def task_of_run(task_name: str, model_config: dict) -> Task:
    """The task a checkpoint was trained as (its ``model_config`` holds the query or mode)."""
    if task_name == "mask":
        return get_task(
            "mask",
            query=model_config.get("query", "id"),
            part_head=model_config.get("part_head", False),
            second_look=model_config.get("second_look", False),
            colour_head=model_config.get("colour_head", False),
        )
    return get_task(task_name, mode=model_config.get("mode", "absolute"), head=model_config.get("head", "grid"))
