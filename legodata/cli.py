"""The ``legodata`` command line: a thin layer over the Python API. One function per command."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from legodata.errors import LegodataError

app = typer.Typer(
    name="legodata",
    help="Create and annotate datasets for robots that assemble LEGO from instruction manuals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def render(
    out: Annotated[str | None, typer.Option("--out", "-o", help="Output dataset directory.")] = None,
    scenes: Annotated[int | None, typer.Option(help="Number of scenes (all shards together).")] = None,
    views: Annotated[int | None, typer.Option(help="Camera views per scene.")] = None,
    resolution: Annotated[int | None, typer.Option(help="Image width and height in pixels.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed: same seed, same scenes.")] = None,
    parts: Annotated[str | None, typer.Option(help="Comma-separated LDraw part ids, or 'all'.")] = None,
    colours: Annotated[str | None, typer.Option(help="Comma-separated LDraw colour codes, or 'all'.")] = None,
    parts_per_scene: Annotated[str | None, typer.Option(help="MIN,MAX parts per scene.")] = None,
    orientation: Annotated[str | None, typer.Option(help="uniform | resting | canonical.")] = None,
    preset: Annotated[str | None, typer.Option(help="Render quality: fast | default | high.")] = None,
    device: Annotated[str | None, typer.Option(help="auto (GPU if present) | cpu | gpu.")] = None,
    workers: Annotated[int | None, typer.Option(help="Render worker processes.")] = None,
    shard: Annotated[str | None, typer.Option(help="K/N: render only scenes with index % N == K.")] = None,
    ldraw_dir: Annotated[
        str | None,
        typer.Option(help="LDraw library (holds parts/, p/, LDConfig.ldr); default: env LDRAWDIR. Its parts win."),
    ] = None,
    config: Annotated[str | None, typer.Option("--config", "-c", help="YAML or TOML file of settings.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    formats: Annotated[
        str | None, typer.Option("--format", help="Also export after rendering: bop,coco (into OUT/bop, OUT/coco).")
    ] = None,
) -> None:
    """Render LEGO scenes with BlenderProc: RGB, instance masks, depth, poses, camera intrinsics."""
    from legodata.config import build_config, load_config_file, parse_range
    from legodata.jobs.render_job import run_render

    file_values = load_config_file(config) if config else {}
    cli_values = dict(
        out=out,
        scenes=scenes,
        views=views,
        resolution=resolution,
        seed=seed,
        parts=parts,
        colours=colours,
        parts_per_scene=parse_range(parts_per_scene, "--parts-per-scene") if parts_per_scene else None,
        orientation=orientation,
        preset=preset,
        device=device,
        workers=workers,
        shard=shard,
        # precedence: --ldraw-dir, then the config file, then env LDRAWDIR (the LDraw convention)
        ldraw_dir=ldraw_dir or (None if "ldraw_dir" in file_values else os.environ.get("LDRAWDIR") or None),
    )
    cfg = build_config(file_values, cli_values)
    if formats:
        from legodata.export import parse_formats

        parse_formats(formats)  # a bad --format fails before rendering, not after
    summary = run_render(cfg, progress=not quiet)
    typer.echo(
        f"{summary.out}: {summary.scenes_rendered} scenes rendered ({summary.frames_rendered} frames, "
        f"{summary.seconds_per_frame:.2f} s/frame), {summary.scenes_skipped} already done, "
        f"{summary.scenes_failed} failed, {summary.wall_s:.1f} s"
    )
    if summary.failures:
        typer.echo(f"failed scenes are listed with their reasons in {summary.out}/failed/; re-run to retry them")
        raise typer.Exit(1)
    if formats:
        _export_and_report(str(summary.out), str(summary.out), formats)


def _export_and_report(store: str, out: str, formats: str) -> None:
    from pathlib import Path

    from legodata.export import export

    for fmt, counts in export(store, out, formats).items():
        typer.echo(f"{Path(out) / fmt}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@app.command("export")
def export_command(
    store: Annotated[str, typer.Argument(help="Local store (made by `legodata render`).")],
    out: Annotated[str, typer.Option("--out", "-o", help="Directory; each format goes to OUT/<format>.")],
    formats: Annotated[str, typer.Option("--format", help="Comma-separated: bop, coco.")] = "bop,coco",
) -> None:
    """Export a store as BOP (OUT/bop) and/or COCO (OUT/coco)."""
    _export_and_report(store, out, formats)


@app.command("preview")
def preview_command(
    store: Annotated[str, typer.Argument(help="Local store (made by `legodata render`).")],
    out: Annotated[str | None, typer.Option("--out", "-o", help="PNG to write (default DIR/preview.png).")] = None,
    n: Annotated[int, typer.Option("--n", help="Number of images on the sheet.")] = 16,
) -> None:
    """Contact sheet: images with mask overlays, part labels and each part's model axes (X red, Y green, Z blue)."""
    from legodata.preview import preview

    typer.echo(str(preview(store, out, n=n)))


@app.command("publish")
def publish_command(
    sources: Annotated[list[str], typer.Argument(help="Local stores (made by `legodata render` or an importer).")],
    out: Annotated[str, typer.Option("--out", "-o", help="Dataset folder to write (replaced only when complete).")],
    repo_id: Annotated[
        str | None, typer.Option(help="Hub dataset USER/NAME (named in the card; needed by --push).")
    ] = None,
    push: Annotated[bool, typer.Option("--push", help="Upload the folder to --repo-id and tag it.")] = False,
    split: Annotated[str, typer.Option(help="Train,validation,test ratios of groups.")] = "0.8,0.1,0.1",
    seed: Annotated[int, typer.Option(help="Seed of the group split.")] = 0,
    crop_size: Annotated[int, typer.Option(help="Side of the parts crops in pixels.")] = 128,
    min_px: Annotated[int, typer.Option(help="Visible pixels an instance needs for a parts row.")] = 50,
    shard_rows: Annotated[int, typer.Option(help="Rows per parquet shard.")] = 1000,
    licence: Annotated[str, typer.Option(help="Licence id for the card (Hub licence identifiers).")] = "cc-by-4.0",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Publish stores as a Hugging Face dataset folder (configs scenes and parts, parquet + card); --push uploads it."""
    from legodata.publish import publish

    s = publish(
        sources,
        out,
        repo_id=repo_id,
        push=push,
        split=split,
        seed=seed,
        crop_size=crop_size,
        min_px=min_px,
        shard_rows=shard_rows,
        licence=licence,
        progress=not quiet,
    )
    rows = ", ".join(f"{c} " + "/".join(str(n) for n in by_split.values()) for c, by_split in s.rows.items())
    typer.echo(
        f"{s.out}: {s.records} images, {s.part_rows} part crops (train/validation/test rows: {rows}), "
        f"{s.shards} shards, {s.bytes / 1e6:.1f} MB, {s.wall_s:.1f} s" + (f"; pushed to {s.pushed}" if s.pushed else "")
    )


@app.command("parts")
def parts_command() -> None:
    """List the built-in parts catalogue: id, kind, name, symmetry group size."""
    from legodata.parts.catalogue import get_part, list_parts

    for info in list_parts():
        group = get_part(info.part_id).symmetry
        typer.echo(f"{info.part_id:<8} {info.kind:<6} {info.name:<24} symmetries={len(group.rotations)}")


@app.command("colours")
def colours_command() -> None:
    """List the built-in LDraw colours: code, name, sRGB hex."""
    from legodata.parts.colours import list_colours

    for c in list_colours():
        typer.echo(f"{c.code:<5} {c.rgb_hex}  {c.name}")


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
    image_size: Annotated[int, typer.Option(help="Part crops are resized to this square size.")] = 128,
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


def main() -> None:
    """Entry point: user errors become one line on stderr (set LEGODATA_DEBUG=1 for the traceback)."""
    try:
        app()
    except LegodataError as exc:
        if os.environ.get("LEGODATA_DEBUG"):
            raise
        typer.echo(f"legodata: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("legodata: interrupted; re-run the same command to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
