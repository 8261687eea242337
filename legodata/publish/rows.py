"""Records -> rows: one ``scenes`` row per record, one ``parts`` row per sufficiently visible instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from legodata.core.records import Record
from legodata.geometry import crops
from legodata.publish.embed import embedded_png
from legodata.publish.stores import SourceRecord
from legodata.publish.targets import instance_targets
from legodata.publish.validate import Loaded, RecordError


@dataclass(frozen=True)
class CropOptions:
    size: int = 128  # output side in pixels
    margin: float = 0.1  # padding on each side, as a fraction of the bbox's longer side
    min_px: int = 50  # instances with fewer visible pixels get no parts row


def _lists(m) -> list:
    return [list(row) for row in m]


def depth_bytes(sr: SourceRecord, check: bool = False) -> bytes | None:
    """The record's depth PNG as stored, or ``None`` when it has none; ``check``: it must be a uint16 PNG of the
    image's size with a positive ``depth_scale_m`` (else a :class:`RecordError` naming the field)."""
    rec = sr.record
    if rec.depth_path is None:
        return None
    try:
        data = (sr.source.root / rec.depth_path).read_bytes()
    except FileNotFoundError:
        raise RecordError(sr, "depth_path", f"file {rec.depth_path} does not exist") from None
    except OSError as exc:
        raise RecordError(sr, "depth_path", f"cannot read {rec.depth_path} ({exc.strerror})") from None
    if check:
        depth = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if depth is None or depth.dtype != np.uint16 or depth.shape != (rec.height, rec.width):
            raise RecordError(
                sr, "depth_path", f"{rec.depth_path} is not a single-channel uint16 PNG of {rec.width}x{rec.height}"
            )
        if not (isinstance(rec.depth_scale_m, (int, float)) and rec.depth_scale_m > 0):
            raise RecordError(sr, "depth_scale_m", f"{rec.depth_scale_m!r}: a record with depth needs a positive scale")
    return data


def scene_row(rec: Record, loaded: Loaded, labels: dict[str, int], depth: bytes | None = None) -> dict[str, Any]:
    """The ``scenes`` row, ready for arrow: image, uint16 mask and uint16 depth (``None`` without one) embedded byte
    for byte as they are in the store, part ids as class indices (``labels``: part id -> index in the ClassLabel
    names)."""
    return {
        "image": {"bytes": loaded.image_bytes, "path": None},
        "mask": {"bytes": loaded.mask_bytes, "path": None},
        "depth": None if depth is None else {"bytes": depth, "path": None},
        "record_id": rec.record_id,
        "group_id": rec.group_id,
        "source": rec.source,
        "width": rec.width,
        "height": rec.height,
        "K": _lists(rec.K),
        "depth_scale_m": rec.depth_scale_m,
        "instances": [
            {
                "instance_id": i.instance_id,
                "part_id": labels[i.part_id],
                "colour_code": i.colour_code,
                "bbox_visib": list(i.bbox_visib),
                "bbox_obj": list(i.bbox_obj),
                "quat_m2c_wxyz": list(i.quat_m2c_wxyz),
                "R_m2c": _lists(i.R_m2c),
                "t_m2c": list(i.t_m2c),
                "visib_fract": i.visib_fract,
                "px_count_visib": i.px_count_visib,
                "px_count_all": i.px_count_all,
            }
            for i in rec.instances
        ],
    }


def visible_instances(rec: Record, min_px: int):
    """The instances that get a ``parts`` row."""
    return [i for i in rec.instances if i.px_count_visib >= max(1, min_px)]


def part_rows(
    rec: Record, loaded: Loaded, labels: dict[str, int], symmetry: dict[str, list], opts: CropOptions
) -> list[dict[str, Any]]:
    """The ``parts`` rows of ``rec``; ``symmetry`` maps part id -> list of 3x3 rotations (the part's group)."""
    rows = []
    targets = instance_targets(rec)
    for inst in visible_instances(rec, opts.min_px):
        target_quat, to_target = targets.get(inst.instance_id, (None, None))
        box = crops.crop_box(inst.bbox_visib, opts.margin)
        image = crops.crop_image(loaded.image_bgr, box, opts.size)
        mask = crops.crop_mask(loaded.mask, inst.instance_id, box, opts.size)
        rows.append(
            {
                "image": embedded_png(image),  # BGR array -> PNG stores RGB
                "mask": embedded_png(mask),
                "part_id": labels[inst.part_id],
                "colour_code": inst.colour_code,
                "quat_m2c_wxyz": list(inst.quat_m2c_wxyz),
                "R_m2c": _lists(inst.R_m2c),
                "t_m2c": list(inst.t_m2c),
                "symmetry_rotations": symmetry[inst.part_id],
                "quat_target_m2c_wxyz": target_quat,
                "rotation_to_target_wxyz": to_target,
                "crop_x": box[0],
                "crop_y": box[1],
                "crop_size": box[2],
                "K": _lists(rec.K),
                "K_crop": crops.crop_intrinsics(rec.K, box, opts.size),
                "visib_fract": inst.visib_fract,
                "px_count_visib": inst.px_count_visib,
                "record_id": rec.record_id,
                "group_id": rec.group_id,
                "instance_id": inst.instance_id,
                "source": rec.source,
            }
        )
    return rows
