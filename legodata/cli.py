"""The ``legodata`` command line: assembles the command modules; ``main()`` turns user errors into one line."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from legodata.commands.app import app
from legodata.errors import LegodataError

__all__ = ["app", "main"]
INTERRUPTED = "legodata: interrupted; re-run the same command to resume"

# Importing a command module registers its commands; this order is the order of `legodata --help`.
for _module in ("render", "publish", "train", "predict", "runs", "steps", "annotate"):
    importlib.import_module(f"legodata.commands.{_module}")


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
        typer.echo(INTERRUPTED, err=True)
        sys.exit(130)
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C into exit code 130 without a word
            typer.echo(INTERRUPTED, err=True)
        raise


if __name__ == "__main__":
    main()
