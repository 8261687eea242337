"""``legodata evaluate RUN_DIR DATASET``: re-score a run's checkpoint on a split of a published dataset, or on a
local store (``legodata render``, ``legodata annotate pull``, ``legodata import-log``).

A store is published to a temporary folder by the project's own publisher (so its records are checked and turned
into rows exactly as ``legodata publish`` would) with the settings of the dataset the run was trained on, read from
that dataset's ``publish.json`` when it is on this machine (split ratios and seed, crop size and margin, min_px),
else the publisher's defaults. ``--split all`` (the default for a store) scores every split together. What cannot be
scored is counted, never dropped silently: records without a mask, and instances the task leaves out (no visible
pixel for masks; fewer than min_px for rotations).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from legodata.errors import LegodataError
from legodata.train import data
from legodata.train.checkpoint import read_checkpoint
from legodata.train.loop import pick_device
from legodata.train.models import build_model, load_weights
from legodata.train.tasks import get_task

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test", "all")
PUBLISH_KEYS = ("split", "seed", "crop_size", "crop_margin", "min_px")


def load_run(run_dir: str | Path, checkpoint: str = "best", device: str = "cpu"):
    """``(task, model, model_config, device)`` of a run directory, the model in eval mode."""
    run = Path(run_dir).expanduser()
    if not run.is_dir():
        raise LegodataError(f"RUN_DIR {run}: no such folder (give the --out folder of train-mask or train-rot)")
    if checkpoint not in ("best", "last"):
        raise LegodataError(f"--checkpoint {checkpoint!r}: expected best or last")
    ckpt = read_checkpoint(run / f"{checkpoint}.pt")
    task = get_task(ckpt["task"])
    model_config = ckpt["model_config"]
    dev = pick_device(device)
    model = build_model(model_config)
    load_weights(model, ckpt["model"], str(run / f"{checkpoint}.pt"))
    return task, model.to(dev).eval(), model_config, dev


def is_store(path: str | Path) -> bool:
    """A local store (it has a store manifest) rather than a published dataset folder or a Hub id."""
    from legodata.store.store import MANIFEST

    p = Path(path).expanduser()
    return (p / MANIFEST).is_file() and not (p / "publish.json").is_file()


def evaluate_run(
    run_dir: str | Path,
    dataset: str,
    split: str | None = None,
    checkpoint: str = "best",
    device: str = "auto",
    batch_size: int = 32,
    limit: int | None = None,
) -> dict:
    """Metrics of the checkpoint on ``split`` (default ``test`` of a dataset, ``all`` of a store); written to
    ``RUN_DIR/eval-<split>.json`` for a dataset, ``RUN_DIR/eval-<store folder>-<split>.json`` for a store."""
    store = is_store(dataset)
    split = split or ("all" if store else "test")
    if split not in SPLITS:
        raise LegodataError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    loaded = load_run(run_dir, checkpoint, device)
    if store:
        result = _evaluate_store(loaded, run_dir, dataset, split, batch_size, limit)
        name = f"eval-{Path(dataset).expanduser().resolve().name}-{split}.json"
    else:
        result = _score(loaded, dataset, dataset, split, batch_size, limit)
        name = f"eval-{split}.json"
    result = {"task": loaded[0].name, "dataset": dataset, "split": split, "checkpoint": checkpoint, **result}
    (Path(run_dir).expanduser() / name).write_text(json.dumps(result, indent=2) + "\n")
    result["summary"] = loaded[0].summary(result)
    return result


def _score(loaded, path: str, name: str, split: str, batch_size: int, limit: int | None) -> dict:
    """The task's metrics on ``split`` of the published folder ``path`` (called ``name`` in errors)."""
    task, model, model_config, dev = loaded
    dsd = data.open_dataset(path, task.dataset.name)
    data.check_columns(dsd, name, task.dataset.name, task.dataset.columns, task.dataset.instance_fields)
    if split == "all":
        import datasets

        parts = [dsd[s] for s in ("train", "validation", "test") if s in dsd and len(dsd[s])]
        if not parts:
            raise LegodataError(f"dataset {name}: no rows in config {task.dataset.name!r}; nothing to score")
        ds = datasets.concatenate_datasets(parts)
    else:
        ds = data.require_split(dsd, name, split)
    vocab = data.Vocab.from_json(model_config)
    samples = task.dataset.samples(ds, vocab, model_config["image_size"], limit, f" (dataset {name}, split {split})")
    return task.evaluate(model, samples, dev, batch_size)


def publish_settings(run_dir: str | Path) -> tuple[dict, str]:
    """The publish settings a store is scored with, and where they came from: the run's training dataset's
    ``publish.json`` when it is a local folder here, else the publisher's defaults."""
    from legodata.publish.config import PublishConfig

    defaults = PublishConfig()
    settings = {k: getattr(defaults, k) for k in PUBLISH_KEYS}
    config = Path(run_dir).expanduser() / "config.json"
    trained_on = json.loads(config.read_text()).get("train", {}).get("dataset", "") if config.is_file() else ""
    marker = Path(trained_on).expanduser() / "publish.json" if trained_on else None
    if marker is None or not marker.is_file():
        return settings, "publish defaults" + (f" ({trained_on} is not a local published folder)" if trained_on else "")
    options = json.loads(marker.read_text()).get("options", {})
    settings.update({k: options[k] for k in PUBLISH_KEYS if k in options})
    if isinstance(settings["split"], list):
        settings["split"] = ",".join(f"{r:g}" for r in settings["split"])
    return settings, f"{marker} (the run's training dataset)"


def store_counts(store_dir: str | Path, task_name: str, min_px: int) -> dict:
    """How many records and instances of the store can be scored, and why the others cannot."""
    from legodata.store.store import Store

    store = Store(store_dir)
    store.read_manifest()
    counts = {"records": 0, "records_without_mask": 0, "instances": 0, "instances_not_scored": 0}
    for rec in store.iter_records():
        counts["records"] += 1
        if rec.mask_path is None:
            counts["records_without_mask"] += 1
            counts["instances_not_scored"] += len(rec.instances)
            continue
        counts["instances"] += len(rec.instances)
        need = 1 if task_name == "mask" else min_px
        counts["instances_not_scored"] += sum(1 for i in rec.instances if i.px_count_visib < need)
    counts["not_scored_because"] = "no visible pixel" if task_name == "mask" else f"fewer than {min_px} visible pixels"
    return counts


def _evaluate_store(loaded, run_dir, store_dir: str, split: str, batch_size: int, limit: int | None) -> dict:
    import tempfile

    from legodata.publish import publish

    settings, origin = publish_settings(run_dir)
    if split == "all":  # the split does not matter then: one split, so the publisher has no empty split to warn of
        settings["split"] = "0,0,1"
    counts = store_counts(store_dir, loaded[0].name, int(settings["min_px"]))
    if counts["records"] == counts["records_without_mask"]:
        raise LegodataError(f"store {store_dir}: none of its {counts['records']} records has a mask; nothing to score")
    if counts["records_without_mask"]:
        logger.warning("store %s: %d records have no mask, not scored", store_dir, counts["records_without_mask"])
    with tempfile.TemporaryDirectory(prefix="legodata-evaluate-") as tmp:
        out = Path(tmp) / "published"
        publish([store_dir], out, **settings)
        scored = _score(loaded, str(out), str(store_dir), split, batch_size, limit)
    return {**scored, "store": {**counts, "published_with": settings, "settings_from": origin}}
