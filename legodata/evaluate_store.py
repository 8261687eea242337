"""``legodata evaluate RUN_DIR STORE``: a run scored on a local store (``legodata render``, ``legodata annotate
pull``, ``legodata import-log``) with the metrics of :mod:`legodata.train.evaluate`.

The store is published to a temporary folder by the project's own publisher (so its records are checked and turned
into rows exactly as ``legodata publish`` would) with the settings of the dataset the run was trained on, read from
that dataset's ``publish.json`` when it is on this machine (split ratios and seed, crop size and margin, min_px),
else the publisher's defaults; then that folder is scored as a dataset. ``split="all"`` (the default) scores every
record. What cannot be scored is counted, never dropped silently: records without a mask, and instances the task
leaves out (no visible pixel for masks; fewer than min_px for rotations).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from legodata.errors import LegodataError
from legodata.train.evaluate import check_split, is_store, load_run, score_split, write_result

logger = logging.getLogger(__name__)

PUBLISH_KEYS = ("split", "seed", "crop_size", "crop_margin", "min_px")


def evaluate_store(
    run_dir: str | Path,
    store: str | Path,
    split: str = "all",
    checkpoint: str = "best",
    device: str = "auto",
    batch_size: int = 32,
    limit: int | None = None,
) -> dict:
    """Metrics of the checkpoint on the store's records (``split``: all, or the records a publish with the run's
    settings puts in that split), with ``result["store"]`` counting what was and was not scored; written to
    ``RUN_DIR/eval-<store folder>-<split>.json``."""
    if not is_store(store):
        raise LegodataError(f"STORE {store}: not a legodata store (no manifest.json); give a store or a dataset")
    check_split(split)
    loaded = load_run(run_dir, checkpoint, device)
    scores = _evaluate_store(loaded, run_dir, str(store), split, batch_size, limit)
    name = f"eval-{Path(store).expanduser().resolve().name}-{split}.json"
    return write_result(loaded, run_dir, name, str(store), split, checkpoint, scores)


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
        scored = score_split(loaded, str(out), str(store_dir), split, batch_size, limit)
    return {**scored, "store": {**counts, "published_with": settings, "settings_from": origin}}
