"""The typer application every command module registers on."""

import typer

app = typer.Typer(
    name="legodata",
    help="Create and annotate datasets for robots that assemble LEGO from instruction manuals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
