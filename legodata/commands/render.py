"""Commands that make and inspect stores: render, export, preview, parts, colours."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any

import typer

from legodata.commands import options
from legodata.commands.app import app
from legodata.commands.options import Quiet, RayAddress, Verbose, device_option, out_option, seed_option


@app.command()
def render(
    out: Annotated[str | None, out_option("Output dataset directory.")] = None,
    scenes: Annotated[int | None, typer.Option(help="Number of scenes (all shards together).")] = None,
    views: Annotated[int | None, typer.Option(help="Camera views per scene.")] = None,
    resolution: Annotated[int | None, typer.Option(help="Image width and height in pixels.")] = None,
    seed: Annotated[int | None, seed_option("Random seed: same seed, same scenes.")] = None,
    parts: Annotated[str | None, typer.Option(help="Comma-separated LDraw part ids, or 'all'.")] = None,
    colours: Annotated[str | None, typer.Option(help="Comma-separated LDraw colour codes, or 'all'.")] = None,
    parts_per_scene: Annotated[str | None, typer.Option(help="MIN,MAX parts per scene.")] = None,
    orientation: Annotated[str | None, typer.Option(help="uniform | resting | canonical.")] = None,
    preset: Annotated[str | None, typer.Option(help="Render quality: fast | default | high.")] = None,
    device: Annotated[str | None, device_option("auto (GPU if present) | cpu | gpu.")] = None,
    workers: Annotated[int | None, typer.Option(help="Render worker processes.")] = None,
    shard: Annotated[str | None, typer.Option(help="K/N: render only scenes with index % N == K.")] = None,
    ldraw_dir: Annotated[
        str | None,
        typer.Option(help="LDraw library (holds parts/, p/, LDConfig.ldr); default: env LDRAWDIR. Its parts win."),
    ] = None,
    ldraw_hires: Annotated[
        bool, typer.Option("--ldraw-hires", help="Use the library's 48-segment primitives (p/48/) first.")
    ] = False,
    domain: Annotated[
        str | None,
        typer.Option(help="clean (plain table) | randomised (textures, prints, distractors, camera effects) | shift."),
    ] = None,
    backgrounds: Annotated[
        str | None, typer.Option(help="Folder of images for table and backdrop textures (with --domain randomised).")
    ] = None,
    executor: Annotated[
        str | None, typer.Option(help="local (worker processes here) | ray (Ray tasks; scenes go to --out).")
    ] = None,
    address: RayAddress = None,
    config: Annotated[str | None, typer.Option("--config", "-c", help="YAML or TOML file of settings.")] = None,
    formats: Annotated[
        str | None, typer.Option("--format", help="Also export after rendering: bop,coco (into OUT/bop, OUT/coco).")
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Render LEGO scenes with BlenderProc: RGB, instance masks, depth, poses, camera intrinsics."""
    options.setup(quiet, verbose)
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
        ldraw_hires=ldraw_hires or None,  # not given: the config file decides
        domain=domain,
        backgrounds=backgrounds,
        executor=executor,
        address=address,
    )
    cfg = build_config(file_values, cli_values)
    run_and_export(lambda: run_render(cfg, progress=not quiet), "scenes", formats)


def run_and_export(run: Callable[[], Any], units: str, formats: str | None) -> None:
    """Run a render job (``run()`` returns its summary) and print what it did; failed ``units`` (listed in
    OUT/failed/) exit 1, else the store is exported in ``formats``. A bad ``--format`` fails before the run."""
    if formats:
        from legodata.export import parse_formats

        parse_formats(formats)
    summary = run()
    typer.echo(summary.describe())
    if summary.failures:
        typer.echo(f"failed {units} are listed with their reasons in {summary.out}/failed/; re-run to retry them")
        raise typer.Exit(1)
    if formats:
        export_and_report(str(summary.out), str(summary.out), formats)


def export_and_report(store: str, out: str, formats: str) -> None:
    """Export ``store`` in ``formats`` into ``out/<format>`` and print what each format got."""
    from pathlib import Path

    from legodata.export import export

    for fmt, counts in export(store, out, formats).items():
        typer.echo(f"{Path(out) / fmt}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@app.command("export")
def export_command(
    store: Annotated[str, typer.Argument(help="Local store (made by `legodata render`).")],
    out: Annotated[str, out_option("Directory; each format goes to OUT/<format>.")],
    formats: Annotated[str, typer.Option("--format", help="Comma-separated: bop, coco.")] = "bop,coco",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Export a store as BOP (OUT/bop) and/or COCO (OUT/coco)."""
    options.setup(quiet, verbose)
    export_and_report(store, out, formats)


@app.command("preview")
def preview_command(
    store: Annotated[str, typer.Argument(help="Local store (any source).")],
    out: Annotated[
        str | None, out_option("PNG to write (default DIR/preview.png, DIR/steps_preview.png for assembly steps).")
    ] = None,
    n: Annotated[int | None, typer.Option("--n", help="Images (steps for assembly stores) on the sheet.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Contact sheet: images with mask overlays, part labels and each part's model axes (X red, Y green, Z blue).
    An assembly store (`render-steps`) gets one row per step: manual | observation | relevant mask | target axes."""
    options.setup(quiet, verbose)
    from legodata.store.store import Store

    if Store(store).read_manifest().get("source") == "assembly":
        from legodata.assembly.preview import steps_preview

        typer.echo(str(steps_preview(store, out, n=n or 8)))
        return
    from legodata.preview import preview

    typer.echo(str(preview(store, out, n=n or 16)))


@app.command("migrate")
def migrate_command(
    store: Annotated[str, typer.Argument(help="A store of the old flat layout (scenes/<id>/).")],
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Move an old store's scenes into chunked folders (scenes/<chunk>/<id>/), in place; safe to re-run."""
    options.setup(quiet, verbose)
    from legodata.store.migrate import migrate

    n = migrate(store)
    typer.echo(f"{store}: {n} scenes moved into chunked folders" if n else f"{store}: already chunked")


@app.command("parts")
def parts_command(
    ldraw_dir: Annotated[
        str | None, typer.Option(help="List this LDraw library's parts instead; default: env LDRAWDIR.")
    ] = None,
    search: Annotated[str, typer.Option(help="Only parts whose number or title contains this text.")] = "",
    limit: Annotated[int, typer.Option(help="Show at most this many (0: all).")] = 0,
    all_entries: Annotated[bool, typer.Option("--all", help="Include moved (~) and alias (=) entries.")] = False,
    symmetry: Annotated[
        bool, typer.Option("--symmetry", help="Also compute each LDraw part's symmetry group (about 0.1-1 s a part).")
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """List parts: the built-in catalogue (id, kind, name, symmetry group size), or an LDraw library's parts."""
    options.setup(quiet, verbose)
    ldraw_dir = ldraw_dir or os.environ.get("LDRAWDIR") or None
    if ldraw_dir is None:
        from legodata.parts.catalogue import get_part, list_parts

        needle = search.lower()
        infos = [i for i in list_parts() if needle in i.part_id.lower() or needle in i.name.lower()]
        for info in infos[: limit or None]:
            group = get_part(info.part_id).symmetry
            typer.echo(f"{info.part_id:<8} {info.kind:<6} {info.name:<24} {_symmetry_text(group)}")
        return
    from legodata.ldraw.library import get_library

    entries = get_library(ldraw_dir).list_parts(search, include_aliases=all_entries)
    for part_id, title in entries[: limit or None]:
        if symmetry:
            from legodata.parts.catalogue import get_part

            group = get_part(part_id, ldraw_dir=ldraw_dir).symmetry
            typer.echo(f"{part_id:<12} {title:<48} {_symmetry_text(group)}")
        else:
            typer.echo(f"{part_id:<12} {title}")
    shown = min(len(entries), limit) if limit else len(entries)
    typer.echo(
        f"{shown} of {len(entries)} parts in {ldraw_dir}" + (f" matching {search!r}" if search else ""), err=True
    )


def _symmetry_text(group) -> str:
    """``symmetries=4`` or ``symmetries=4 round`` (a continuous axis)."""
    return f"symmetries={len(group.rotations)}" + (" round" if group.continuous_axes else "")


@app.command("colours")
def colours_command(quiet: Quiet = False, verbose: Verbose = False) -> None:
    """List the built-in LDraw colours: code, name, sRGB hex."""
    options.setup(quiet, verbose)
    from legodata.parts.colours import list_colours

    for c in list_colours():
        typer.echo(f"{c.code:<5} {c.rgb_hex}  {c.name}")
