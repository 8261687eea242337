"""The publish command: stores -> Hugging Face dataset folder (and Hub).

Its defaults are read from :class:`legodata.publish.config.PublishConfig`, never restated here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from legodata.commands import options
from legodata.commands.app import app
from legodata.commands.options import Quiet, Verbose, out_option, seed_option
from legodata.publish.config import PublishConfig

_D = PublishConfig()


@app.command("publish")
def publish_command(
    sources: Annotated[list[str], typer.Argument(help="Local stores (made by `legodata render` or an importer).")],
    out: Annotated[str, out_option("Dataset folder to write (replaced only when complete).")],
    repo_id: Annotated[
        str | None, typer.Option(help="Hub dataset USER/NAME (named in the card; needed by --push).")
    ] = _D.repo_id,
    push: Annotated[bool, typer.Option("--push", help="Upload the folder to --repo-id and tag it.")] = _D.push,
    split: Annotated[str, typer.Option(help="Train,validation,test ratios of groups.")] = _D.split,
    seed: Annotated[int, seed_option("Seed of the group split.")] = _D.seed,
    crop_size: Annotated[int, typer.Option(help="Side of the parts crops in pixels.")] = _D.crop_size,
    min_px: Annotated[int, typer.Option(help="Visible pixels an instance needs for a parts row.")] = _D.min_px,
    shard_size: Annotated[
        str, typer.Option(help="Target size of a parquet shard (500MB, 2GB, 64MiB); rows per shard follow from it.")
    ] = _D.shard_size,
    shard_rows: Annotated[
        int | None, typer.Option(help="At most this many rows per shard (default: cut by --shard-size only).")
    ] = _D.shard_rows,
    licence: Annotated[str, typer.Option(help="Licence id for the card (Hub licence identifiers).")] = _D.licence,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Publish stores as a Hugging Face dataset folder (configs scenes and parts, parquet + card); --push uploads it."""
    options.setup(quiet, verbose)
    from dataclasses import replace

    from legodata.publish.api import publish_config

    cfg = replace(
        _D, repo_id=repo_id, push=push, split=split, seed=seed, crop_size=crop_size, min_px=min_px,
        shard_size=shard_size, shard_rows=shard_rows, licence=licence,
    )  # fmt: skip
    s = publish_config(sources, out, cfg, progress=not quiet)
    rows = ", ".join(f"{c} " + "/".join(str(n) for n in by_split.values()) for c, by_split in s.rows.items())
    typer.echo(
        f"{s.out}: {s.records} images, {s.part_rows} part crops (train/validation/test rows: {rows}), "
        f"{s.shards} shards, {s.bytes / 1e6:.1f} MB, {s.wall_s:.1f} s" + (f"; pushed to {s.pushed}" if s.pushed else "")
    )


@app.command("push")
def push_command(
    folder: Annotated[str, typer.Argument(help="A folder made by `legodata publish`.")],
    repo_id: Annotated[str, typer.Option(help="Hub dataset USER/NAME to upload to.")],
    tag: Annotated[str | None, typer.Option(help="Version tag (default v<fingerprint>, as publish --push).")] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the Hub repo private.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Upload a published folder to the Hub and tag it; run it again to resume an interrupted upload."""
    options.setup(quiet, verbose)
    from legodata.publish.push import push_folder

    typer.echo(f"{folder}: pushed to {push_folder(folder, repo_id, tag, private=private)}")
