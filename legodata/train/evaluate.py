"""``legodata evaluate RUN_DIR DATASET``: re-score a run's checkpoint on a split of a published dataset."""

from __future__ import annotations

import json
from pathlib import Path

from legodata.errors import LegodataError
from legodata.train import data
from legodata.train.checkpoint import read_checkpoint
from legodata.train.loop import pick_device
from legodata.train.models import build_model, load_weights
from legodata.train.tasks import get_task


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


def evaluate_run(
    run_dir: str | Path,
    dataset: str,
    split: str = "test",
    checkpoint: str = "best",
    device: str = "auto",
    batch_size: int = 32,
    limit: int | None = None,
) -> dict:
    """Metrics of the checkpoint on ``split``; also written to ``RUN_DIR/eval-<split>.json``."""
    task, model, model_config, dev = load_run(run_dir, checkpoint, device)
    dsd = data.open_dataset(dataset, task.dataset.name)
    data.check_columns(dsd, dataset, task.dataset.name, task.dataset.columns, task.dataset.instance_fields)
    ds = data.require_split(dsd, dataset, split)
    vocab = data.Vocab.from_json(model_config)
    samples = task.dataset.samples(ds, vocab, model_config["image_size"], limit, f" (dataset {dataset}, split {split})")
    result = {
        "task": task.name,
        "dataset": dataset,
        "split": split,
        "checkpoint": checkpoint,
        **task.evaluate(model, samples, dev, batch_size),
    }
    (Path(run_dir).expanduser() / f"eval-{split}.json").write_text(json.dumps(result, indent=2) + "\n")
    result["summary"] = task.summary(result)
    return result
