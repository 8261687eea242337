"""Published rows -> compact numpy samples (pure numpy, no torch): each split is decoded once.

Images are resized to the model's ``image_size`` with :func:`legodata.geometry.crops.resize` (labels
nearest-neighbour, so instance ids stay exact). Part ids and colour codes become indices of a :class:`Vocab`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.errors import LegodataError, require
from legodata.geometry.crops import resize
from legodata.train.loading import instance_feature, part_names_of
from legodata.train.rotation_labels import crop_ray

CROP_COLUMNS = ("K", "crop_x", "crop_y", "crop_size")  # optional: without them the crop is taken as centred
UNKNOWN_COLOUR = 0  # colour index reserved for colour codes the model has not seen


# --- decoding -------------------------------------------------------------------------------------------------------


def _decode(cell: dict[str, Any], flags: int) -> np.ndarray:
    data = cell.get("bytes")
    if data is None:
        data = Path(cell["path"]).read_bytes()
    array = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if array is None:
        raise LegodataError(f"cannot decode an image of the dataset ({cell.get('path') or 'embedded bytes'})")
    return array


def _rgb(cell) -> np.ndarray:
    bgr = _decode(cell, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _label(cell) -> np.ndarray:
    """A mask cell as a single-channel array (instance ids, or 0/255)."""
    label = _decode(cell, cv2.IMREAD_UNCHANGED)
    return label[:, :, 0] if label.ndim == 3 else label


def _raw_images(ds, columns=("image", "mask")):
    datasets = require("datasets", "publish")
    for c in columns:
        ds = ds.cast_column(c, datasets.Image(decode=False))
    return ds


def _first(ds, limit: int | None):
    return ds.select(range(min(limit, len(ds)))) if limit else ds


# --- vocabularies ---------------------------------------------------------------------------------------------------


@dataclass
class Vocab:
    """Part names (index = embedding row) and colour codes (index 0 = unknown colour)."""

    part_names: list[str]
    colour_codes: list[int] = field(default_factory=list)

    def part_index(self, name: str, where: str = "") -> int:
        try:
            return self.part_names.index(name)
        except ValueError:
            raise LegodataError(
                f"part id {name!r}{where} is not one the model was trained on ({', '.join(self.part_names)})"
            ) from None

    def colour_index(self, code: int) -> int:
        try:
            return 1 + self.colour_codes.index(int(code))
        except ValueError:
            return UNKNOWN_COLOUR

    def to_json(self) -> dict:
        return {"part_names": list(self.part_names), "colour_codes": [int(c) for c in self.colour_codes]}

    @staticmethod
    def from_json(d: dict) -> Vocab:
        return Vocab(list(d["part_names"]), [int(c) for c in d.get("colour_codes", [])])


def colour_rgb(code: int) -> tuple[float, float, float]:
    """sRGB of an LDraw colour from the built-in table, (0, 0, 0) when unknown: lets unseen colours generalise."""
    from legodata.parts.colours import get_colour

    try:
        return get_colour(int(code)).rgb
    except (KeyError, ValueError):
        return (0.0, 0.0, 0.0)


def scenes_vocab(ds) -> Vocab:
    inner = instance_feature(ds.features["instances"])
    names = part_names_of(inner["part_id"])
    parts, colours = set(), set()
    for instances in ds["instances"]:
        for inst in instances:
            parts.add(inst["part_id"])
            colours.add(int(inst["colour_code"]))
    part_names = names if names is not None else sorted(str(p) for p in parts)
    return Vocab(part_names, sorted(colours))


def parts_vocab(ds) -> Vocab:
    names = part_names_of(ds.features["part_id"])
    part_names = names if names is not None else sorted({str(p) for p in ds["part_id"]})
    colours = sorted({int(c) for c in ds["colour_code"]}) if "colour_code" in ds.column_names else []
    return Vocab(part_names, colours)


def _part_name(names: list[str] | None, value) -> str:
    return names[value] if names is not None else str(value)


# --- masking model samples ------------------------------------------------------------------------------------------


@dataclass
class MaskSamples:
    """Scenes resized to ``image_size`` and one query per (scene, part, colour) present in it."""

    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    labels: np.ndarray  # (N, S, S) instance ids (nearest-neighbour resized)
    scene: np.ndarray  # (Q,) scene index of each query
    part: np.ndarray  # (Q,) part index
    colour: np.ndarray  # (Q,) colour index (0 = unknown)
    colour_rgb: np.ndarray  # (Q, 3) float32
    instance_ids: list[tuple[int, ...]]  # (Q,) instances matching the query
    part_names: list[str]
    record_ids: list[str]
    ref_crops: np.ndarray | None = None  # (Q, R, R, 3) uint8: each query's own masked crop (references.py)
    ref_choices: list[np.ndarray] | None = None  # (Q,) queries whose crop may be the reference of each query
    # both made by with_references() on first use: only the image query needs them

    def __len__(self) -> int:
        return len(self.scene)

    def reference(self, q: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """The reference image of query ``q`` (the image query): the crop of the same part and colour in another
        scene, random with ``rng``, else a fixed one."""
        from legodata.train.references import pick_reference

        if self.ref_crops is None:
            with_references(self)
        return self.ref_crops[pick_reference(self.ref_choices[q], q, rng)]

    def target(self, q: int) -> np.ndarray:
        return np.isin(self.labels[self.scene[q]], self.instance_ids[q])

    def colour_instance_ids(self) -> list[tuple[int, ...]]:
        """(Q,) every visible instance of each query's colour in its scene, whatever the part (the colour head's
        target: the second look's candidates)."""
        groups: dict[tuple[int, int], list[int]] = {}
        for q in range(len(self)):
            groups.setdefault((int(self.scene[q]), int(self.colour[q])), []).extend(self.instance_ids[q])
        return [tuple(groups[int(self.scene[q]), int(self.colour[q])]) for q in range(len(self))]

    def part_maps(self) -> np.ndarray:
        """(N, S, S) int16: every image's :func:`part_map`."""
        maps = np.zeros(self.labels.shape, np.int16)
        for n in range(len(maps)):
            queries = np.flatnonzero(self.scene == n)
            maps[n] = part_map(self.labels[n], [(self.part[q], self.instance_ids[q]) for q in queries])
        return maps


def part_map(labels: np.ndarray, queries) -> np.ndarray:
    """Every pixel's part class (the part head's target), int16: 0 background (or an instance no query covers),
    else part index + 1. ``queries``: (part index, instance ids) of the image's queries."""
    out = np.zeros(labels.shape, np.int16)
    for part, ids in queries:
        out[np.isin(labels, ids)] = part + 1
    return out


def _queries(instances, present: set[int], names: list[str] | None) -> list[tuple[tuple[str, int], list[int]]]:
    """The visible instances of a scene grouped by (part name, colour code), sorted."""
    queries: dict[tuple[str, int], list[int]] = {}
    for inst in instances:
        if int(inst["instance_id"]) not in present:
            continue
        key = (_part_name(names, inst["part_id"]), int(inst["colour_code"]))
        queries.setdefault(key, []).append(int(inst["instance_id"]))
    return sorted(queries.items())


def _stack(arrays: list[np.ndarray], empty_shape: tuple[int, ...], dtype) -> np.ndarray:
    return np.stack(arrays) if arrays else np.zeros(empty_shape, dtype)


def build_mask_samples(ds, vocab: Vocab, image_size: int, limit: int | None = None, where: str = "") -> MaskSamples:
    names = part_names_of(instance_feature(ds.features["instances"])["part_id"])
    ds = _raw_images(_first(ds, limit))
    images, labels, record_ids = [], [], []
    scene, part, colour, rgb, ids = [], [], [], [], []
    for n, row in enumerate(ds):
        label = _label(row["mask"])
        images.append(resize(_rgb(row["image"]), image_size))
        labels.append(resize(label.astype(np.int32), image_size, nearest=True))
        record_ids.append(str(row.get("record_id", n)))
        for (name, code), inst_ids in _queries(row["instances"], set(np.unique(label).tolist()), names):
            scene.append(n)
            part.append(vocab.part_index(name, where))
            colour.append(vocab.colour_index(code))
            rgb.append(colour_rgb(code))
            ids.append(tuple(inst_ids))
    size = (0, image_size, image_size)
    return MaskSamples(
        images=_stack(images, (*size, 3), np.uint8),
        labels=_stack(labels, size, np.int32),
        scene=np.asarray(scene, np.int64),
        part=np.asarray(part, np.int64),
        colour=np.asarray(colour, np.int64),
        colour_rgb=np.asarray(rgb, np.float32).reshape(-1, 3),
        instance_ids=ids,
        part_names=list(vocab.part_names),
        record_ids=record_ids,
    )


def with_references(samples: MaskSamples) -> MaskSamples:
    """``samples`` with the reference crops of the image query (:mod:`legodata.train.references`)."""
    from legodata.train.references import query_crops, reference_choices

    samples.ref_crops = query_crops(samples.images, samples.labels, samples.scene, samples.instance_ids)
    samples.ref_choices = reference_choices(samples.part, samples.colour, samples.scene)
    return samples


# --- rotation model samples -----------------------------------------------------------------------------------------


@dataclass
class RotationSamples:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB crops
    masks: np.ndarray  # (N, S, S) uint8 0/1
    part: np.ndarray  # (N,) part index
    R_m2c: np.ndarray  # (N, 3, 3)
    R_ray: np.ndarray  # (N, 3, 3) crop-centre ray rotation (identity without crop columns)
    sym: np.ndarray  # (N, G, 3, 3) symmetry group, padded with identities
    part_names: list[str]

    def __len__(self) -> int:
        return len(self.part)

    @property
    def R_allo(self) -> np.ndarray:
        return np.einsum("nji,njk->nik", self.R_ray, self.R_m2c)


def _padded_groups(groups: list[np.ndarray]) -> np.ndarray:
    """(N, G, 3, 3): every symmetry group padded with identities to the largest one."""
    g = max((len(s) for s in groups), default=1)
    sym = np.tile(np.eye(3), (len(groups), g, 1, 1))
    for i, s in enumerate(groups):
        sym[i, : len(s)] = s
    return sym


def build_rotation_samples(
    ds, vocab: Vocab, image_size: int, limit: int | None = None, where: str = ""
) -> RotationSamples:
    names = part_names_of(ds.features["part_id"])
    ds = _first(ds, limit)
    has_crop = all(c in ds.column_names for c in CROP_COLUMNS)
    ds = _raw_images(ds)
    images, masks, part, rot, ray, syms = [], [], [], [], [], []
    for row in ds:
        images.append(resize(_rgb(row["image"]), image_size))
        masks.append((resize(_label(row["mask"]), image_size, nearest=True) > 0).astype(np.uint8))
        part.append(vocab.part_index(_part_name(names, row["part_id"]), where))
        rot.append(np.asarray(row["R_m2c"], np.float64))
        ray.append(crop_ray(row["K"], row["crop_x"], row["crop_y"], row["crop_size"]) if has_crop else np.eye(3))
        group = np.asarray(row["symmetry_rotations"], np.float64).reshape(-1, 3, 3)
        syms.append(group if len(group) else np.eye(3)[None])
    size = (0, image_size, image_size)
    return RotationSamples(
        images=_stack(images, (*size, 3), np.uint8),
        masks=_stack(masks, size, np.uint8),
        part=np.asarray(part, np.int64),
        R_m2c=np.asarray(rot, np.float64).reshape(-1, 3, 3),
        R_ray=np.asarray(ray, np.float64).reshape(-1, 3, 3),
        sym=_padded_groups(syms),
        part_names=list(vocab.part_names),
    )
