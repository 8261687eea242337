"""The training commands: train-mask, train-rot, evaluate."""

from __future__ import annotations

from typing import Annotated

import typer

from legodata.commands.app import app


def _train_command(task: str, dataset: str, out: str, **options) -> None:
    from legodata.train import torch_module

    torch_module()
    from legodata.train.loop import TrainConfig, train

    result = train(TrainConfig(task=task, dataset=dataset, out=out, **options))
    if result:  # rank 0
        from legodata.train.tasks import get_task

        for split in ("validation", "test"):
            if split in result:
                typer.echo(f"{split}: {get_task(task).summary(result[split])}")
        typer.echo(f"{out}: best.pt, last.pt, config.json, metrics.json, curves.png")


_Epochs = Annotated[int, typer.Option(help="Training epochs (total, also with --resume).")]
_Batch = Annotated[int, typer.Option("--batch-size", help="Samples per batch (per process under torchrun).")]
_Lr = Annotated[float, typer.Option(help="Peak learning rate (AdamW, warm-up then cosine).")]
_Seed = Annotated[int, typer.Option(help="Random seed: same seed, same run on CPU.")]
_Device = Annotated[str, typer.Option(help="auto (CUDA + mixed precision if present) | cpu | cuda.")]
_Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from last.pt.")]
_Weights = Annotated[str | None, typer.Option(help="Initial weights: a checkpoint or state dict of this model.")]
_Limit = Annotated[int | None, typer.Option(help="Use at most this many dataset rows per split.")]
_Minutes = Annotated[float | None, typer.Option("--max-minutes", help="Stop training after this many minutes.")]
_Workers = Annotated[int, typer.Option(help="DataLoader worker processes.")]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
_Out = Annotated[str, typer.Option("--out", "-o", help="RUN_DIR for checkpoints and metrics.")]
_Dataset = Annotated[str, typer.Argument(help="Published dataset folder or Hugging Face Hub id.")]


@app.command("train-mask")
def train_mask_command(
    dataset: _Dataset,
    out: _Out,
    epochs: _Epochs = 20,
    batch_size: _Batch = 16,
    image_size: Annotated[int, typer.Option(help="Scenes are resized to this square size (multiple of 16).")] = 128,
    lr: _Lr = 2e-3,
    seed: _Seed = 0,
    device: _Device = "auto",
    resume: _Resume = False,
    weights: _Weights = None,
    limit: _Limit = None,
    max_minutes: _Minutes = None,
    workers: _Workers = 0,
    quiet: _Quiet = False,
) -> None:
    """Train the masking model: image + query (part id, colour) -> mask of that part (config 'scenes')."""
    _train_command(
        "mask", dataset, out, epochs=epochs, batch_size=batch_size, image_size=image_size, lr=lr, seed=seed,
        device=device, resume=resume, weights=weights, limit=limit, max_minutes=max_minutes, workers=workers,
        quiet=quiet,
    )  # fmt: skip


@app.command("train-rot")
def train_rot_command(
    dataset: _Dataset,
    out: _Out,
    epochs: _Epochs = 20,
    batch_size: _Batch = 32,
    image_size: Annotated[int, typer.Option(help="Part crops are resized to this square size.")] = 64,
    lr: _Lr = 1e-3,
    seed: _Seed = 0,
    device: _Device = "auto",
    augment: Annotated[bool, typer.Option(help="Random in-plane rotation with the matching label.")] = True,
    resume: _Resume = False,
    weights: _Weights = None,
    limit: _Limit = None,
    max_minutes: _Minutes = None,
    workers: _Workers = 0,
    quiet: _Quiet = False,
) -> None:
    """Train the rotation model: masked part crop + part id -> R_m2c, symmetry-aware (config 'parts')."""
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
    device: _Device = "auto",
    limit: _Limit = None,
) -> None:
    """Re-score a trained checkpoint on a split; writes RUN_DIR/eval-SPLIT.json."""
    from legodata.train import torch_module

    torch_module()
    from legodata.train.evaluate import evaluate_run

    result = evaluate_run(run_dir, dataset, split=split, checkpoint=checkpoint, device=device, limit=limit)
    typer.echo(f"{result['task']} {split}: {result['summary']}")
    for name, m in result["per_part"].items():
        values = "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items())
        typer.echo(f"  {name:<8} {values}")
