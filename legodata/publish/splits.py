"""Train/validation/test splits by group: a pure function of (seed, group id), so adding groups moves no old ones."""

from __future__ import annotations

import hashlib

from legodata.core.units import SPLITS
from legodata.errors import LegodataError

DEFAULT_RATIOS = (0.8, 0.1, 0.1)


def parse_split_ratios(text: str | tuple[float, ...] | list[float]) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` (or a sequence) -> three non-negative ratios that sum to 1."""
    if isinstance(text, str):
        try:
            values = [float(x) for x in text.split(",")]
        except ValueError:
            raise LegodataError(f"--split {text!r}: expected three numbers like 0.8,0.1,0.1") from None
    else:
        values = [float(x) for x in text]
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise LegodataError(
            f"--split {','.join(f'{v:g}' for v in values)}: expected three non-negative ratios "
            "(train, validation, test) that sum to 1, like 0.8,0.1,0.1"
        )
    return values[0], values[1], values[2]


def group_unit(seed: int, group_id: str) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``group_id`` alone (SHA-256, the same on every machine)."""
    digest = hashlib.sha256(f"legodata-split:{int(seed)}:{group_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_of(seed: int, group_id: str, ratios: tuple[float, float, float]) -> str:
    """The split of every record of ``group_id``."""
    u = group_unit(seed, group_id)
    if u < ratios[0]:
        return SPLITS[0]
    if u < ratios[0] + ratios[1]:
        return SPLITS[1]
    return SPLITS[2]


class GroupSplitCheck:
    """Remembers the split of every group seen and refuses a group that appears in two splits."""

    def __init__(self) -> None:
        self._split_of: dict[str, str] = {}

    def add(self, group_id: str, split: str) -> None:
        old = self._split_of.setdefault(group_id, split)
        if old != split:
            raise LegodataError(f"group {group_id!r} would be in both {old} and {split}: splits must be by group")

    def groups(self, split: str) -> int:
        return sum(1 for s in self._split_of.values() if s == split)
