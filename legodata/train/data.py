"""Published datasets -> arrays -> torch samples.

The steps live in modules with one job each, re-exported here (``from legodata.train import data`` is the one
import the trainers need):

- :mod:`legodata.train.loading`: ``open_dataset`` loads a published folder (or Hub id) with one-line errors for
  what the user can fix, and checks its columns and splits;
- :mod:`legodata.train.samples`: the ``build_*_samples`` functions decode a split once into compact numpy arrays
  (pure numpy, no torch), with the part/colour :class:`Vocab`;
- :mod:`legodata.train.rotation_labels`: allocentric rotation labels of crops and in-plane rotations.

This module holds the small ``*TorchDataset`` wrappers that turn samples into tensors, with deterministic
per-(seed, epoch, index) augmentation so a resumed run sees exactly the samples an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np

from legodata.errors import require
from legodata.train.loading import (
    INSTANCE_FIELDS,
    PARTS_COLUMNS,
    SCENES_COLUMNS,
    check_columns,
    instance_feature,
    open_dataset,
    part_names_of,
    require_split,
)
from legodata.train.rotation_labels import crop_ray, ray_rotation, rotate_inplane, rz
from legodata.train.samples import (
    CROP_COLUMNS,
    UNKNOWN_COLOUR,
    MaskSamples,
    RotationSamples,
    Vocab,
    build_mask_samples,
    build_rotation_samples,
    colour_rgb,
    parts_vocab,
    scenes_vocab,
    with_references,
)
from legodata.train.tensors import image_tensor, rotation_input

__all__ = [
    "CROP_COLUMNS",
    "INSTANCE_FIELDS",
    "PARTS_COLUMNS",
    "SCENES_COLUMNS",
    "UNKNOWN_COLOUR",
    "MaskSamples",
    "MaskTorchDataset",
    "RotationSamples",
    "RotationTorchDataset",
    "Vocab",
    "build_mask_samples",
    "build_rotation_samples",
    "check_columns",
    "colour_rgb",
    "crop_ray",
    "image_tensor",
    "instance_feature",
    "make_mask_dataset",
    "make_rotation_dataset",
    "open_dataset",
    "part_names_of",
    "parts_vocab",
    "ray_rotation",
    "require_split",
    "rotate_inplane",
    "rotation_input",
    "rz",
    "scenes_vocab",
    "with_references",
]


class _EpochDataset:
    """Map-style dataset (what ``torch.utils.data.DataLoader`` needs) over ``samples``, told the epoch."""

    def __init__(self, samples) -> None:
        self.samples = samples
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)


class MaskTorchDataset(_EpochDataset):
    """Mask queries as tensors; with reference crops in the samples also ``ref``, the image query (another scene's
    crop of the part: random per (seed, epoch, index) with ``augment``, else fixed)."""

    samples: MaskSamples

    def __init__(
        self,
        samples: MaskSamples,
        augment: bool = False,
        seed: int = 0,
        references: bool = True,
        parts: bool = False,
        colours: bool = False,
    ) -> None:
        super().__init__(samples)
        self.augment, self.seed, self.references = augment, seed, references
        self.part_maps = samples.part_maps() if parts else None
        self.colour_ids = samples.colour_instance_ids() if colours else None

    def __getitem__(self, q: int) -> dict:
        torch = require("torch", "train")
        s = self.samples
        item = {
            "image": image_tensor(s.images[s.scene[q]]),
            "part": torch.tensor(s.part[q]),
            "colour": torch.tensor(s.colour[q]),
            "colour_rgb": torch.from_numpy(s.colour_rgb[q].copy()),
            "target": torch.from_numpy(s.target(q)[None].astype(np.float32)),
        }
        if self.references:
            rng = np.random.default_rng([self.seed, self.epoch, q]) if self.augment else None
            item["ref"] = image_tensor(s.reference(q, rng))
        if self.part_maps is not None:
            item["parts"] = torch.from_numpy(self.part_maps[s.scene[q]].astype(np.int64))
        if self.colour_ids is not None:
            same_colour = np.isin(s.labels[s.scene[q]], self.colour_ids[q])
            item["colour_target"] = torch.from_numpy(same_colour[None].astype(np.float32))
        return item


class RotationTorchDataset(_EpochDataset):
    """Crops as tensors; with ``augment`` each (seed, epoch, index) gets a fixed random in-plane rotation."""

    samples: RotationSamples

    def __init__(self, samples: RotationSamples, augment: bool = False, seed: int = 0) -> None:
        super().__init__(samples)
        self.augment, self.seed = augment, seed
        self.r_allo = samples.R_allo

    def __getitem__(self, i: int) -> dict:
        torch = require("torch", "train")
        s = self.samples
        image, mask, target = s.images[i], s.masks[i], self.r_allo[i]
        if self.augment:
            angle = np.random.default_rng([self.seed, self.epoch, i]).uniform(-np.pi, np.pi)
            image = rotate_inplane(image, angle)
            mask = rotate_inplane(mask, angle, nearest=True)
            target = rz(angle) @ target
        return {
            "x": rotation_input(image, mask),
            "part": torch.tensor(s.part[i]),
            "R": torch.from_numpy(target.astype(np.float32)),
            "sym": torch.from_numpy(s.sym[i].astype(np.float32)),
        }


def make_mask_dataset(
    samples: MaskSamples,
    augment: bool = False,
    seed: int = 0,
    references: bool = True,
    parts: bool = False,
    colours: bool = False,
) -> MaskTorchDataset:
    """The masking samples as tensors; ``augment`` draws the image query's reference at random (the images are
    not augmented; ``references=False`` leaves the reference out; ``parts`` adds every pixel's part class, the part
    head's target; ``colours`` every instance of the queried colour, the colour head's). A train stream
    (``--streaming``) becomes its IterableDataset."""
    stream = _stream_dataset(samples)
    return stream if stream is not None else MaskTorchDataset(samples, augment, seed, references, parts, colours)


def make_rotation_dataset(samples: RotationSamples, augment: bool = False, seed: int = 0) -> RotationTorchDataset:
    """The crops as tensors (a train stream: its IterableDataset, augmented as the stream was set up)."""
    stream = _stream_dataset(samples)
    return stream if stream is not None else RotationTorchDataset(samples, augment, seed)


def _stream_dataset(samples):
    from legodata.train.streaming import StreamDataset, TrainStream

    return StreamDataset(samples) if isinstance(samples, TrainStream) else None
