"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""


class LegodataError(Exception):
    """A user-facing problem (bad input, bad settings, missing extra). ``str()`` is the whole message."""


class MissingExtraError(LegodataError):
    """A feature needs a pip extra that is not installed."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f'{module} is not installed; install it with: pip install "legodata[{extra}]"')


def require(module: str, extra: str):
    """Import ``module`` or raise :class:`MissingExtraError` naming the pip extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra) from None
