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
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from legodata.errors import LegodataError, require
from legodata.train import data
from legodata.train.models import build_model, load_weights
from legodata.train.tasks import Task, get_task, to_device, torch

CHECKPOINT_FORMAT = "legodata-train/1"


@dataclass
class TrainConfig:
    task: str  # mask | rot
    dataset: str
    out: str
    epochs: int = 10
    batch_size: int = 16
    image_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    augment: bool = True  # rot: random in-plane rotation with the matching label change
    resume: bool = False
    weights: str | None = None  # user-supplied initial weights (a checkpoint or a state dict)
    limit: int | None = None  # at most this many dataset rows per split (quick runs)
    max_minutes: float | None = None  # stop training after this long (the LR schedule follows the clock)
    base: int | None = None  # network width (default per task)
    quiet: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


# --- checkpoints ----------------------------------------------------------------------------------------------------


def read_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise LegodataError(f"checkpoint {path} does not exist; train first or give the RUN_DIR of a finished run")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise LegodataError(f"checkpoint {path} cannot be read ({type(exc).__name__}); is it a legodata run?") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise LegodataError(f"checkpoint {path} is not a {CHECKPOINT_FORMAT} checkpoint written by legodata train")
    return ckpt


def _save(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _initial_weights(model, path: str) -> None:
    p = Path(path).expanduser()
    if not p.is_file():
        raise LegodataError(f"--weights {path}: no such file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise LegodataError(f"--weights {path}: cannot be read by torch.load ({type(exc).__name__})") from None
    state = obj.get("model", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict):
        raise LegodataError(f"--weights {path}: expected a state dict or a legodata checkpoint")
    load_weights(model, state, f"--weights {path}")


# --- the loop -------------------------------------------------------------------------------------------------------


def _loader(ds, batch_size: int, dist: Dist, seed: int, workers: int, shuffle: bool):
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
        pin_memory=False,
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
    dsd = data.open_dataset(cfg.dataset, task.config)
    data.check_columns(dsd, cfg.dataset, task.config, task.columns, task.instance_fields)
    train_ds = data.require_split(dsd, cfg.dataset, "train")
    vocab = task.vocab(train_ds)
    out = {}
    for split in splits:
        if split in dsd and len(dsd[split]):
            out[split] = task.samples(dsd[split], vocab, cfg.image_size, cfg.limit, f" (split {split})")
    return vocab, out


def train(cfg: TrainConfig, task: Task | None = None) -> dict:
    """Train, checkpoint, evaluate on validation each epoch and on test at the end; returns ``metrics.json``."""
    task = task or get_task(cfg.task)
    dist, device = init_distributed(cfg.device)
    try:
        return _train(task, cfg, dist, device)
    finally:
        if dist.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(task: Task, cfg: TrainConfig, dist: Dist, device) -> dict:
    run_dir = Path(cfg.out).expanduser()
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    if cfg.resume and not last_path.is_file():
        raise LegodataError(f"--resume: {last_path} does not exist; run without --resume to start")
    if not cfg.resume and last_path.exists():
        raise LegodataError(
            f"--out {run_dir} already holds a run (last.pt): add --resume to continue it or choose a new --out"
        )
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.image_size < 16:
        raise LegodataError("--epochs and --batch-size must be >= 1, --image-size >= 16")

    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    vocab, samples = prepare(task, cfg)
    train_samples, val_samples, test_samples = samples["train"], samples.get("validation"), samples.get("test")
    if not len(train_samples):
        raise LegodataError(f"dataset {cfg.dataset}: the train split has no usable samples for {task.name}")

    model_config = {**task.model_config(vocab, cfg.base), "image_size": cfg.image_size}
    model = build_model(model_config).to(device)
    if task.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if cfg.weights and not cfg.resume:
        _initial_weights(model, cfg.weights)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    start_epoch, history, best_score, step = 0, [], -math.inf, 0
    if cfg.resume:
        ckpt = read_checkpoint(last_path)
        if ckpt["task"] != task.name or ckpt["model_config"] != model_config:
            raise LegodataError(
                f"--resume: {last_path} was trained with other settings (task, parts, colours, --image-size or "
                "width differ from this command's); use the same DATASET and flags, or a new --out"
            )
        load_weights(model, ckpt["model"], str(last_path))
        optimiser.load_state_dict(ckpt["optimizer"])
        scaler.load_state_dict(ckpt["scaler"])
        start_epoch, history, best_score, step = ckpt["epoch"], ckpt["history"], ckpt["best_score"], ckpt["step"]

    net = model
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if amp else None)
    train_ds = task.torch_dataset(train_samples, train=True, seed=cfg.seed, augment=cfg.augment)
    loader, sampler = _loader(train_ds, cfg.batch_size, dist, cfg.seed, cfg.workers, shuffle=True)
    total_steps = max(1, cfg.epochs * len(loader))

    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(
            json.dumps({"train": cfg.to_json(), "model": model_config, "world_size": dist.world}, indent=2) + "\n"
        )

    from tqdm.auto import tqdm

    t_start, train_seconds, seen = time.monotonic(), 0.0, 0
    budget_s = cfg.max_minutes * 60 if cfg.max_minutes else None
    out_of_time = False
    val_text = ""
    for epoch in range(start_epoch, cfg.epochs):
        sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        net.train()
        t_epoch, loss_sum, n_batches = time.monotonic(), 0.0, 0
        bar = tqdm(
            loader, desc=f"{task.name} epoch {epoch + 1}/{cfg.epochs}", disable=cfg.quiet or not dist.main, leave=False
        )
        for batch in bar:
            progress = step / total_steps
            if budget_s:
                progress = max(progress, (time.monotonic() - t_start) / budget_s)
            for group in optimiser.param_groups:
                group["lr"] = cfg.lr * _schedule(progress)
            batch = to_device(batch, device, task.channels_last)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
                loss = task.loss(net, batch)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            step += 1
            loss_sum += float(loss.detach())
            n_batches += 1
            seen += len(next(iter(batch.values()))) * dist.world
            bar.set_postfix_str(f"loss {loss_sum / n_batches:.4f}{val_text}")
            if budget_s and time.monotonic() - t_start > budget_s:
                out_of_time = True
                break
        bar.close()
        seconds = time.monotonic() - t_epoch
        train_seconds += seconds
        entry = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss": loss_sum / max(n_batches, 1),
            "lr": optimiser.param_groups[0]["lr"],
            "seconds": seconds,
        }
        if dist.main:
            if val_samples is not None and len(val_samples):
                val = task.evaluate(model, val_samples, device, cfg.batch_size)
                entry["validation"] = {k: v for k, v in val.items() if k != "per_part"}
                score = task.score(val)
                val_text = f" | val {task.summary(val)}"
            else:
                score = -entry["train_loss"]
            history.append(entry)
            is_best = score > best_score
            best_score = max(best_score, score)
            payload = {
                "format": CHECKPOINT_FORMAT,
                "task": task.name,
                "model_config": model_config,
                "model": model.state_dict(),
                "optimizer": optimiser.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": epoch + 1,
                "step": step,
                "history": history,
                "best_score": best_score,
                "train_config": cfg.to_json(),
            }
            _save(last_path, payload)
            if is_best:
                _save(best_path, payload)
            if not cfg.quiet:
                tqdm.write(f"{task.name} epoch {epoch + 1}/{cfg.epochs}: loss {entry['train_loss']:.4f}{val_text}")
            write_curves(history, run_dir / "curves.png", task)
        dist.barrier()
        if out_of_time:
            break

    result: dict[str, Any] = {}
    if dist.main:
        best = read_checkpoint(best_path if best_path.is_file() else last_path)
        load_weights(model, best["model"], str(best_path))
        result = {
            "task": task.name,
            "dataset": cfg.dataset,
            "epochs_done": history[-1]["epoch"] if history else 0,
            "best_epoch": best["epoch"],
            "train_samples_per_s": seen / train_seconds if train_seconds else None,
            "stopped_by_time_budget": out_of_time,
            "world_size": dist.world,
            "history": history,
        }
        if val_samples is not None and len(val_samples):
            result["validation"] = task.evaluate(model, val_samples, device, cfg.batch_size)
        if test_samples is not None and len(test_samples):
            result["test"] = task.evaluate(model, test_samples, device, cfg.batch_size)
            task.after_training(model, test_samples, device, run_dir)
        (run_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    dist.barrier()
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


def config_from_dict(values: dict) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known})
