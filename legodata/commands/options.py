"""Options every command spells the same way, defined once (as huggingface_hub's ``cli/_cli_utils.py``).

``Quiet`` and ``Verbose`` are ready-made ``Annotated`` aliases; ``--out``, ``--seed`` and ``--device`` mean
different things per command (a store, a dataset folder, a run folder), so their help text is given where they are
used: ``out: Annotated[str, out_option("RUN_DIR ...")]``. Each command calls :func:`setup` with its
``quiet``/``verbose`` first.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

OUT_FLAGS = ("--out", "-o")
SEED_FLAG = "--seed"
DEVICE_FLAG = "--device"
QUIET_FLAGS = ("--quiet", "-q")
VERBOSE_FLAGS = ("--verbose", "-v")

Quiet = Annotated[bool, typer.Option(*QUIET_FLAGS, help="Only warnings and errors; no progress bar.")]
Verbose = Annotated[bool, typer.Option(*VERBOSE_FLAGS, help="Also debug messages.")]
RayAddress = Annotated[
    str | None, typer.Option(help="Ray cluster to join: auto | HOST:PORT (default: start a local Ray).")
]


def out_option(help: str) -> Any:
    """``--out/-o`` with this command's ``help``."""
    return typer.Option(*OUT_FLAGS, help=help)


def seed_option(help: str) -> Any:
    """``--seed`` with this command's ``help``."""
    return typer.Option(SEED_FLAG, help=help)


def device_option(help: str) -> Any:
    """``--device`` with this command's ``help`` (the accepted values differ: Blender or torch devices)."""
    return typer.Option(DEVICE_FLAG, help=help)


def setup(quiet: bool = False, verbose: bool = False) -> None:
    """Configure logging for one command (see :mod:`legodata.log`)."""
    from legodata.log import configure

    configure(quiet=quiet, verbose=verbose)
