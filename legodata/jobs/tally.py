"""What the two render jobs (``render``: scenes, ``render-steps``: models) count as their units finish, and the rule
that stops a run whose first units all fail (a broken setup, not bad luck)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legodata.errors import LegodataError

FAIL_FAST_AFTER = 3  # units that may fail before the first success before the run stops


@dataclass
class Tally:
    """The units of this shard (``total``), those not finished before this run (``pending``), and how they went.
    ``unit`` names one (``scene``, ``model``); ``failed_dir`` is where the job keeps the reasons."""

    unit: str
    total: int
    pending: int
    failed_dir: Path
    rendered: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, unit_id: str, reason: str) -> None:
        self.failures.append(f"{self.unit} {unit_id}: {reason}")

    def all_failing(self) -> bool:
        """True when nothing has worked yet and the first units (at least two) all failed."""
        return self.rendered == 0 and len(self.failures) >= min(FAIL_FAST_AFTER, self.pending) and self.pending > 1

    def stop_error(self, rerun: str = "re-run") -> LegodataError:
        """The one-line error that stops an :meth:`all_failing` run; ``rerun`` says what to run again."""
        return LegodataError(
            f"the first {len(self.failures)} {self.unit}s all failed, stopping ({self.failures[0]}); fix that and "
            f"{rerun} (reasons are kept in {self.failed_dir})"
        )

    def counts(self) -> dict[str, Any]:
        """The job summary's counts, named after the unit: ``scenes_total``, ``scenes_rendered``,
        ``scenes_skipped``, ``scenes_failed`` (``models_...`` for models), and ``failures``."""
        u = f"{self.unit}s"
        return {
            f"{u}_total": self.total,
            f"{u}_rendered": self.rendered,
            f"{u}_skipped": self.total - self.pending,
            f"{u}_failed": len(self.failures),
            "failures": tuple(self.failures),
        }
