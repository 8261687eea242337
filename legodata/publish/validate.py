"""Checks every record before anything is written; errors name the store, the record and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.errors import LegodataError
from legodata.publish.stores import SourceRecord
from legodata.sources import source_names

QUAT_TOL = 1e-4
ROT_TOL = 1e-4


@dataclass(frozen=True)
class Loaded:
    """A checked record's files: the encoded bytes (embedded as they are) and the decoded arrays."""

    image_bytes: bytes
    mask_bytes: bytes | None  # None: the record has no mask (no scenes/parts rows, other configs only)
    image_bgr: np.ndarray  # H x W x 3 uint8
    mask: np.ndarray | None  # H x W, integer instance ids


class RecordError(LegodataError):
    def __init__(self, sr: SourceRecord, field: str, problem: str) -> None:
        super().__init__(f"store {sr.source.root}: record {sr.record.record_id}: field {field}: {problem}")


def _read(sr: SourceRecord, field: str, rel: str | None) -> bytes:
    if rel is None:
        raise RecordError(sr, field, "is missing (publishing needs an image and an instance mask)")
    path: Path = sr.source.root / rel
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RecordError(sr, field, f"file {rel} does not exist") from None
    except OSError as exc:
        raise RecordError(sr, field, f"cannot read {rel} ({exc.strerror})") from None


def _finite(values: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.shape != shape or not np.all(np.isfinite(arr)):
        return None
    return arr


def check_metadata(sr: SourceRecord, part_ids: set[str] | dict) -> None:
    """Field checks that need no file."""
    rec = sr.record
    if rec.source not in source_names():
        raise RecordError(sr, "source", f"{rec.source!r} is not one of {', '.join(source_names())}")
    if rec.width <= 0 or rec.height <= 0:
        raise RecordError(sr, "width", f"image size {rec.width}x{rec.height} is not positive")
    if _finite(rec.K, (3, 3)) is None:
        raise RecordError(sr, "K", "must be a 3x3 matrix of finite numbers")
    seen: set[int] = set()
    for n, inst in enumerate(rec.instances):
        where = f"instances[{n}]"
        if inst.instance_id <= 0 or inst.instance_id > 65535:
            raise RecordError(sr, f"{where}.instance_id", f"{inst.instance_id} is not a mask value in 1..65535")
        if inst.instance_id in seen:
            raise RecordError(sr, f"{where}.instance_id", f"{inst.instance_id} appears twice")
        seen.add(inst.instance_id)
        if inst.part_id not in part_ids:
            raise RecordError(sr, f"{where}.part_id", f"{inst.part_id!r} is not in the manifests' part catalogue")
        if len(inst.bbox_visib) != 4:
            raise RecordError(sr, f"{where}.bbox_visib", "must be 4 integers x, y, width, height")
        if not (0.0 <= inst.visib_fract <= 1.0):
            raise RecordError(sr, f"{where}.visib_fract", f"{inst.visib_fract} is not in [0, 1]")
    if rec.instances:
        _check_poses(sr)


def _check_poses(sr: SourceRecord) -> None:
    """Unit quaternions, rotation matrices, finite translations: all instances at once."""
    insts = sr.record.instances
    for name, shape in (("quat_m2c_wxyz", (4,)), ("R_m2c", (3, 3)), ("t_m2c", (3,))):
        try:
            arr = np.asarray([getattr(i, name) for i in insts], dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != (len(insts), *shape) or not np.all(np.isfinite(arr)):
            bad = next((n for n, i in enumerate(insts) if _finite(getattr(i, name), shape) is None), 0)
            raise RecordError(sr, f"instances[{bad}].{name}", f"must be {'x'.join(map(str, shape))} finite numbers")
        if name == "quat_m2c_wxyz":
            norms = np.linalg.norm(arr, axis=1)
            bad = np.flatnonzero(np.abs(norms - 1.0) > QUAT_TOL)
            if len(bad):
                n = int(bad[0])
                raise RecordError(sr, f"instances[{n}].{name}", f"is not a unit quaternion (norm {norms[n]:.6g})")
        elif name == "R_m2c":
            err = np.abs(arr @ arr.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
            bad = np.flatnonzero((err > ROT_TOL) | (np.linalg.det(arr) < 0))
            if len(bad):
                raise RecordError(sr, f"instances[{int(bad[0])}].{name}", "is not a rotation matrix")


def load(sr: SourceRecord) -> Loaded:
    """Read and decode a record's files (already checked by :func:`load_and_check`; sizes checked again)."""
    rec = sr.record
    image_bytes = _read(sr, "image_path", rec.image_path)
    mask_bytes = _read(sr, "mask_path", rec.mask_path)
    image = cv2.imdecode(np.frombuffer(image_bytes, np.uint8), cv2.IMREAD_COLOR)
    mask = cv2.imdecode(np.frombuffer(mask_bytes, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or mask is None or image.shape[:2] != mask.shape or mask.shape != (rec.height, rec.width):
        raise RecordError(sr, "image_path", "image or mask changed on disk while publishing")
    return Loaded(image_bytes, mask_bytes, image, mask)


def load_and_check(sr: SourceRecord, part_ids: set[str] | dict) -> Loaded:
    """Check ``sr`` fully (fields, image decodes, mask size and ids) and return its files."""
    check_metadata(sr, part_ids)
    rec = sr.record
    image_bytes = _read(sr, "image_path", rec.image_path)
    image = cv2.imdecode(np.frombuffer(image_bytes, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise RecordError(sr, "image_path", f"{rec.image_path} does not decode as an image")
    if image.shape[:2] != (rec.height, rec.width):
        raise RecordError(
            sr,
            "image_path",
            f"{rec.image_path} is {image.shape[1]}x{image.shape[0]}, the record says {rec.width}x{rec.height}",
        )
    if rec.mask_path is None:
        if rec.instances:
            raise RecordError(sr, "mask_path", "a record with instances needs an instance mask")
        return Loaded(image_bytes, None, image, None)
    mask_bytes = _read(sr, "mask_path", rec.mask_path)
    mask = cv2.imdecode(np.frombuffer(mask_bytes, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise RecordError(sr, "mask_path", f"{rec.mask_path} does not decode as an image")
    if mask.ndim != 2 or mask.dtype not in (np.uint8, np.uint16):
        raise RecordError(sr, "mask_path", f"{rec.mask_path} is not a single-channel 8- or 16-bit PNG")
    if mask.shape != (rec.height, rec.width):
        raise RecordError(
            sr,
            "mask_path",
            f"{rec.mask_path} is {mask.shape[1]}x{mask.shape[0]}, the image is {rec.width}x{rec.height}",
        )
    counts = np.bincount(mask.ravel())
    present = {int(v) for v in np.flatnonzero(counts) if v}
    known = {inst.instance_id for inst in rec.instances}
    stray = sorted(present - known)
    if stray:
        raise RecordError(sr, "mask_path", f"pixel value {stray[0]} has no instance with that instance_id")
    for n, inst in enumerate(rec.instances):
        got = int(counts[inst.instance_id]) if inst.instance_id < len(counts) else 0
        if got != inst.px_count_visib:
            raise RecordError(
                sr,
                f"instances[{n}].px_count_visib",
                f"{inst.px_count_visib}, but the mask has {got} pixels with instance_id {inst.instance_id}",
            )
    return Loaded(image_bytes, mask_bytes, image, mask)
