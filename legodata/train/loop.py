"""The training loop shared by ``train-mask`` and ``train-rot``.

Seeded and reproducible on CPU: weights come from ``torch.manual_seed(seed)``, the sample order of epoch ``e`` from
``(seed, e)`` (DistributedSampler, also with one process), augmentation from ``(seed, e, index)``; so ``--resume`` from
``last.pt`` continues exactly as the uninterrupted run would. Under ``torchrun`` (WORLD_SIZE > 1) it runs as DDP
(gloo on CPU, nccl on CUDA); only rank 0 evaluates and writes.

RUN_DIR holds ``config.json`` (the settings), ``last.pt`` and ``best.pt`` (weights, optimiser state, the model
config needed to rebuild the network), ``metrics.json`` and ``curves.png``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legodata.errors import LegodataError, require
from legodata.train import data, streaming
from legodata.train.checkpoint import CHECKPOINT_FORMAT, read_checkpoint, save_checkpoint
from legodata.train.config import CHOOSER_EPOCHS, CHOOSER_SHARE, TrainConfig, config_from_dict
from legodata.train.epoch import Clock, format_times, run_times, time_summary, train_epoch, update_policy
from legodata.train.finetune import initial_weights
from legodata.train.models import build_model, load_weights
from legodata.train.tasks import Task, get_task, task_options, torch

__all__ = ["TrainConfig", "config_from_dict", "pick_device", "prepare", "read_checkpoint", "train", "update_policy"]

logger = logging.getLogger(__name__)


# --- devices, processes ---------------------------------------------------------------------------------------------


def pick_device(name: str):
    """``auto`` -> CUDA if available else CPU; ``cpu``; ``cuda``/``gpu``/``cuda:N``."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name in ("gpu", "cuda") or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise LegodataError(f"--device {name}: no CUDA device is available here; use --device cpu or auto")
        return torch.device("cuda" if name == "gpu" else name)
    if name == "cpu":
        return torch.device("cpu")
    raise LegodataError(f"--device {name!r}: expected auto, cpu or cuda")


def autocast_dtype(precision: str, device):
    """Mixed precision of the training steps: ``fp32`` none; ``bf16`` bfloat16; ``auto`` float16 on CUDA, bfloat16
    on CPUs with bf16 instructions (1.5x the U-Net's and 1.7x the rotation model's steps/s measured on this
    machine kind), else none. Weights, optimiser and losses stay float32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.float16
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return torch.bfloat16 if any(check is not None and check() for check in checks) else None


@dataclass
class Dist:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def init_distributed(device_name: str) -> tuple[Dist, Any]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), pick_device(device_name)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(world, rank, local), device


# --- the loop -------------------------------------------------------------------------------------------------------


def _loader(ds, batch_size: int, dist: Dist, seed: int, workers: int, shuffle: bool, device=None):
    if isinstance(ds, streaming.StreamDataset):  # --streaming: it shuffles and shards itself
        return streaming.stream_loader(ds, batch_size, workers), ds
    utils = torch.utils.data
    sampler = utils.distributed.DistributedSampler(
        ds, num_replicas=dist.world, rank=dist.rank, shuffle=shuffle, seed=seed, drop_last=False
    )
    per_rank = math.ceil(len(ds) / dist.world)
    loader = utils.DataLoader(
        ds,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        drop_last=per_rank > batch_size,  # no ragged last batch (BatchNorm) unless it is the only one
        pin_memory=device is not None and device.type == "cuda",  # page-locked batches copy to the GPU asynchronously
        persistent_workers=workers > 0,  # no worker start-up (and copy of the samples) per epoch
        prefetch_factor=4 if workers > 0 else None,
    )
    return loader, sampler


def _schedule(progress: float) -> float:
    """LR factor: 3% linear warm-up then cosine to 2%."""
    warm = 0.03
    if progress < warm:
        return 0.1 + 0.9 * progress / warm
    p = min(1.0, (progress - warm) / (1 - warm))
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p))


def prepare(task: Task, cfg: TrainConfig, splits=("train", "validation", "test")):
    """Open the dataset, check its columns, build the vocabulary from train and the samples of each split."""
    if cfg.quiet:
        require("datasets", "publish").disable_progress_bars()
    dsd = data.open_dataset(cfg.dataset, task.dataset.name)
    data.check_columns(dsd, cfg.dataset, task.dataset.name, task.dataset.columns, task.dataset.instance_fields)
    train_ds = data.require_split(dsd, cfg.dataset, "train")
    vocab = task.dataset.vocab(train_ds)
    out = {}
    for split in splits:
        if split in dsd and len(dsd[split]):
            limit = cfg.limit
            if split == "train" and cfg.train_limit:
                limit = min(cfg.train_limit, cfg.limit or cfg.train_limit)
            out[split] = task.dataset.samples(dsd[split], vocab, cfg.image_size, limit, f" (split {split})")
    return vocab, out


@dataclass
class _Run:
    """One training run: its model and optimiser, data, and the state a checkpoint keeps."""

    task: Task
    cfg: TrainConfig
    dist: Dist
    device: Any
    run_dir: Path
    model: Any
    net: Any  # the model, or its DistributedDataParallel wrapper
    model_config: dict
    optimiser: Any
    scaler: Any
    samples: dict  # split -> samples ("train" always, "validation"/"test" when the dataset has them)
    epochs_done: int = 0
    step: int = 0
    history: list = field(default_factory=list)
    best_score: float = -math.inf
    val_text: str = ""  # the last validation summary, shown on the progress bar and in the epoch line
    weights: dict | None = None  # what --weights kept (legodata.train.finetune.WeightsReport)
    start_validation: dict | None = None  # --weights: the starting weights' validation metrics
    chooser_report: dict | None = None  # --second-look: how its part classifier was trained

    @property
    def amp_dtype(self):
        """The autocast dtype of training steps, or None for float32 (:func:`autocast_dtype`)."""
        return autocast_dtype(self.cfg.precision, self.device)

    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    def has(self, split: str) -> bool:
        return self.samples.get(split) is not None and len(self.samples[split]) > 0


def train(cfg: TrainConfig, task: Task | None = None) -> dict:
    """Train, checkpoint, evaluate on validation each epoch and on test at the end; returns ``metrics.json``."""
    cfg = cfg.validate()
    task = task or get_task(cfg.task, **task_options(cfg))
    dist, device = init_distributed(cfg.device)
    try:
        return _train(task, cfg, dist, device)
    finally:
        if dist.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(task: Task, cfg: TrainConfig, dist: Dist, device) -> dict:
    run = _start(task, cfg, dist, device)
    train_ds = task.torch_dataset(run.samples["train"], train=True, seed=cfg.seed, augment=cfg.augment)
    loader, sampler = _loader(train_ds, cfg.batch_size, dist, cfg.seed, cfg.workers, shuffle=True, device=device)
    total_steps = max(1, cfg.epochs * len(loader))
    if dist.main:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        info = {"train": cfg.to_json(), "model": run.model_config, "world_size": dist.world}
        info["data"] = {"kind": type(train_ds).__name__, "train_samples_per_epoch": len(run.samples["train"])}
        if run.weights:
            info["weights"] = run.weights
        (run.run_dir / "config.json").write_text(json.dumps(info, indent=2) + "\n")
        if run.weights and run.has("validation"):  # None with --resume: the start was scored before
            _score_start(run)
    budget = cfg.max_minutes * 60 if cfg.max_minutes else None
    clock = Clock(budget * (1 - CHOOSER_SHARE) if budget and cfg.second_look else budget)
    out_of_time = False
    for epoch in range(run.epochs_done, cfg.epochs):
        sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        entry, out_of_time, timer = train_epoch(run, loader, epoch, total_steps, clock, lambda p: cfg.lr * _schedule(p))
        if dist.main:
            _end_epoch(run, entry, timer)
        dist.barrier()
        if out_of_time:
            break
    if dist.main and cfg.second_look:
        from legodata.train.chooser import fit_chooser

        seconds = budget * CHOOSER_SHARE if budget else None
        args = (run.model_config, run.run_dir, device, seconds, CHOOSER_EPOCHS, cfg.seed, cfg.resume)
        run.chooser_report = fit_chooser(task, run.samples["train"], *args)
    result = _finish(run, clock, out_of_time) if dist.main else {}
    dist.barrier()
    return result


def _start(task: Task, cfg: TrainConfig, dist: Dist, device) -> _Run:
    """Check RUN_DIR, seed, load the samples, build (or restore with ``--resume``) model and optimiser."""
    run_dir = Path(cfg.out).expanduser()
    last_path = run_dir / "last.pt"
    if cfg.resume and not last_path.is_file():
        raise LegodataError(f"--resume: {last_path} does not exist; run without --resume to start")
    if not cfg.resume and last_path.exists():
        raise LegodataError(
            f"--out {run_dir} already holds a run (last.pt): add --resume to continue it or choose a new --out"
        )
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    vocab, samples = (streaming.prepare_streaming if cfg.streaming else prepare)(task, cfg)
    if not len(samples["train"]):
        raise LegodataError(f"dataset {cfg.dataset}: the train split has no usable samples for {task.name}")

    model_config = {**task.model_config(vocab, cfg.base), "image_size": cfg.image_size}
    model = build_model(model_config).to(device)
    if task.channels_last:
        model = model.to(memory_format=torch.channels_last)
    weights = initial_weights(model, model_config, cfg.weights).to_json() if cfg.weights and not cfg.resume else None
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    fp16 = autocast_dtype(cfg.precision, device) == torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)  # float16 is only chosen on CUDA
    run = _Run(task, cfg, dist, device, run_dir, model, model, model_config, optimiser, scaler, samples)
    run.weights = weights
    if cfg.resume:
        _restore(run)
    if dist.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        run.net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    logger.debug("%s: %d training samples, model %s, device %s", task.name, len(samples["train"]), model_config, device)
    return run


def _restore(run: _Run) -> None:
    """``--resume``: weights, optimiser, scaler and progress from ``last.pt``."""
    ckpt = read_checkpoint(run.last_path)
    if ckpt["task"] != run.task.name or ckpt["model_config"] != run.model_config:
        raise LegodataError(
            f"--resume: {run.last_path} was trained with other settings (task, parts, colours, --image-size or "
            "width differ from this command's); use the same DATASET and flags, or a new --out"
        )
    load_weights(run.model, ckpt["model"], str(run.last_path))
    run.optimiser.load_state_dict(ckpt["optimizer"])
    run.scaler.load_state_dict(ckpt["scaler"])
    run.epochs_done, run.history = ckpt["epoch"], ckpt["history"]
    run.best_score, run.step = ckpt["best_score"], ckpt["step"]
    run.start_validation = ckpt.get("start_validation")  # a --weights run's start, kept across resumes


def _score_start(run: _Run) -> None:
    """``--weights``: validate the starting weights and keep them as ``best.pt`` (epoch 0), so fine-tuning that
    only makes them worse on validation ends with the weights it started from."""
    val = run.task.evaluate(run.model, run.samples["validation"], run.device, run.cfg.batch_size)
    run.best_score = run.task.score(val)
    run.start_validation = {k: v for k, v in val.items() if k != "per_part"}
    save_checkpoint(run.best_path, _checkpoint(run))
    logger.info("%s: the starting weights (--weights) score val %s", run.task.name, run.task.summary(val))


def _end_epoch(run: _Run, entry: dict, timer) -> None:
    """Rank 0 after each epoch: validate, keep ``last.pt`` (and ``best.pt``), log one line, redraw the curves."""
    task, cfg = run.task, run.cfg
    timer.reset()
    if run.has("validation"):
        val = task.evaluate(run.model, run.samples["validation"], run.device, cfg.batch_size)
        timer.lap("evaluation")
        entry["validation"] = {k: v for k, v in val.items() if k != "per_part"}
        score = task.score(val)
        run.val_text = f" | val {task.summary(val)}"
    else:
        score = -entry["train_loss"]
    entry["time"] = time_summary(timer.seconds, entry["seconds"] + timer.seconds["evaluation"], entry["samples"])
    run.history.append(entry)
    is_best = score > run.best_score
    run.best_score = max(run.best_score, score)
    run.epochs_done = entry["epoch"]
    payload = _checkpoint(run)
    save_checkpoint(run.last_path, payload)
    if is_best:
        save_checkpoint(run.best_path, payload)
    logger.info("%s epoch %d/%d: loss %.4f%s", task.name, entry["epoch"], cfg.epochs, entry["train_loss"], run.val_text)
    logger.info("%s epoch %d: %s", task.name, entry["epoch"], format_times(entry["time"]))
    write_curves(run.history, run.run_dir / "curves.png", task)


def _checkpoint(run: _Run) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "task": run.task.name,
        "model_config": run.model_config,
        "model": run.model.state_dict(),
        "optimizer": run.optimiser.state_dict(),
        "scaler": run.scaler.state_dict(),
        "epoch": run.epochs_done,
        "step": run.step,
        "history": run.history,
        "best_score": run.best_score,
        "start_validation": run.start_validation,
        "train_config": run.cfg.to_json(),
    }


def _finish(run: _Run, clock: Clock, out_of_time: bool) -> dict:
    """Rank 0 at the end: reload the best weights, score validation and test, write ``metrics.json``."""
    task, cfg = run.task, run.cfg
    best = read_checkpoint(run.best_path if run.best_path.is_file() else run.last_path)
    load_weights(run.model, best["model"], str(run.best_path))
    result: dict[str, Any] = {
        "task": task.name,
        "dataset": cfg.dataset,
        "epochs_done": run.history[-1]["epoch"] if run.history else 0,
        "best_epoch": best["epoch"],
        "train_samples_per_s": clock.seen / clock.train_seconds if clock.train_seconds else None,
        "stopped_by_time_budget": out_of_time,
        "world_size": run.dist.world,
        "time": run_times(run.history),
        "history": run.history,
    }
    if run.start_validation is not None:
        result["start_validation"] = run.start_validation  # --weights: the starting weights on validation
    if run.has("validation"):
        result["validation"] = task.evaluate(run.model, run.samples["validation"], run.device, cfg.batch_size)
    if run.has("test"):
        result["test"] = task.evaluate(run.model, run.samples["test"], run.device, cfg.batch_size)
        if run.chooser_report is not None:  # what the second look changed
            from legodata.train.chooser import without_chooser

            without = without_chooser(task, run.model, run.samples["test"], run.device, cfg.batch_size)
            run.chooser_report = {**run.chooser_report, "test_without": without}
        task.after_training(run.model, run.samples["test"], run.device, run.run_dir)
    if run.chooser_report is not None:
        result["second_look"] = run.chooser_report
    (run.run_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def write_curves(history: list[dict], path: Path, task: Task) -> None:
    """Loss and validation metric per epoch as a PNG (matplotlib Agg); skipped if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(epochs, [h["train_loss"] for h in history], marker="o")
    axes[0].set(title="train loss", xlabel="epoch")
    vals = [(h["epoch"], h["validation"][task.score_key]) for h in history if "validation" in h]
    if vals:
        axes[1].plot(*zip(*vals), marker="o", color="tab:green")
    axes[1].set(title=f"validation {task.score_key}", xlabel="epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
