"""Training from a stream (``--streaming``): the train split is read with ``load_dataset(..., streaming=True)``, from
the Hub or a published folder, so it never has to fit on disk or in memory.

- One cheap pass over a few small columns first (``instances`` for masks, ``colour_code`` for crops) builds the
  vocabulary exactly as the in-memory path does and counts the samples of one pass.
- Rows are shuffled by shard order and a buffer of ``--shuffle-buffer`` rows (``seed`` + epoch), split between
  DDP processes with ``datasets.distributed.split_dataset_by_node`` when ``torch.distributed`` is initialised, and
  between DataLoader workers by ``datasets`` itself.
- An epoch is ``--epoch-samples`` samples, or one pass as counted. Every process yields the same number of samples
  (its share, going round its stream again if short), so DDP processes take the same number of steps.
- Validation and test are read into memory as usual, at most ``--limit`` (default ``EVAL_ROWS``) rows each.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from legodata.errors import LegodataError, require
from legodata.geometry.crops import resize
from legodata.train.loading import check_columns, instance_feature, open_dataset, part_names_of
from legodata.train.losses import torch
from legodata.train.rotation_labels import crop_ray, rotate_inplane, rz
from legodata.train.samples import CROP_COLUMNS, Vocab, _label, _part_name, _queries, _rgb, colour_rgb, part_map
from legodata.train.tensors import image_tensor, rotation_input

logger = logging.getLogger(__name__)

EVAL_ROWS = 2000  # validation/test rows read into memory by a streaming run without --limit
IMAGE_COLUMNS = ("image", "mask")


@dataclass
class TrainStream:
    """The train split as a stream: rows in, samples out (``convert``), ``len`` = samples per epoch."""

    rows: Any  # datasets.IterableDataset: shuffled, this process's share
    convert: Callable[[dict, np.random.Generator], list[dict]]
    samples_per_epoch: int  # over all processes
    world: int
    rank: int
    seed: int
    shards: int

    def __len__(self) -> int:
        return self.samples_per_epoch

    @property
    def per_process(self) -> int:
        return math.ceil(self.samples_per_epoch / self.world)


def _dist() -> tuple[int, int]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _raw(ds):
    datasets = require("datasets", "publish")
    for c in IMAGE_COLUMNS:
        if c in (ds.column_names or []):
            ds = ds.cast_column(c, datasets.Image(decode=False))
    return ds


def _scan(task, cfg) -> tuple[Vocab, int]:
    """The vocabulary (as ``scenes_vocab``/``parts_vocab`` build it) and the samples of one pass, reading only
    the columns that hold them."""
    mask = task.dataset.name == "scenes"
    columns = ["instances"] if mask else ["part_id", "colour_code"]
    rows = open_dataset(cfg.dataset, task.dataset.name, streaming=True, columns=columns)["train"]
    if cfg.limit:
        rows = rows.take(cfg.limit)
    parts, colours, samples = set(), set(), 0
    if mask:
        names = part_names_of(instance_feature(rows.features["instances"])["part_id"])
        for row in rows:
            keys = {(inst["part_id"], int(inst["colour_code"])) for inst in row["instances"]}
            parts.update(p for p, _ in keys)
            colours.update(c for _, c in keys)
            samples += len(keys)  # one query per (part, colour); the masks decide which are visible
    else:
        names = part_names_of(rows.features["part_id"])
        for row in rows:
            parts.add(row["part_id"])
            colours.add(int(row["colour_code"]))
            samples += 1
    part_names = names if names is not None else sorted(str(p) for p in parts)
    return Vocab(part_names, sorted(colours)), samples


def mask_converter(vocab: Vocab, names: list[str] | None, size: int, parts: bool = False):
    """A scene row -> its queries as tensors, as ``build_mask_samples`` and ``MaskTorchDataset`` make them (with
    ``parts``, the part head's target too)."""

    def convert(row: dict, rng: np.random.Generator) -> list[dict]:
        label = _label(row["mask"])
        image = image_tensor(resize(_rgb(row["image"]), size))
        labels = resize(label.astype(np.int32), size, nearest=True)
        queries = [
            (vocab.part_index(name, " (train stream)"), code, ids)
            for (name, code), ids in _queries(row["instances"], set(np.unique(label).tolist()), names)
        ]
        items = [
            {
                "image": image,
                "part": torch.tensor(part),
                "colour": torch.tensor(vocab.colour_index(code)),
                "colour_rgb": torch.tensor(colour_rgb(code), dtype=torch.float32),
                "target": torch.from_numpy(np.isin(labels, ids)[None].astype(np.float32)),
            }
            for part, code, ids in queries
        ]
        if parts:
            part_classes = torch.from_numpy(part_map(labels, [(p, ids) for p, _, ids in queries]).astype(np.int64))
            for item in items:
                item["parts"] = part_classes
        return items

    return convert


def rotation_converter(vocab: Vocab, names: list[str] | None, size: int, augment: bool, has_crop: bool):
    """A parts row -> one crop as tensors, as ``build_rotation_samples`` and ``RotationTorchDataset`` make it."""

    def convert(row: dict, rng: np.random.Generator) -> list[dict]:
        image = resize(_rgb(row["image"]), size)
        mask = (resize(_label(row["mask"]), size, nearest=True) > 0).astype(np.uint8)
        ray = crop_ray(row["K"], row["crop_x"], row["crop_y"], row["crop_size"]) if has_crop else np.eye(3)
        target = ray.T @ np.asarray(row["R_m2c"], np.float64)
        if augment:
            angle = rng.uniform(-np.pi, np.pi)
            image, mask = rotate_inplane(image, angle), rotate_inplane(mask, angle, nearest=True)
            target = rz(angle) @ target
        sym = np.asarray(row["symmetry_rotations"], np.float64).reshape(-1, 3, 3)
        return [
            {
                "x": rotation_input(image, mask),
                "part": torch.tensor(vocab.part_index(_part_name(names, row["part_id"]), " (train stream)")),
                "R": torch.from_numpy(target.astype(np.float32)),
                "sym": torch.from_numpy((sym if len(sym) else np.eye(3)[None]).astype(np.float32)),
            }
        ]

    return convert


def open_train_stream(task, cfg, vocab: Vocab, samples: int) -> TrainStream:
    """The shuffled train rows of this process and the converter for ``task``."""
    from datasets.distributed import split_dataset_by_node

    rows = _raw(open_dataset(cfg.dataset, task.dataset.name, streaming=True)["train"])
    if cfg.limit:
        rows = rows.take(cfg.limit)
    shards = rows.num_shards
    rows = rows.shuffle(seed=cfg.seed, buffer_size=cfg.shuffle_buffer)
    rank, world = _dist()
    if world > 1:
        rows = split_dataset_by_node(rows, rank=rank, world_size=world)
    if task.dataset.name == "scenes":
        names = part_names_of(instance_feature(rows.features["instances"])["part_id"])
        convert = mask_converter(vocab, names, cfg.image_size, parts=task.part_head)
    else:
        names = part_names_of(rows.features["part_id"])
        has_crop = all(c in rows.column_names for c in CROP_COLUMNS)
        convert = rotation_converter(vocab, names, cfg.image_size, cfg.augment, has_crop)
    return TrainStream(rows, convert, cfg.epoch_samples or samples, world, rank, cfg.seed, shards)


def _eval_samples(task, cfg, split: str, vocab: Vocab, stream) -> Any:
    """The first ``--limit`` (default ``EVAL_ROWS``) rows of ``split`` as the in-memory samples."""
    datasets = require("datasets", "publish")
    rows = _raw(stream).take(cfg.limit or EVAL_ROWS)
    ds = datasets.Dataset.from_list(list(rows), features=rows.features)
    if not len(ds):
        return None
    return task.dataset.samples(ds, vocab, cfg.image_size, None, f" (split {split})")


def prepare_streaming(task, cfg, splits=("train", "validation", "test")) -> tuple[Vocab, dict]:
    """:func:`legodata.train.loop.prepare` for ``--streaming``: ``samples["train"]`` is a :class:`TrainStream`."""
    dsd = open_dataset(cfg.dataset, task.dataset.name, streaming=True)
    check_columns(dsd, cfg.dataset, task.dataset.name, task.dataset.columns, task.dataset.instance_fields)
    if "train" not in dsd:
        raise LegodataError(f"dataset {cfg.dataset}: has no train split (has {', '.join(dsd) or 'none'})")
    vocab, count = _scan(task, cfg)
    if not count:
        raise LegodataError(f"dataset {cfg.dataset}: the train split has no usable samples for {task.name}")
    out: dict[str, Any] = {"train": open_train_stream(task, cfg, vocab, count)}
    for split in splits:
        if split != "train" and split in dsd:
            out[split] = _eval_samples(task, cfg, split, vocab, dsd[split])
    train = out["train"]
    logger.info(
        "streaming %s train split of %s: %d samples per epoch (one pass: %d), %d parquet shards, shuffle buffer %d, "
        "process %d of %d",
        task.dataset.name, cfg.dataset, len(train), count, train.shards, cfg.shuffle_buffer, train.rank, train.world,
    )  # fmt: skip
    return vocab, out


class StreamDataset(torch.utils.data.IterableDataset):
    """A :class:`TrainStream` for ``DataLoader``: this process's share of an epoch, divided among the workers."""

    def __init__(self, stream: TrainStream) -> None:
        self.stream = stream
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.stream.per_process

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        share = self.stream.per_process
        quota = share // workers + (worker < share % workers)
        rng = np.random.default_rng([self.stream.seed, self.epoch, self.stream.rank, worker])
        self.stream.rows.set_epoch(self.epoch)
        produced = 0
        while produced < quota:
            before = produced
            for row in self.stream.rows:
                for sample in self.stream.convert(row, rng):
                    yield sample
                    produced += 1
                    if produced >= quota:
                        return
            if produced == before:
                raise LegodataError(
                    f"the train stream has no samples for process {self.stream.rank} worker {worker}: "
                    f"{self.stream.shards} parquet shards for {self.stream.world} processes x {workers} workers; "
                    "lower --workers or publish with a smaller --shard-size"
                )


def collate(items: list[dict]) -> dict:
    """Stack a batch; symmetry groups (``sym``) padded with identities to the largest in the batch."""
    if "sym" in items[0]:
        g = max(it["sym"].shape[0] for it in items)
        eye = torch.eye(3)
        items = [{**it, "sym": torch.cat([it["sym"], eye.expand(g - len(it["sym"]), 3, 3)])} for it in items]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def stream_loader(ds: StreamDataset, batch_size: int, workers: int):
    """The DataLoader over this process's share of the stream (``ds.set_epoch`` reshuffles)."""
    return torch.utils.data.DataLoader(
        ds,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate,
        drop_last=len(ds) > batch_size,  # as the in-memory loader: no ragged last batch unless it is the only one
    )
