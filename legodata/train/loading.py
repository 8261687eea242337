"""Opening a published dataset (local folder or Hub id) and checking its columns, with one-line errors for what the
user can fix."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from legodata.errors import LegodataError, require

SCENES_COLUMNS = ("image", "mask", "instances")
INSTANCE_FIELDS = ("instance_id", "part_id", "colour_code")
PARTS_COLUMNS = ("image", "mask", "part_id", "R_m2c", "symmetry_rotations")


def _looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") != 1 or Path(name).exists()


def open_dataset(dataset: str, config: str, streaming: bool = False, columns: list[str] | None = None):
    """``datasets.DatasetDict`` of one config of a published folder or Hub id, or a one-line LegodataError.

    ``streaming``: an ``IterableDatasetDict`` (``load_dataset(..., streaming=True)``: rows are read as they are
    iterated, from the Hub or the folder's parquet, never all downloaded); ``columns`` reads only those columns."""
    datasets = require("datasets", "publish")
    path = Path(dataset).expanduser()
    if _looks_local(dataset):
        if not path.is_dir():
            raise LegodataError(f"dataset {dataset}: no such folder (give a folder made by `legodata publish`)")
        saved = path / config / "dataset_dict.json"
        if saved.is_file():  # a DatasetDict.save_to_disk per config
            dsd = datasets.load_from_disk(str(path / config))
            if columns:
                dsd = dsd.select_columns(columns)
            return (
                datasets.IterableDatasetDict({k: v.to_iterable_dataset() for k, v in dsd.items()}) if streaming else dsd
            )
        if not (path / "README.md").is_file() and not (path / "data" / config).is_dir():
            raise LegodataError(
                f"dataset {dataset}: no README.md and no data/{config}/ folder; is this a `legodata publish` output?"
            )
    if not path.is_dir():
        _check_hub_reachable(dataset)
    try:
        extra = {"streaming": True} if streaming else {}
        if columns:
            extra["columns"] = columns
        return datasets.load_dataset(str(path) if path.is_dir() else dataset, config, **extra)
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
            inner = instance_feature(ds.features["instances"])
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


def instance_feature(feature):
    """The per-instance feature dict of an ``instances`` column (``List({...})`` or ``[{...}]``)."""
    inner = getattr(feature, "feature", feature)
    if isinstance(inner, list):
        inner = inner[0]
    return inner


def part_names_of(feature) -> list[str] | None:
    """ClassLabel names of a part-id feature, or None when part ids are stored as strings."""
    names = getattr(feature, "names", None)
    return list(names) if names is not None else None
