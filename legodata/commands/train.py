"""The training commands: train-mask, train-rot, evaluate.

Their defaults are read from :class:`legodata.train.config.TrainConfig` (per task), never restated here.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from legodata.commands import options
from legodata.commands.app import app
from legodata.commands.options import Quiet, Verbose, device_option, out_option, seed_option
from legodata.train.config import FINETUNE_LR_FACTOR, TrainConfig


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


_Epochs = Annotated[int, typer.Option(help="Training epochs (total, also with --resume).")]
_Batch = Annotated[int, typer.Option("--batch-size", help="Samples per batch (per process under torchrun).")]
_Seed = Annotated[int, seed_option("Random seed: same seed, same run on CPU.")]
_Device = Annotated[str, device_option("auto (CUDA + mixed precision if present) | cpu | cuda.")]
_Augment = Annotated[bool, typer.Option(help="Random in-plane rotation with the matching label.")]
_Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from last.pt.")]
_Weights = Annotated[
    str | None,
    typer.Option(
        help="Initial weights: a checkpoint of this command (parts and colours matched by name, new ones start "
        "fresh) or a state dict of this model."
    ),
]
_Limit = Annotated[int | None, typer.Option(help="Use at most this many dataset rows per split.")]
_TrainLimit = Annotated[
    int | None, typer.Option(help="Use at most this many train rows (validation and test whole): learning curves.")
]
_Minutes = Annotated[float | None, typer.Option("--max-minutes", help="Stop training after this many minutes.")]
_Workers = Annotated[int, typer.Option(help="DataLoader worker processes.")]
_Out = Annotated[str, out_option("RUN_DIR for checkpoints and metrics.")]
_Dataset = Annotated[str, typer.Argument(help="Published dataset folder or Hugging Face Hub id.")]
_Streaming = Annotated[
    bool, typer.Option("--streaming", help="Stream the train split (load_dataset streaming=True): no full download.")
]
_EpochSamples = Annotated[
    int | None, typer.Option(help="With --streaming: samples per epoch (default: one pass over the train split).")
]
_Buffer = Annotated[int, typer.Option(help="With --streaming: rows in the shuffle buffer.")]
_Mode = Annotated[
    str,
    typer.Option(
        help="absolute: masked crop -> R_m2c (config 'parts'); relative: observation crop + manual-page crop -> "
        "the rotation action R_target R_current^T (config 'steps' of an assembly store)."
    ),
]
_Query = Annotated[
    str,
    typer.Option(
        help="id: the query is (part id, colour); image: a reference image of the part (in training, the part's "
        "crop from another scene)."
    ),
]
_PartHead = Annotated[
    bool,
    typer.Option(
        "--part-head/--no-part-head",
        help="Also learn every pixel's part class, whatever the query (dense supervision of shape): +0.02 test IoU "
        "on 1,672 scenes in 20 minutes, -0.07 on 192 scenes in 4 minutes.",
    ),
]
_SecondLook = Annotated[
    bool,
    typer.Option(
        "--second-look/--no-second-look",
        help="The U-Net also masks every instance of the queried colour; after it, a small part classifier (15% of "
        "--max-minutes, else 30 epochs) picks the pieces of that mask and the query's that it takes for the queried "
        "part; saved as RUN_DIR/chooser.pt.",
    ),
]
_Head = Annotated[
    str,
    typer.Option(
        help="harmonic: the scores are a band-limited function on SO(3) (learns from hundreds of crops); grid: one "
        "free score per grid rotation (runs before 2026-11-30)."
    ),
]
_Precision = Annotated[
    str,
    typer.Option(
        help="auto: bf16 autocast on CPUs with bf16 instructions, fp16 on CUDA, else fp32 | bf16 | fp32. Weights "
        "and losses stay float32."
    ),
]


def _add_train_command(task: str, doc: str, image_size_help: str, augment: bool, extra: tuple = ()) -> None:
    """Add ``train-<task>``: DATASET, --out and the TrainConfig fields below as flags (``--augment`` only where the
    task augments), each defaulting to what TrainConfig holds for ``task`` when given no settings."""
    defaults = TrainConfig(task=task, dataset="", out="")
    lr_help = (
        f"Peak learning rate (AdamW, warm-up then cosine); default {defaults.lr:g}, with --weights "
        f"{FINETUNE_LR_FACTOR * defaults.lr:g}."
    )
    lr = Annotated[float | None, typer.Option(help=lr_help, show_default=False)]
    flags = [
        ("epochs", _Epochs), ("batch_size", _Batch), ("image_size", Annotated[int, typer.Option(help=image_size_help)]),
        ("lr", lr), ("seed", _Seed), ("device", _Device), *([("augment", _Augment)] if augment else []),
        ("resume", _Resume), ("weights", _Weights), ("limit", _Limit), ("train_limit", _TrainLimit),
        ("max_minutes", _Minutes),
        ("workers", _Workers), ("streaming", _Streaming), ("epoch_samples", _EpochSamples),
        ("shuffle_buffer", _Buffer), *extra, ("precision", _Precision), ("quiet", Quiet),
    ]  # fmt: skip
    arg = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("dataset", arg, annotation=_Dataset), inspect.Parameter("out", arg, annotation=_Out)]
    unset = {"lr"}  # filled by TrainConfig: its default depends on --weights
    params += [
        inspect.Parameter(n, arg, annotation=t, default=None if n in unset else getattr(defaults, n)) for n, t in flags
    ]
    params.append(inspect.Parameter("verbose", arg, annotation=Verbose, default=False))

    def command(dataset: str, out: str, verbose: bool, **settings: Any) -> None:
        options.setup(settings["quiet"], verbose)
        _train_command(task, dataset, out, **settings)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # what typer reads
    command.__doc__ = doc
    app.command(f"train-{task}")(command)


_add_train_command(
    "mask",
    "Train the masking model: image + query (part id, colour) -> mask of that part (config 'scenes').",
    "Scenes are resized to this square size (multiple of 16).",
    augment=False,
    extra=(("query", _Query), ("part_head", _PartHead), ("second_look", _SecondLook)),
)
_add_train_command(
    "rot",
    "Train the rotation model: masked part crop + part id -> R_m2c, symmetry-aware (config 'parts').",
    "Part crops are resized to this square size.",
    augment=True,
    extra=(("mode", _Mode), ("head", _Head)),
)


@app.command("evaluate")
def evaluate_command(
    run_dir: Annotated[str, typer.Argument(help="RUN_DIR of train-mask or train-rot.")],
    dataset: Annotated[
        str,
        typer.Argument(help="Published dataset folder, Hub id, or a local store (render, annotate pull, import-log)."),
    ],
    split: Annotated[
        str | None, typer.Option(help="train | validation | test | all (default: test of a dataset, all of a store).")
    ] = None,
    checkpoint: Annotated[str, typer.Option(help="best | last.")] = "best",
    device: _Device = TrainConfig.device,
    limit: _Limit = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Re-score a trained checkpoint on a split; writes RUN_DIR/eval-SPLIT.json (eval-STORE-SPLIT.json for a store).

    A store is published to a temporary folder with the settings of the run's training dataset and scored like a
    dataset; records without a mask and instances the task leaves out are counted and printed."""
    options.setup(quiet, verbose)
    from legodata.train import torch_module

    torch_module()
    from legodata.train.evaluate import evaluate_run, is_store

    if is_store(dataset):
        from legodata.evaluate_store import evaluate_store

        result = evaluate_store(
            run_dir, dataset, split=split or "all", checkpoint=checkpoint, device=device, limit=limit
        )
    else:
        result = evaluate_run(
            run_dir, dataset, split=split or "test", checkpoint=checkpoint, device=device, limit=limit
        )
    typer.echo(f"{result['task']} {result['split']}: {result['summary']}")
    for name, m in result["per_part"].items():
        values = "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items())
        typer.echo(f"  {name:<8} {values}")
    if "store" in result:
        s = result["store"]
        typer.echo(
            f"store {dataset}: {s['records']} records, {s['records_without_mask']} without a mask (not scored); "
            f"{s['instances']} instances, {s['instances_not_scored']} not scored ({s['not_scored_because']}); "
            f"published with {s['settings_from']}"
        )
