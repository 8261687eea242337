"""``legodata simulate-run``: the simulator of :mod:`legodata.runlog.simulate` driven by the Blender render worker."""

from __future__ import annotations

import os
from pathlib import Path

from legodata.jobs.worker_client import WorkerClient, WorkerCrashed
from legodata.runlog.silhouette import SilhouetteRenderer
from legodata.runlog.simulate import SIM_DIR, SimConfig, SimSummary, simulate_run

RENDERERS = ("blender", "silhouette")


def run_simulation(cfg: SimConfig, renderer: str = "blender", progress: bool = False) -> SimSummary:
    """Simulate ``cfg`` with real renders (``blender``) or the numpy stand-in (``silhouette``, no Blender)."""
    from legodata.errors import LegodataError

    if renderer not in RENDERERS:
        raise LegodataError(f"--renderer {renderer!r}: use one of {', '.join(RENDERERS)}")
    cfg = cfg.validate()
    root = Path(cfg.out) / SIM_DIR
    if renderer == "silhouette":
        return simulate_run(cfg, SilhouetteRenderer(root), progress=progress)
    root.mkdir(parents=True, exist_ok=True)
    client = WorkerClient(root, root / "render.log", os.cpu_count() or 1)
    try:
        return simulate_run(cfg, client, progress=progress)
    except WorkerCrashed as exc:
        raise LegodataError(f"the render worker died: {exc}") from None
    finally:
        client.close()
