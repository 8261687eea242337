"""Checkpoints of a training run (``last.pt``, ``best.pt``) and user-supplied initial weights."""

from __future__ import annotations

from pathlib import Path

from legodata.core.atomic import atomic_open
from legodata.errors import LegodataError
from legodata.train.tasks import torch

CHECKPOINT_FORMAT = "legodata-train/1"


def read_checkpoint(path: Path) -> dict:
    """A checkpoint written by ``legodata train``, or a one-line error saying what is wrong with ``path``."""
    if not path.is_file():
        raise LegodataError(f"checkpoint {path} does not exist; train first or give the RUN_DIR of a finished run")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise LegodataError(f"checkpoint {path} cannot be read ({type(exc).__name__}); is it a legodata run?") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise LegodataError(f"checkpoint {path} is not a {CHECKPOINT_FORMAT} checkpoint written by legodata train")
    return ckpt


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write ``payload`` to ``path`` by one rename (a killed run never leaves half a checkpoint)."""
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)
