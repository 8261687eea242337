"""The one record schema every source fills (renders, Label Studio, robot logs, assembly steps).

A record is one image with its annotations. Paths are relative to the store root and never escape it.
Rotations are model-to-camera (OpenCV camera frame), translations in metres, quaternions wxyz with w >= 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from legodata.core.decode import decode
from legodata.core.units import Box, Mat3, Vec3

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Instance:
    """One part instance seen in a record's image. ``instance_id`` is its pixel value in the mask."""

    instance_id: int
    part_id: str
    colour_code: int
    R_m2c: Mat3
    t_m2c: Vec3
    quat_m2c_wxyz: tuple[float, float, float, float]
    bbox_obj: Box  # projected silhouette ignoring occlusion, clipped to the image
    bbox_visib: Box
    px_count_all: int  # pixels of the unoccluded silhouette inside the image
    px_count_visib: int
    visib_fract: float  # px_count_visib / px_count_all (0 when px_count_all is 0)


@dataclass(frozen=True)
class Record:
    """One image with its ground truth. ``group_id`` is the unit of dataset splits (scene, model, episode)."""

    record_id: str
    source: str
    group_id: str
    image_path: str
    width: int
    height: int
    K: Mat3
    instances: tuple[Instance, ...]
    mask_path: str | None = None  # uint16 PNG, pixel k > 0 = instance k, 0 = background
    depth_path: str | None = None  # uint16 PNG, metres = value * depth_scale_m, 0 = no depth
    depth_scale_m: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @staticmethod
    def from_json(line: str) -> Record:
        """Parse one JSON line; raises ``ValueError`` naming a missing or invalid field."""
        d = json.loads(line)
        try:
            instances = tuple(decode(Instance, i) for i in d["instances"])
            rec = decode(Record, d, instances=lambda _: instances)
        except KeyError as exc:
            raise ValueError(f"record is missing field {exc.args[0]!r}") from None
        validate_record_paths(rec)
        return rec


def safe_relative_path(path: str) -> str:
    """``path`` if it is relative and stays inside its root, else ``ValueError``."""
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"path {path!r} must be relative to the store root and stay inside it")
    return str(p)


EXTRA_PATHS = "extra_paths"  # meta key: {name: path} of further files of a record (an assembly step's manual page)


def validate_record_paths(rec: Record) -> None:
    """Raise ``ValueError`` if a path of ``rec`` (also one in ``meta["extra_paths"]``) is absolute or climbs out of
    the store root."""
    named = [(name, getattr(rec, name)) for name in ("image_path", "mask_path", "depth_path")]
    extra = rec.meta.get(EXTRA_PATHS) or {}
    if not isinstance(extra, dict):
        raise ValueError(f"record {rec.record_id}: field meta.{EXTRA_PATHS}: must map names to paths")
    named += [(f"meta.{EXTRA_PATHS}.{k}", v) for k, v in sorted(extra.items())]
    for name, value in named:
        if value is not None:
            try:
                safe_relative_path(str(value))
            except ValueError as exc:
                raise ValueError(f"record {rec.record_id}: field {name}: {exc}") from None
