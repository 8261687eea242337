"""The Python API behind the CLI, for notebooks and scripts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from legodata.config import RenderConfig


def render(out: str, progress: bool = False, **settings: Any):
    """Render a dataset into ``out`` (see :class:`legodata.config.RenderConfig` for ``settings``).

    Returns a :class:`legodata.jobs.render_job.RenderSummary`. Re-running with the same settings resumes.
    """
    from legodata.jobs.render_job import run_render

    if "parts_per_scene" in settings and isinstance(settings["parts_per_scene"], int):
        settings["parts_per_scene"] = (settings["parts_per_scene"],) * 2
    return run_render(replace(RenderConfig(out=str(out)), **settings), progress=progress)
