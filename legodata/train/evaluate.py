"""``legodata evaluate RUN_DIR DATASET``: re-score a run's checkpoint on a split of a published dataset (``all``:
every split together). Local stores are scored by :mod:`legodata.evaluate_store`, which publishes them first (it
lives outside this package: the publisher imports packages that import this one)."""

from __future__ import annotations

import json
from pathlib import Path

from legodata.errors import LegodataError
from legodata.train import data
from legodata.train.checkpoint import read_checkpoint
from legodata.train.loop import pick_device
from legodata.train.models import build_model, load_weights
from legodata.train.tasks import task_of_run

SPLITS = ("train", "validation", "test", "all")


def load_run(run_dir: str | Path, checkpoint: str = "best", device: str = "cpu", second_look: bool = True):
    """``(task, model, model_config, device)`` of a run directory, the model in eval mode; a ``--second-look`` run's
    task holds its chooser unless ``second_look`` is False (the U-Net's masks as they are)."""
    run = Path(run_dir).expanduser()
    if not run.is_dir():
        raise LegodataError(f"RUN_DIR {run}: no such folder (give the --out folder of train-mask or train-rot)")
    if checkpoint not in ("best", "last"):
        raise LegodataError(f"--checkpoint {checkpoint!r}: expected best or last")
    ckpt = read_checkpoint(run / f"{checkpoint}.pt")
    task = task_of_run(ckpt["task"], ckpt["model_config"])  # the mode or query the run was trained with
    model_config = ckpt["model_config"]
    dev = pick_device(device)
    model = build_model(model_config)
    load_weights(model, ckpt["model"], str(run / f"{checkpoint}.pt"))
    if second_look and model_config.get("second_look"):
        from legodata.train.chooser import CHOOSER_FILE, load_chooser

        task.chooser, _ = load_chooser(run / CHOOSER_FILE, len(model_config["part_names"]), dev)
    return task, model.to(dev).eval(), model_config, dev


def is_store(path: str | Path) -> bool:
    """A local store (it has a store manifest) rather than a published dataset folder or a Hub id."""
    from legodata.store.store import MANIFEST

    p = Path(path).expanduser()
    return (p / MANIFEST).is_file() and not (p / "publish.json").is_file()


def evaluate_run(
    run_dir: str | Path,
    dataset: str,
    split: str = "test",
    checkpoint: str = "best",
    device: str = "auto",
    batch_size: int = 32,
    limit: int | None = None,
) -> dict:
    """Metrics of the checkpoint on ``split`` of a published dataset (``all``: every split together); also written to
    ``RUN_DIR/eval-<split>.json``. A local store is scored by :func:`legodata.evaluate_store.evaluate_store`."""
    if is_store(dataset):
        raise LegodataError(
            f"{dataset} is a store, not a published dataset: score it with `legodata evaluate` or "
            "legodata.evaluate_store.evaluate_store"
        )
    check_split(split)
    loaded = load_run(run_dir, checkpoint, device)
    result = score_split(loaded, dataset, dataset, split, batch_size, limit)
    return write_result(loaded, run_dir, f"eval-{split}.json", dataset, split, checkpoint, result)


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise LegodataError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")


def write_result(loaded, run_dir, name: str, dataset: str, split: str, checkpoint: str, scores: dict) -> dict:
    """The result of a scoring, written to ``RUN_DIR/name``, with its one-line summary added."""
    result = {"task": loaded[0].name, "dataset": dataset, "split": split, "checkpoint": checkpoint, **scores}
    (Path(run_dir).expanduser() / name).write_text(json.dumps(result, indent=2) + "\n")
    result["summary"] = loaded[0].summary(result)
    return result


def score_split(loaded, path: str, name: str, split: str, batch_size: int, limit: int | None) -> dict:
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
