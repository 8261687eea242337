"""The ``runs`` config: one row per observation of a robot run (``robot_log`` records), with the labels the
importer derived from the logged actions: the rotation still needed to reach the judged-correct pose (camera
frame of the observation), the current and target orientation where the absolute pose is known, the VLM's
action, the episode's mode and source kind. Unknown values are ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from legodata.core.records import Record
from legodata.errors import require
from legodata.publish.embed import embedded_file

SOURCE = "robot_log"
IMAGE_COLUMNS = ("image", "mask")


# The row's values from the record's meta, in column order: (key, type); type None keeps the value (number lists).
_EPISODE_FIELDS = (("mode", str), ("source_kind", str), ("outcome", str), ("step", int), ("t", float), ("camera", str))
_LABEL_FIELDS = (
    ("track", str), ("part_id", str), ("colour_code", int), ("instance_id", int), ("action", str), ("verb", str),
    ("rotation_to_target_wxyz", None), ("symmetry_reduced", bool), ("steps_to_target", int),
    ("target_judged_by", str), ("quat_m2c_wxyz", None), ("t_m2c", None), ("quat_target_m2c_wxyz", None),
    ("t_target_m2c", None), ("judged_correct", bool), ("judged_by", str),
)  # fmt: skip


def _meta_values(m: dict[str, Any], fields: tuple[tuple[str, type | None], ...]) -> dict[str, Any]:
    """``m[key]`` as ``type`` for each field (None stays None)."""
    return {key: m.get(key) if kind is None or m.get(key) is None else kind(m[key]) for key, kind in fields}


def runs_rows(rec: Record, store_root: str | Path, images: bool = True) -> list[dict[str, Any]]:
    """The ``runs`` row of one ``robot_log`` record (none for other sources); ``images=False`` leaves the image
    columns out (for counting rows)."""
    if rec.source != SOURCE:
        return []
    m = rec.meta
    row: dict[str, Any] = {
        "record_id": rec.record_id,
        "group_id": rec.group_id,
        "episode": str(m.get("episode", rec.group_id)),
        **_meta_values(m, _EPISODE_FIELDS),
        "K": [list(r) for r in rec.K],
        "width": rec.width,
        "height": rec.height,
        **_meta_values(m, _LABEL_FIELDS),
    }
    if images:
        root = Path(store_root)
        row["image"] = embedded_file(root, rec.image_path, "image", rec)
        row["mask"] = embedded_file(root, rec.mask_path, "mask", rec)
    return [row]


def runs_features():
    """Features of the ``runs`` config."""
    datasets = require("datasets", "publish")
    Value, Image, List = datasets.Value, datasets.Image, datasets.List
    f64, i32, s, b = Value("float64"), Value("int32"), Value("string"), Value("bool")
    quat, vec3 = List(f64, length=4), List(f64, length=3)
    return datasets.Features(
        {
            "image": Image(), "mask": Image(), "record_id": s, "group_id": s, "episode": s, "mode": s,
            "source_kind": s, "outcome": s, "step": i32, "t": f64, "camera": s,
            "K": List(List(f64, length=3), length=3), "width": i32, "height": i32,
            "track": s, "part_id": s, "colour_code": i32, "instance_id": i32, "action": s, "verb": s,
            "rotation_to_target_wxyz": quat, "symmetry_reduced": b, "steps_to_target": i32, "target_judged_by": s,
            "quat_m2c_wxyz": quat, "t_m2c": vec3, "quat_target_m2c_wxyz": quat, "t_target_m2c": vec3,
            "judged_correct": b, "judged_by": s,
        }
    )  # fmt: skip
