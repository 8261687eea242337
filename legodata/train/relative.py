"""``train-rot --mode relative``: the rotation *action* ``R_target R_current^T`` (camera frame) from the part's
observation crop and its crop on the manual page, read from the ``steps`` config of a published assembly store.

Labels fit the absolute mode's machinery unchanged: the label is ``A = R_target R_current^T`` and the symmetry group
is conjugated into the camera frame, ``R_current S R_current^T``, so that ``A @ (R_current S R_current^T) =
R_target S R_current^T`` runs over every action that leaves the part looking as the manual shows it; the grid loss
and the metrics take the minimum over it as in the absolute mode. Crops are centred on the part's mask (no
allocentric correction: ``R_ray`` is the identity). Augmentation turns the observation crop in-plane by ``a``:
the current pose becomes ``Rz(a) R_current``, so ``A -> A Rz(a)^T`` and the group is conjugated by ``Rz(a)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from legodata.errors import require
from legodata.train.data import _EpochDataset
from legodata.train.references import crop_box, square_box
from legodata.train.rotation_labels import rotate_inplane, rz
from legodata.train.samples import RotationSamples, Vocab, _label, _padded_groups, _raw_images, _rgb
from legodata.train.tensors import rotation_input

logger = logging.getLogger(__name__)

STEPS_COLUMNS = ("observation", "relevant_mask", "manual_image", "manual_relevant_mask", "parts")
MARGIN = 0.15


def steps_vocab(ds) -> Vocab:
    """Part ids and colour codes of every part of every ``steps`` row."""
    parts, colours = set(), set()
    for row_parts in ds["parts"]:
        for p in row_parts:
            parts.add(str(p["part_id"]))
            colours.add(int(p["colour_code"]))
    return Vocab(sorted(parts), sorted(colours))


@dataclass
class RelativeSamples(RotationSamples):
    """Observation crops (``images``, ``masks``) with their manual-page crops; ``R_m2c`` holds the action."""

    manual_images: np.ndarray | None = None  # (N, S, S, 3) uint8
    manual_masks: np.ndarray | None = None  # (N, S, S) uint8 0/1
    R_current: np.ndarray | None = None  # (N, 3, 3) model-to-camera now
    R_target: np.ndarray | None = None  # (N, 3, 3) model-to-camera as the manual shows it
    sample_ids: list[str] | None = None


def part_crop(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB crop, 0/1 mask crop) of the square box around ``mask``, resized to ``size``."""
    y0, x0, side = square_box(mask, MARGIN)
    return crop_box(image, y0, x0, side, size), crop_box(mask.astype(np.uint8), y0, x0, side, size, nearest=True)


def build_relative_samples(ds, vocab: Vocab, image_size: int, limit: int | None = None, where: str = ""):
    """One sample per part of a ``steps`` row that is visible both in the observation and on the manual page."""
    if limit:
        ds = ds.select(range(min(limit, len(ds))))
    ds = _raw_images(ds, ("observation", "relevant_mask", "manual_image", "manual_relevant_mask"))
    out: dict[str, list] = {k: [] for k in ("img", "msk", "mimg", "mmsk", "part", "cur", "tgt", "sym", "ids")}
    skipped = 0
    for row in ds:
        obs, rel = _rgb(row["observation"]), _label(row["relevant_mask"])
        page, page_rel = _rgb(row["manual_image"]), _label(row["manual_relevant_mask"])
        for k, p in enumerate(row["parts"], 1):
            seen, shown = rel == k, page_rel == k
            if not seen.any() or not shown.any():
                skipped += 1
                continue
            for key, value in zip(("img", "msk"), part_crop(obs, seen, image_size)):
                out[key].append(value)
            for key, value in zip(("mimg", "mmsk"), part_crop(page, shown, image_size)):
                out[key].append(value)
            out["part"].append(vocab.part_index(str(p["part_id"]), where))
            out["cur"].append(np.asarray(p["R_current_m2c"], np.float64))
            out["tgt"].append(np.asarray(p["R_target_m2c"], np.float64))
            group = np.asarray(p["symmetry_rotations"], np.float64).reshape(-1, 3, 3)
            out["sym"].append(group if len(group) else np.eye(3)[None])
            out["ids"].append(f"{row['sample_id']}#{k}")
    if skipped:
        logger.info("steps%s: %d parts hidden in the observation or on the manual page (left out)", where, skipped)
    return _relative_samples(out, vocab, image_size)


def _relative_samples(out: dict, vocab: Vocab, size: int) -> RelativeSamples:
    def stack(key, shape, dtype):
        return np.stack(out[key]).astype(dtype) if out[key] else np.zeros((0, *shape), dtype)

    cur, tgt = stack("cur", (3, 3), np.float64), stack("tgt", (3, 3), np.float64)
    groups = _padded_groups(out["sym"])
    conj = np.einsum("nij,ngjk,nlk->ngil", cur, groups, cur) if len(cur) else groups
    return RelativeSamples(
        images=stack("img", (size, size, 3), np.uint8),
        masks=stack("msk", (size, size), np.uint8),
        part=np.asarray(out["part"], np.int64),
        R_m2c=np.einsum("nij,nkj->nik", tgt, cur),  # the action R_target R_current^T
        R_ray=np.tile(np.eye(3), (len(cur), 1, 1)),
        sym=conj,
        part_names=list(vocab.part_names),
        manual_images=stack("mimg", (size, size, 3), np.uint8),
        manual_masks=stack("mmsk", (size, size), np.uint8),
        R_current=cur,
        R_target=tgt,
        sample_ids=out["ids"],
    )


class RelativeTorchDataset(_EpochDataset):
    """(observation crop + mask, manual crop + mask) as 8 channels; with ``augment`` each (seed, epoch, index)
    turns the observation crop in-plane by a fixed random angle, with the matching action and group."""

    samples: RelativeSamples

    def __init__(self, samples: RelativeSamples, augment: bool = False, seed: int = 0) -> None:
        super().__init__(samples)
        self.augment, self.seed = augment, seed

    def __getitem__(self, i: int) -> dict:
        torch = require("torch", "train")
        s = self.samples
        image, mask, action, sym = s.images[i], s.masks[i], s.R_m2c[i], s.sym[i]
        if self.augment:
            angle = np.random.default_rng([self.seed, self.epoch, i]).uniform(-np.pi, np.pi)
            image, mask = rotate_inplane(image, angle), rotate_inplane(mask, angle, nearest=True)
            turn = rz(angle)
            action, sym = action @ turn.T, turn @ sym @ turn.T
        x = torch.cat([rotation_input(image, mask), rotation_input(s.manual_images[i], s.manual_masks[i])], dim=0)
        return {
            "x": x,
            "part": torch.tensor(s.part[i]),
            "R": torch.from_numpy(action.astype(np.float32)),
            "sym": torch.from_numpy(sym.astype(np.float32)),
        }


def make_relative_dataset(samples: RelativeSamples, augment: bool = False, seed: int = 0) -> RelativeTorchDataset:
    """The relative samples as tensors."""
    return RelativeTorchDataset(samples, augment, seed)
