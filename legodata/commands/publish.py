"""The publish command: stores -> Hugging Face dataset folder (and Hub)."""

from __future__ import annotations

from typing import Annotated

import typer

from legodata.commands.app import app


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
