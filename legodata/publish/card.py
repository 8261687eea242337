"""README.md of the dataset folder: YAML header (configs, features, licence) + the template in templates/."""

from __future__ import annotations

import json
import re
import string
from datetime import date
from importlib import resources
from typing import Any

import numpy as np
import yaml

from legodata.publish.splits import SPLITS
from legodata.publish.stats import ANGLE_BIN_DEG, UP_AXES, Stats

TEMPLATE = "dataset_card.md"


def load_template() -> str:
    return resources.files("legodata.publish").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def yaml_header(
    licence: str, pretty_name: str, features: dict[str, Any], splits: dict[str, dict[str, dict[str, int]]]
) -> str:
    """``splits``: config -> split -> {num_examples, num_bytes}; empty splits are left out of ``configs``."""
    configs, infos = [], []
    for config in splits:
        present = [s for s in SPLITS if splits[config][s]["num_examples"] > 0]
        entry: dict[str, Any] = {"config_name": config}
        if config == "scenes":
            entry["default"] = True
        entry["data_files"] = [{"split": s, "path": f"data/{config}/{s}-*.parquet"} for s in present]
        configs.append(entry)
        size = sum(splits[config][s]["num_bytes"] for s in present)
        infos.append(
            {
                "config_name": config,
                "features": features[config]._to_yaml_list(),
                "splits": [
                    {
                        "name": s,
                        "num_bytes": splits[config][s]["num_bytes"],
                        "num_examples": splits[config][s]["num_examples"],
                    }
                    for s in present
                ],
                "download_size": size,
                "dataset_size": size,
            }
        )
    n_rows = sum(v["num_examples"] for v in splits["scenes"].values())
    header = {
        "license": licence,
        "pretty_name": pretty_name,
        "tags": ["lego", "robotics", "synthetic", "6d-pose-estimation", "instance-segmentation", "legodata"],
        "task_categories": ["image-segmentation", "object-detection"],
        "size_categories": [_size_category(n_rows)],
        "configs": configs,
        "dataset_info": infos,
    }
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def _table(rows: list[list[Any]]) -> str:
    return "\n".join("| " + " | ".join(str(c) for c in row) + " |" for row in rows) or "| (none) |"


def _bibkey(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "legodata_dataset"


def render_card(
    *,
    header: str,
    pretty_name: str,
    repo_id: str | None,
    stats: Stats,
    sources: list,
    catalogue: dict[str, dict[str, Any]],
    groups_per_split: dict[str, int],
    ratios: tuple[float, float, float],
    seed: int,
    crop: Any,
    licence: str,
    preview_caption: str,
    legodata_version: str,
    depth_images: int = 0,
    extra_rows: dict[str, int] | None = None,
) -> str:
    """The whole README.md text. ``extra_rows``: rows of each extra config present (``steps``, ``sft``, ``runs``)."""
    n_images = sum(stats.records.values())
    values = {
        "pretty_name": pretty_name,
        "legodata_version": legodata_version,
        "preview_caption": preview_caption,
        "depth_note": _depth_note(depth_images, n_images),
        "load_path": repo_id or "path/to/this/folder",
        **_content_values(stats, crop, n_images, extra_rows or {}),
        **_split_values(stats, sources, groups_per_split, ratios, seed),
        **_provenance_values(stats, sources),
        **_part_values(stats, catalogue),
        "licence": _licence_text(licence),
        "citation": _citation(repo_id, pretty_name, legodata_version),
    }
    body = string.Template(load_template()).safe_substitute({k: str(v) for k, v in values.items()})
    return header + "\n" + body


EXTRA_CONFIG_TEXT = {
    "steps": (
        "assembly steps: manual page + observation + relevant parts, current/target pose, rotation action, sentence",
        "- **`steps`**: one row per assembly step and direction (`assembly`, `disassembly`): `manual_image`, "
        "`observation`, `observation_mask` (uint16 instance ids), `relevant_mask` and `manual_relevant_mask` (pixel "
        "k > 0 = the k-th relevant part), `K`, `manual_K`, and per relevant part its current and target pose in the "
        "camera frame, target pose in the build frame, the rotation action `R_target R_current^T` (the smallest over "
        "the part's symmetry group), the part it attaches to, the stud offset and the action as a sentence.",
    ),
    "sft": (
        "the `steps` samples as a VLM fine-tuning view (TRL vision SFT: images + messages)",
        "- **`sft`**: the `steps` samples in the layout Hugging Face TRL's vision SFT reads without conversion: "
        "`images` (manual page, observation) and `messages` (the question with two image placeholders, the answer "
        "as JSON); `sample_id` joins a row to its `steps` row.",
    ),
    "runs": (
        "robot-run observations with labels derived from the logged actions",
        "- **`runs`**: one row per observation of a robot run: `image`, `mask`, `K`, the episode, its `mode` "
        "(`assemble`/`disassemble`) and `source_kind` (`robot`/`human`/`tool`), the part, the VLM's action, "
        "`rotation_to_target_wxyz` (the rotation still needed to reach the pose judged correct, camera frame of this "
        "observation), and the current and target orientation where the absolute pose is known (`None` otherwise).",
    ),
}


def _content_values(stats: Stats, crop: Any, n_images: int, extra_rows: dict[str, int]) -> dict[str, Any]:
    """The configs table, the crop settings and the row counts."""
    extras = [c for c in EXTRA_CONFIG_TEXT if extra_rows.get(c)]
    return {
        "configs_table": _table(
            [
                ["`scenes`", n_images, "images + instance masks + per-instance poses"],
                ["`parts`", sum(stats.part_rows.values()), "one crop per visible part + pose + symmetry group"],
            ]
            + [[f"`{c}`", extra_rows[c], EXTRA_CONFIG_TEXT[c][0]] for c in extras]
        ),
        "extra_configs": "".join("\n" + EXTRA_CONFIG_TEXT[c][1] for c in extras),
        "min_px": crop.min_px,
        "margin_pct": f"{crop.margin * 100:g}",
        "crop_size": crop.size,
        "n_images": n_images,
        "n_instances": sum(stats.instances.values()),
        "n_part_rows": sum(stats.part_rows.values()),
    }


def _split_values(
    stats: Stats, sources: list, groups_per_split: dict[str, int], ratios: tuple[float, float, float], seed: int
) -> dict[str, Any]:
    """How the splits were made (group kind, ratios, seed, store-label prefixes) and what each holds."""
    kinds = sorted({str(s.manifest.get("source", "?")) for s in sources})
    return {
        "group_kind": "scene" if kinds == ["render"] else "scene, model or episode",
        "ratio_train": f"{ratios[0]:g}",
        "ratio_validation": f"{ratios[1]:g}",
        "ratio_test": f"{ratios[2]:g}",
        "split_seed": seed,
        "prefix_note": (
            " Several stores were published together: `record_id` and `group_id` start with the store's label "
            "(`label/`); the split is computed from the store's own group id."
            if len(sources) > 1
            else ""
        ),
        "splits_table": _table(
            [[s, groups_per_split.get(s, 0), stats.records[s], stats.instances[s], stats.part_rows[s]] for s in SPLITS]
        ),
    }


def _provenance_values(stats: Stats, sources: list) -> dict[str, Any]:
    """The stores, their settings, package versions and conventions, from their manifests."""
    settings = {s.label: s.manifest.get("settings", {}) for s in sources}
    versions: dict[str, set[str]] = {}
    conventions: dict[str, str] = {}
    for s in sources:
        for name, v in (s.manifest.get("versions") or {}).items():
            versions.setdefault(name, set()).add(str(v))
        for k, v in (s.manifest.get("conventions") or {}).items():
            conventions.setdefault(k, str(v))
    stores = [
        [f"`{s.label}`", s.manifest.get("source", "?")]
        + [stats.per_store[s.label][k] for k in ("records", "instances", "part_rows")]
        + [s.manifest.get("seed", "-")]
        for s in sources
    ]
    return {
        "stores_table": _table(stores),
        "settings_json": json.dumps(settings, indent=1, sort_keys=True),
        "versions_table": _table(
            [["package", "version"], ["---", "---"]]
            + [[f"`{name}`", ", ".join(sorted(v))] for name, v in sorted(versions.items())]
        )
        if versions
        else "(not recorded)",
        "conventions_list": "\n".join(f"- **{k}**: {v}" for k, v in conventions.items()) or "(not recorded)",
    }


def _part_values(stats: Stats, catalogue: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The parts table (symmetry, counts) and the orientation histograms."""
    parts = [
        [
            f"`{pid}`",
            entry.get("name", ""),
            _symmetry_text(entry["symmetry"]),
            stats.instances_per_part[pid],
            stats.part_rows_per_part[pid],
        ]
        for pid, entry in catalogue.items()
    ]
    return {
        "parts_table": _table(parts),
        "angle_table": _table(
            [[f"{a}-{a + ANGLE_BIN_DEG}", stats.angle_hist[a]] for a in range(0, 180, ANGLE_BIN_DEG)]
        ),
        "up_table": _table([[axis, stats.up_hist[axis]] for axis in UP_AXES]),
    }


def _licence_text(licence: str) -> str:
    cc_by = " ([Creative Commons Attribution 4.0](https://creativecommons.org/licenses/by/4.0/))"
    return f"`{licence}`" + (cc_by if licence == "cc-by-4.0" else "")


def _citation(repo_id: str | None, pretty_name: str, legodata_version: str) -> str:
    """A BibTeX ``@misc`` entry for the dataset."""
    key = _bibkey(repo_id or pretty_name)
    url = f"https://huggingface.co/datasets/{repo_id}" if repo_id else "(local dataset)"
    return (
        f"@misc{{{key},\n  title = {{{pretty_name}}},\n  author = {{{{legodata contributors}}}},\n"
        f"  year = {{{date.today().year}}},\n  howpublished = {{\\url{{{url}}}}},\n"
        f"  note = {{Made with legodata {legodata_version}}}\n}}"
    )


def _depth_note(with_depth: int, n_images: int) -> str:
    if with_depth == n_images:
        return f"all {n_images} images have depth"
    return f"{with_depth} of {n_images} images have depth" if with_depth else "no image here has depth"


def _symmetry_text(symmetry: dict) -> str:
    """Order of the discrete group, and the continuous axes of a round part (``4 + round about (0, -1, 0)``)."""
    text = str(len(symmetry["rotations"]))
    for axis in symmetry.get("continuous_axes", []):
        text += " + round about (" + ", ".join(f"{v:g}" for v in np.round(axis["axis"], 3) + 0.0) + ")"
    return text
