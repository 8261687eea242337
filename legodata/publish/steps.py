"""The ``steps`` config and the VLM fine-tuning view of ``assembly`` records: pure functions (record -> rows) and
their ``datasets.Features``. ``publish()`` calls them; ``score-steps`` reads the same rows.

``steps``: one row per (observation, direction): an observation record of step ``n`` gives an ``assembly`` row
(put step ``n``'s parts on the build) and, for n >= 2, a ``disassembly`` row (take step ``n-1``'s parts off).
Images are embedded byte for byte: manual page, observation, its uint16 instance mask; ``relevant_mask`` and
``manual_relevant_mask`` are uint8 PNGs where pixel k > 0 is the k-th relevant part (``parts[k-1]``).

``sft``: the same samples in the format Hugging Face TRL's ``SFTTrainer`` reads for vision-language models
without any conversion: ``images`` (manual page, observation) and ``messages`` (a user turn with two image
placeholders and the question, an assistant turn with the JSON answer of :mod:`legodata.assembly.answers`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.assembly.answers import answer_from_block, answer_text, prompt
from legodata.core.records import Record
from legodata.errors import LegodataError, require
from legodata.publish.embed import embedded_file, embedded_png

DIRECTIONS = ("assembly", "disassembly")


def sample_id(rec: Record, direction: str) -> str:
    """The id that joins a ``steps`` row, its ``sft`` row and a prediction: ``<model>/<direction>/<step>/v<view>``."""
    block = rec.meta[direction]
    return f"{rec.group_id}/{direction}/{int(block['step']):03d}/v{int(rec.meta.get('view_id', 0)):02d}"


def _relevant(mask: np.ndarray, ids: list[int]) -> np.ndarray:
    out = np.zeros(mask.shape[:2], np.uint8)
    for k, iid in enumerate(ids, 1):
        out[mask == iid] = k
    return out


def _part_row(p: dict, symmetry: dict[str, list]) -> dict[str, Any]:
    base = p.get("base") or {}
    return {
        "instance_id": int(p["instance_id"]),
        "part_id": p["part_id"],
        "part_name": p["part_name"],
        "colour_code": int(p["colour_code"]),
        "colour_name": p["colour_name"],
        "action": p["action"],
        "quat_current_m2c_wxyz": p["quat_current_m2c_wxyz"],
        "R_current_m2c": p["R_current_m2c"],
        "t_current_m2c": p["t_current_m2c"],
        "quat_target_m2c_wxyz": p["quat_target_m2c_wxyz"],
        "R_target_m2c": p["R_target_m2c"],
        "t_target_m2c": p["t_target_m2c"],
        "R_target_m2b": p["R_target_m2b"],
        "t_target_m2b": p["t_target_m2b"],
        "rotation_action_wxyz": p["rotation_action_wxyz"],
        "R_action_c": p["R_action_c"],
        "rotation_action_deg": float(p["rotation_action_deg"]),
        "symmetry_rotations": symmetry.get(p["part_id"], [np.eye(3).tolist()]),
        "base_instance_id": int(base.get("instance_id", 0)),
        "base_part_id": str(base.get("part_id", "")),
        "base_colour_code": int(base.get("colour_code", -1)),
        "relation": p["relation"],
        "stud_offset": [int(x) for x in p["stud_offset"]],
        "level": int(p["level"]),
        "sentence": p["sentence"],
        "px_count_visib": int(p["px_count_visib"]),
        "manual_px_count_visib": int(p["manual_px_count_visib"]),
    }


def steps_rows(rec: Record, store_root: str | Path, symmetry: dict[str, list], images: bool = True) -> list[dict]:
    """The ``steps`` rows of one ``assembly`` record (none for other records). ``symmetry`` maps part id -> its
    symmetry rotations (3x3 lists); ``images=False`` leaves the image fields out (scoring needs none)."""
    if rec.source != "assembly":
        return []
    root = Path(store_root)
    rows = []
    obs_mask = None
    for direction in DIRECTIONS:
        block = rec.meta.get(direction)
        if not block:
            continue
        ids = [int(p["instance_id"]) for p in block["parts"]]
        row: dict[str, Any] = {
            "sample_id": sample_id(rec, direction),
            "record_id": rec.record_id,
            "group_id": rec.group_id,
            "source": rec.source,
            "model_name": str(rec.meta.get("model_name", rec.group_id)),
            "direction": direction,
            "step": int(block["step"]),
            "n_steps": int(rec.meta["n_steps"]),
            "view_id": int(rec.meta.get("view_id", 0)),
            "K": [list(r) for r in rec.K],
            "manual_K": rec.meta["manual_K"],
            "parts": [_part_row(p, symmetry) for p in block["parts"]],
            "sentence": block["sentence"],
            "answer": answer_text(answer_from_block(block)),
        }
        if images:
            if obs_mask is None:
                obs_mask = cv2.imread(str(root / rec.mask_path), cv2.IMREAD_UNCHANGED)
            page_mask = cv2.imread(str(root / block["manual_mask"]), cv2.IMREAD_UNCHANGED)
            if obs_mask is None or page_mask is None:
                raise LegodataError(f"record {rec.record_id}: cannot read its observation or manual mask")
            row["manual_image"] = embedded_file(root, block["manual_image"], "manual page", rec)
            row["observation"] = embedded_file(root, rec.image_path, "image", rec)
            row["observation_mask"] = embedded_file(root, rec.mask_path, "mask", rec)
            row["relevant_mask"] = embedded_png(_relevant(obs_mask, ids))
            row["manual_relevant_mask"] = embedded_png(_relevant(page_mask, ids))
        rows.append(row)
    return rows


def sft_row(row: dict[str, Any]) -> dict[str, Any]:
    """The TRL vision-SFT row of a ``steps`` row (with images): ``images`` + ``messages``."""
    return {
        "images": [row["manual_image"], row["observation"]],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "text": None},
                    {"type": "image", "text": None},
                    {"type": "text", "text": prompt(row["direction"], row["step"])},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": row["answer"]}]},
        ],
        "sample_id": row["sample_id"],
        "group_id": row["group_id"],
    }


def _types():
    datasets = require("datasets", "publish")
    return datasets.Features, datasets.Value, datasets.Image, datasets.List


def steps_features():
    """Features of the ``steps`` config."""
    Features, Value, Image, List = _types()
    f64, i32, s = Value("float64"), Value("int32"), Value("string")
    mat3 = List(List(f64, length=3), length=3)
    vec3, quat = List(f64, length=3), List(f64, length=4)
    part = {
        "instance_id": i32, "part_id": s, "part_name": s, "colour_code": i32, "colour_name": s, "action": s,
        "quat_current_m2c_wxyz": quat, "R_current_m2c": mat3, "t_current_m2c": vec3,
        "quat_target_m2c_wxyz": quat, "R_target_m2c": mat3, "t_target_m2c": vec3,
        "R_target_m2b": mat3, "t_target_m2b": vec3,
        "rotation_action_wxyz": quat, "R_action_c": mat3, "rotation_action_deg": f64,
        "symmetry_rotations": List(mat3),
        "base_instance_id": i32, "base_part_id": s, "base_colour_code": i32, "relation": s,
        "stud_offset": List(i32, length=2), "level": i32, "sentence": s,
        "px_count_visib": i32, "manual_px_count_visib": i32,
    }  # fmt: skip
    return Features(
        {
            "sample_id": s, "record_id": s, "group_id": s, "source": s, "model_name": s,
            "direction": s, "step": i32, "n_steps": i32, "view_id": i32,
            "manual_image": Image(), "observation": Image(), "observation_mask": Image(),
            "relevant_mask": Image(), "manual_relevant_mask": Image(),
            "K": mat3, "manual_K": mat3, "parts": List(part), "sentence": s, "answer": s,
        }
    )  # fmt: skip


def sft_features():
    """Features of the ``sft`` view (the layout of TRL's vision SFT datasets, e.g. llava-instruct-mix-vsft)."""
    Features, Value, Image, List = _types()
    content = List({"type": Value("string"), "text": Value("string")})
    return Features(
        {
            "images": List(Image()),
            "messages": List({"role": Value("string"), "content": content}),
            "sample_id": Value("string"),
            "group_id": Value("string"),
        }
    )


def symmetry_of_manifest(manifest: dict, step_deg: float = 10.0) -> dict[str, list]:
    """Part id -> symmetry rotations (3x3 lists, round axes sampled every ``step_deg``) from a store manifest."""
    from legodata.geometry.symmetry import SymmetryGroup

    out = {}
    for part_id, entry in (manifest.get("catalogue") or {}).items():
        if entry.get("symmetry"):
            out[part_id] = np.round(SymmetryGroup.from_json(entry["symmetry"]).sampled(step_deg), 12).tolist()
    return out


def load_step_rows(dataset: str | Path, split: str = "test") -> list[dict]:
    """``steps`` rows without images: from an assembly store (all its records) or from a published folder's
    ``steps`` config (``split``)."""
    from legodata.store.store import Store

    path = Path(dataset)
    if (path / "manifest.json").is_file():
        store = Store(path)
        symmetry = symmetry_of_manifest(store.read_manifest())
        return [row for rec in store.iter_records() for row in steps_rows(rec, store.root, symmetry, images=False)]
    datasets = require("datasets", "publish")
    try:
        ds = datasets.load_dataset(str(dataset), "steps", split=split)
    except Exception as exc:  # a missing config or split: one line, not a traceback
        raise LegodataError(f"{dataset}: cannot load the 'steps' config, split {split!r} ({exc})") from None
    keep = [c for c in ds.column_names if c not in IMAGE_COLUMNS]
    return list(ds.select_columns(keep))


IMAGE_COLUMNS = ("manual_image", "observation", "observation_mask", "relevant_mask", "manual_relevant_mask")
