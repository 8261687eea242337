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
    config: Annotated[str | None, typer.Option("--config", "-c", help="YAML or TOML file of settings.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
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
    )
    cfg = build_config(file_values, cli_values)
    summary = run_render(cfg, progress=not quiet)
    typer.echo(
        f"{summary.out}: {summary.scenes_rendered} scenes rendered ({summary.frames_rendered} frames, "
        f"{summary.seconds_per_frame:.2f} s/frame), {summary.scenes_skipped} already done, "
        f"{summary.scenes_failed} failed, {summary.wall_s:.1f} s"
    )
    if summary.failures:
        typer.echo(f"failed scenes are listed with their reasons in {summary.out}/failed/; re-run to retry them")
        raise typer.Exit(1)


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
