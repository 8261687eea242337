"""Logging for the command line: one handler on the ``legodata`` logger, one line per message.

Library modules only do ``logger = logging.getLogger(__name__)`` and log; they never configure logging (nor the
root logger). The CLI calls :func:`configure` once per command: WARNING with ``--quiet``, INFO by default, DEBUG
with ``--verbose``. Messages go to stderr through ``tqdm.write``, so they do not tear a progress bar.
"""

from __future__ import annotations

import logging
import sys

LOGGER = "legodata"
_HANDLER_FLAG = "_legodata_cli_handler"


class _LineFormatter(logging.Formatter):
    """``message`` for INFO, ``warning: message`` (``error:``, ``debug:``) otherwise; always a single line.

    A logged exception adds ``(ExcType: text)``, not its traceback (``LEGODATA_DEBUG=1`` shows tracebacks)."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f" ({type(exc).__name__}: {exc})"
        if record.levelno != logging.INFO:
            text = f"{record.levelname.lower()}: {text}"
        if self.debug:
            text = f"{record.name}: {text}"
        return " ".join(text.split("\n"))


class _TqdmHandler(logging.Handler):
    """Writes above any active tqdm bar instead of through it; to ``stream``, or to whatever ``sys.stderr`` is now."""

    def __init__(self, stream=None) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream if self.stream is not None else sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def level_for(quiet: bool = False, verbose: bool = False) -> int:
    """WARNING with ``quiet``, DEBUG with ``verbose`` (``verbose`` wins), else INFO."""
    if verbose:
        return logging.DEBUG
    return logging.WARNING if quiet else logging.INFO


def configure(quiet: bool = False, verbose: bool = False, stream=None) -> logging.Logger:
    """Install (or replace) the CLI's handler on the ``legodata`` logger and set its level.

    The ``legodata`` logger stops propagating, so a root handler set up elsewhere does not print every line twice.
    """
    logger = reset()
    handler = _TqdmHandler(stream)
    setattr(handler, _HANDLER_FLAG, True)
    level = level_for(quiet, verbose)
    handler.setFormatter(_LineFormatter(debug=level <= logging.DEBUG))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def reset() -> logging.Logger:
    """Undo :func:`configure`: no CLI handler, level unset, propagating again (as a library user finds it)."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, _HANDLER_FLAG, False):
            logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    return logger
