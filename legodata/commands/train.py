"""The training commands: train-mask, train-rot, evaluate.

Their defaults are read from :class:`legodata.train.config.TrainConfig` (per task), never restated here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from legodata.commands import options
from legodata.commands.app import app
from legodata.commands.options import Quiet, Verbose, device_option, out_option, seed_option
from legodata.train.config import TrainConfig


def _train_command(task: str, dataset: str, out: str, **settings) -> None:
    from legodata.train import torch_module

    cfg = TrainConfig(task=task, dataset=dataset, out=out, **settings).validate()  # bad flags fail before torch
    torch_module()
    from legodata.train.loop import train

    result = train(cfg)
    if result:  # rank 0
        from legodata.train.tasks import get_task

        for split in ("validation", "test"):
            if split in result:
                typer.echo(f"{split}: {get_task(task).summary(result[split])}")
        typer.echo(f"{out}: best.pt, last.pt, config.json, metrics.json, curves.png")


# The defaults of each command: what TrainConfig holds for that task when given no settings.
_MASK = TrainConfig(task="mask", dataset="", out="")
_ROT = TrainConfig(task="rot", dataset="", out="")

_Epochs = Annotated[int, typer.Option(help="Training epochs (total, also with --resume).")]
_Batch = Annotated[int, typer.Option("--batch-size", help="Samples per batch (per process under torchrun).")]
_Lr = Annotated[float, typer.Option(help="Peak learning rate (AdamW, warm-up then cosine).")]
_Seed = Annotated[int, seed_option("Random seed: same seed, same run on CPU.")]
_Device = Annotated[str, device_option("auto (CUDA + mixed precision if present) | cpu | cuda.")]
_Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from last.pt.")]
_Weights = Annotated[str | None, typer.Option(help="Initial weights: a checkpoint or state dict of this model.")]
_Limit = Annotated[int | None, typer.Option(help="Use at most this many dataset rows per split.")]
_Minutes = Annotated[float | None, typer.Option("--max-minutes", help="Stop training after this many minutes.")]
_Workers = Annotated[int, typer.Option(help="DataLoader worker processes.")]
_Out = Annotated[str, out_option("RUN_DIR for checkpoints and metrics.")]
_Dataset = Annotated[str, typer.Argument(help="Published dataset folder or Hugging Face Hub id.")]


@app.command("train-mask")
def train_mask_command(
    dataset: _Dataset,
    out: _Out,
    epochs: _Epochs = _MASK.epochs,
    batch_size: _Batch = _MASK.batch_size,
    image_size: Annotated[
        int, typer.Option(help="Scenes are resized to this square size (multiple of 16).")
    ] = _MASK.image_size,
    lr: _Lr = _MASK.lr,
    seed: _Seed = _MASK.seed,
    device: _Device = _MASK.device,
    resume: _Resume = _MASK.resume,
    weights: _Weights = _MASK.weights,
    limit: _Limit = _MASK.limit,
    max_minutes: _Minutes = _MASK.max_minutes,
    workers: _Workers = _MASK.workers,
    quiet: Quiet = _MASK.quiet,
    verbose: Verbose = False,
) -> None:
    """Train the masking model: image + query (part id, colour) -> mask of that part (config 'scenes')."""
    options.setup(quiet, verbose)
    _train_command(
        "mask", dataset, out, epochs=epochs, batch_size=batch_size, image_size=image_size, lr=lr, seed=seed,
        device=device, resume=resume, weights=weights, limit=limit, max_minutes=max_minutes, workers=workers,
        quiet=quiet,
    )  # fmt: skip


@app.command("train-rot")
def train_rot_command(
    dataset: _Dataset,
    out: _Out,
    epochs: _Epochs = _ROT.epochs,
    batch_size: _Batch = _ROT.batch_size,
    image_size: Annotated[int, typer.Option(help="Part crops are resized to this square size.")] = _ROT.image_size,
    lr: _Lr = _ROT.lr,
    seed: _Seed = _ROT.seed,
    device: _Device = _ROT.device,
    augment: Annotated[bool, typer.Option(help="Random in-plane rotation with the matching label.")] = _ROT.augment,
    resume: _Resume = _ROT.resume,
    weights: _Weights = _ROT.weights,
    limit: _Limit = _ROT.limit,
    max_minutes: _Minutes = _ROT.max_minutes,
    workers: _Workers = _ROT.workers,
    quiet: Quiet = _ROT.quiet,
    verbose: Verbose = False,
) -> None:
    """Train the rotation model: masked part crop + part id -> R_m2c, symmetry-aware (config 'parts')."""
    options.setup(quiet, verbose)
    _train_command(
        "rot", dataset, out, epochs=epochs, batch_size=batch_size, image_size=image_size, lr=lr, seed=seed,
        device=device, augment=augment, resume=resume, weights=weights, limit=limit, max_minutes=max_minutes,
        workers=workers, quiet=quiet,
    )  # fmt: skip


@app.command("evaluate")
def evaluate_command(
    run_dir: Annotated[str, typer.Argument(help="RUN_DIR of train-mask or train-rot.")],
    dataset: _Dataset,
    split: Annotated[str, typer.Option(help="train | validation | test.")] = "test",
    checkpoint: Annotated[str, typer.Option(help="best | last.")] = "best",
    device: _Device = _MASK.device,
    limit: _Limit = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Re-score a trained checkpoint on a split; writes RUN_DIR/eval-SPLIT.json."""
    options.setup(quiet, verbose)
    from legodata.train import torch_module

    torch_module()
    from legodata.train.evaluate import evaluate_run

    result = evaluate_run(run_dir, dataset, split=split, checkpoint=checkpoint, device=device, limit=limit)
    typer.echo(f"{result['task']} {split}: {result['summary']}")
    for name, m in result["per_part"].items():
        values = "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items())
        typer.echo(f"  {name:<8} {values}")
