"""Published datasets -> arrays -> torch samples.

``open_dataset`` loads a published folder (or Hub id) with one-line errors for what the user can fix. The
``build_*_samples`` functions decode a split once into compact numpy arrays (pure numpy, no torch); the small
``*TorchDataset`` wrappers turn them into tensors, with deterministic per-(seed, epoch, index) augmentation so a
resumed run sees exactly the samples an uninterrupted one would.

Rotation labels are *allocentric*: ``R_allo = R_ray^T @ R_m2c`` where ``R_ray`` is the smallest rotation taking the
camera's optical axis onto the ray through the crop centre. A crop of an off-centre part looks like a centred view
from a camera turned along that ray, so the network learns what the crop shows; ``R_m2c = R_ray @ R_allo`` undoes it.
Rotating a crop in-plane by ``a`` (about the crop centre, clockwise as displayed, OpenCV image axes: x right, y down)
is a rotation about the viewing axis: the label becomes ``Rz(a) @ R_allo`` (see :func:`rotate_inplane`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.errors import LegodataError, require

SCENES_COLUMNS = ("image", "mask", "instances")
INSTANCE_FIELDS = ("instance_id", "part_id", "colour_code")
PARTS_COLUMNS = ("image", "mask", "part_id", "R_m2c", "symmetry_rotations")
CROP_COLUMNS = ("K", "crop_x", "crop_y", "crop_size")  # optional: without them the crop is taken as centred
UNKNOWN_COLOUR = 0  # colour index reserved for colour codes the model has not seen


# --- loading --------------------------------------------------------------------------------------------------------


def _looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") != 1 or Path(name).exists()


def open_dataset(dataset: str, config: str):
    """``datasets.DatasetDict`` of one config of a published folder or Hub id, or a one-line LegodataError."""
    datasets = require("datasets", "publish")
    path = Path(dataset).expanduser()
    if _looks_local(dataset):
        if not path.is_dir():
            raise LegodataError(f"dataset {dataset}: no such folder (give a folder made by `legodata publish`)")
        saved = path / config / "dataset_dict.json"
        if saved.is_file():  # a DatasetDict.save_to_disk per config
            return datasets.load_from_disk(str(path / config))
        if not (path / "README.md").is_file() and not (path / "data" / config).is_dir():
            raise LegodataError(
                f"dataset {dataset}: no README.md and no data/{config}/ folder; is this a `legodata publish` output?"
            )
    if not path.is_dir():
        _check_hub_reachable(dataset)
    try:
        return datasets.load_dataset(str(path) if path.is_dir() else dataset, config)
    except ValueError as exc:
        if "config" in str(exc).lower():
            raise LegodataError(
                f"dataset {dataset}: has no config {config!r} ({_short(exc)}); publish it with `legodata publish`, "
                "which writes the configs 'scenes' and 'parts'"
            ) from None
        raise
    except (ConnectionError, OSError) as exc:  # DatasetNotFoundError is a FileNotFoundError, so an OSError
        if path.is_dir():
            raise LegodataError(f"dataset {dataset}: cannot read config {config!r}: {_short(exc)}") from None
        raise LegodataError(
            f"dataset {dataset}: not a local folder, and the Hugging Face Hub has no such dataset or cannot be "
            f"reached (offline?); download it first or give the path of a published folder ({_short(exc)})"
        ) from None


def _check_hub_reachable(dataset: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds, not after the Hub client's minute of retries, when the Hub's host cannot be reached.

    Skipped under ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` (then ``datasets`` reads its local cache)."""
    import os
    import socket
    from urllib.parse import urlparse

    flags = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    if any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in flags):
        return
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise LegodataError(
            f"dataset {dataset}: not a local folder, and the Hugging Face Hub ({host}) cannot be reached ({exc}); "
            "give the path of a published folder, or set HF_HUB_OFFLINE=1 to use a copy in the local cache"
        ) from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def check_columns(dsd, dataset: str, config: str, columns: tuple[str, ...], instance_fields: tuple[str, ...] = ()):
    """Every split has ``columns`` (and each instance ``instance_fields``); else a LegodataError naming the field."""
    for split, ds in dsd.items():
        missing = [c for c in columns if c not in ds.column_names]
        if missing:
            raise LegodataError(
                f"dataset {dataset} config {config!r} split {split!r}: missing column {missing[0]!r} "
                f"(has {', '.join(ds.column_names)}); re-publish it with `legodata publish`"
            )
        if instance_fields:
            inner = _inner(ds.features["instances"])
            names = list(inner) if isinstance(inner, dict) else []
            for f in instance_fields:
                if f not in names:
                    raise LegodataError(
                        f"dataset {dataset} config {config!r} split {split!r}: instances lack field {f!r}; "
                        "re-publish it with `legodata publish`"
                    )


def require_split(dsd, dataset: str, split: str):
    if split not in dsd or len(dsd[split]) == 0:
        raise LegodataError(
            f"dataset {dataset}: split {split!r} is missing or empty (has {', '.join(dsd) or 'none'}); "
            "publish more groups or change --split"
        )
    return dsd[split]


def _inner(feature):
    """The per-instance feature dict of an ``instances`` column (``List({...})`` or ``[{...}]``)."""
    inner = getattr(feature, "feature", feature)
    if isinstance(inner, list):
        inner = inner[0]
    return inner


def part_names_of(feature) -> list[str] | None:
    """ClassLabel names of a part-id feature, or None when part ids are stored as strings."""
    names = getattr(feature, "names", None)
    return list(names) if names is not None else None


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


def _raw_images(ds, columns=("image", "mask")):
    datasets = require("datasets", "publish")
    for c in columns:
        ds = ds.cast_column(c, datasets.Image(decode=False))
    return ds


def _resize(image: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    if nearest:
        ys = np.clip(np.floor((np.arange(size) + 0.5) * h / size).astype(int), 0, h - 1)
        xs = np.clip(np.floor((np.arange(size) + 0.5) * w / size).astype(int), 0, w - 1)
        return image[np.ix_(ys, xs)]
    interp = cv2.INTER_AREA if h > size or w > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


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
    inner = _inner(ds.features["instances"])
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

    def __len__(self) -> int:
        return len(self.scene)

    def target(self, q: int) -> np.ndarray:
        return np.isin(self.labels[self.scene[q]], self.instance_ids[q])


def build_mask_samples(ds, vocab: Vocab, image_size: int, limit: int | None = None, where: str = "") -> MaskSamples:
    names = part_names_of(_inner(ds.features["instances"])["part_id"])
    if limit:
        ds = ds.select(range(min(limit, len(ds))))
    ds = _raw_images(ds)
    images, labels, record_ids = [], [], []
    scene, part, colour, rgb, ids = [], [], [], [], []
    for n, row in enumerate(ds):
        image = _rgb(row["image"])
        label = _decode(row["mask"], cv2.IMREAD_UNCHANGED)
        if label.ndim == 3:
            label = label[:, :, 0]
        images.append(_resize(image, image_size))
        labels.append(_resize(label.astype(np.int32), image_size, nearest=True))
        record_ids.append(str(row.get("record_id", n)))
        present = set(np.unique(label).tolist())
        queries: dict[tuple[str, int], list[int]] = {}
        for inst in row["instances"]:
            if int(inst["instance_id"]) not in present:
                continue
            name = names[inst["part_id"]] if names is not None else str(inst["part_id"])
            queries.setdefault((name, int(inst["colour_code"])), []).append(int(inst["instance_id"]))
        for (name, code), inst_ids in sorted(queries.items()):
            scene.append(n)
            part.append(vocab.part_index(name, where))
            colour.append(vocab.colour_index(code))
            rgb.append(colour_rgb(code))
            ids.append(tuple(inst_ids))
    size = (0, image_size, image_size)
    return MaskSamples(
        images=np.stack(images) if images else np.zeros((*size, 3), np.uint8),
        labels=np.stack(labels) if labels else np.zeros(size, np.int32),
        scene=np.asarray(scene, np.int64),
        part=np.asarray(part, np.int64),
        colour=np.asarray(colour, np.int64),
        colour_rgb=np.asarray(rgb, np.float32).reshape(-1, 3),
        instance_ids=ids,
        part_names=list(vocab.part_names),
        record_ids=record_ids,
    )


# --- rotation model samples -----------------------------------------------------------------------------------------


def rz(angle: float) -> np.ndarray:
    """Rotation by ``angle`` (radians) about the camera's z axis (OpenCV frame: clockwise as displayed)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_inplane(image: np.ndarray, angle: float, nearest: bool = False) -> np.ndarray:
    """Rotate a square crop about its centre so that pixel offset ``d`` moves to ``Rz2(angle) @ d`` (x right, y down).

    For a view along the optical axis this is exactly what ``R_m2c -> rz(angle) @ R_m2c`` does to the projection."""
    size = image.shape[1], image.shape[0]
    cx, cy = (size[0] - 1) / 2.0, (size[1] - 1) / 2.0
    c, s = np.cos(angle), np.sin(angle)
    m = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy]])
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(image, m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def ray_rotation(K, u: float, v: float) -> np.ndarray:
    """The smallest rotation taking the optical axis (0, 0, 1) onto the viewing ray through pixel ``(u, v)``."""
    d = np.linalg.solve(np.asarray(K, dtype=np.float64), np.array([u, v, 1.0]))
    d /= np.linalg.norm(d)
    axis = np.cross([0.0, 0.0, 1.0], d)
    s, c = np.linalg.norm(axis), d[2]
    if s < 1e-12:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


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


def crop_ray(K, crop_x: int, crop_y: int, crop_size: int) -> np.ndarray:
    """``ray_rotation`` at the centre of a crop box given in original pixels (pixel centres at integers)."""
    return ray_rotation(K, crop_x + (crop_size - 1) / 2.0, crop_y + (crop_size - 1) / 2.0)


def build_rotation_samples(
    ds, vocab: Vocab, image_size: int, limit: int | None = None, where: str = ""
) -> RotationSamples:
    names = part_names_of(ds.features["part_id"])
    if limit:
        ds = ds.select(range(min(limit, len(ds))))
    has_crop = all(c in ds.column_names for c in CROP_COLUMNS)
    ds = _raw_images(ds)
    images, masks, part, rot, ray, syms = [], [], [], [], [], []
    for row in ds:
        images.append(_resize(_rgb(row["image"]), image_size))
        m = _decode(row["mask"], cv2.IMREAD_UNCHANGED)
        if m.ndim == 3:
            m = m[:, :, 0]
        masks.append((_resize(m, image_size, nearest=True) > 0).astype(np.uint8))
        name = names[row["part_id"]] if names is not None else str(row["part_id"])
        part.append(vocab.part_index(name, where))
        rot.append(np.asarray(row["R_m2c"], np.float64))
        ray.append(crop_ray(row["K"], row["crop_x"], row["crop_y"], row["crop_size"]) if has_crop else np.eye(3))
        group = np.asarray(row["symmetry_rotations"], np.float64).reshape(-1, 3, 3)
        syms.append(group if len(group) else np.eye(3)[None])
    g = max((len(s) for s in syms), default=1)
    sym = np.tile(np.eye(3), (len(syms), g, 1, 1))
    for i, s in enumerate(syms):
        sym[i, : len(s)] = s
    size = (0, image_size, image_size)
    return RotationSamples(
        images=np.stack(images) if images else np.zeros((*size, 3), np.uint8),
        masks=np.stack(masks) if masks else np.zeros(size, np.uint8),
        part=np.asarray(part, np.int64),
        R_m2c=np.asarray(rot, np.float64).reshape(-1, 3, 3),
        R_ray=np.asarray(ray, np.float64).reshape(-1, 3, 3),
        sym=sym,
        part_names=list(vocab.part_names),
    )


# --- tensors --------------------------------------------------------------------------------------------------------


def image_tensor(rgb: np.ndarray):
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]."""
    torch = require("torch", "train")
    t = torch.from_numpy(np.require(rgb, requirements=["C", "W"])).float().div_(127.5).sub_(1.0)
    return t.movedim(-1, -3)


def rotation_input(rgb: np.ndarray, mask: np.ndarray):
    """Masked crop + mask channel -> float (..., 4, H, W)."""
    torch = require("torch", "train")
    m = mask[..., None].astype(np.float32)
    x = image_tensor(rgb) * torch.from_numpy(np.ascontiguousarray(m)).movedim(-1, -3)
    return torch.cat([x, torch.from_numpy(np.ascontiguousarray(m)).movedim(-1, -3)], dim=-3)


class MaskTorchDataset:
    """Map-style dataset (what ``torch.utils.data.DataLoader`` needs) of mask queries as tensors."""

    def __init__(self, samples: MaskSamples) -> None:
        self.samples = samples
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, q: int) -> dict:
        torch = require("torch", "train")
        s = self.samples
        return {
            "image": image_tensor(s.images[s.scene[q]]),
            "part": torch.tensor(s.part[q]),
            "colour": torch.tensor(s.colour[q]),
            "colour_rgb": torch.from_numpy(s.colour_rgb[q].copy()),
            "target": torch.from_numpy(s.target(q)[None].astype(np.float32)),
        }


class RotationTorchDataset:
    """Crops as tensors; with ``augment`` each (seed, epoch, index) gets a fixed random in-plane rotation."""

    def __init__(self, samples: RotationSamples, augment: bool = False, seed: int = 0) -> None:
        self.samples, self.augment, self.seed = samples, augment, seed
        self.r_allo = samples.R_allo
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

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


def make_mask_dataset(samples: MaskSamples) -> MaskTorchDataset:
    return MaskTorchDataset(samples)


def make_rotation_dataset(samples: RotationSamples, augment: bool = False, seed: int = 0) -> RotationTorchDataset:
    return RotationTorchDataset(samples, augment, seed)
