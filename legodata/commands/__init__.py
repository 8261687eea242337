"""CLI commands, one module per command group; ``legodata.cli`` assembles them."""
