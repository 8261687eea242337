"""``legodata render-steps``: assembly steps of an LDraw model or of random builds -> a store of ``assembly`` records.

Per model (one committed group): a manual page per step (Workbench), one callout sheet, an observation per step
plus the finished model (Cycles, physics for the loose parts). Resumable like ``render``: a finished model is
skipped, a killed run leaves no half-written model (one rename), ``--shard K/N`` takes models with index % N == K.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from legodata.assembly.random_builds import GRID_PARTS, BuildConfig, build_rng, random_build
from legodata.assembly.steps import Assembly, load_assembly
from legodata.config import parse_shard
from legodata.errors import LegodataError
from legodata.jobs.steps_config import StepsConfig
from legodata.jobs.steps_parts import Catalogue, prepare_store, resolve_catalogue
from legodata.jobs.steps_task import ModelRunner, models_on_ray, note_model
from legodata.jobs.tally import Tally
from legodata.store.store import Store

MAIN_COLOUR_DEFAULT = 71  # colour 16 left at the top of a model ("main colour") renders light bluish grey


@dataclass(frozen=True)
class StepsSummary:
    out: str
    models_total: int
    models_rendered: int
    models_skipped: int
    models_failed: int
    steps_rendered: int
    wall_s: float
    timing_s: dict[str, float] = field(default_factory=dict)  # worker seconds: manual pages, callouts, observations
    failures: tuple[str, ...] = ()

    def describe(self) -> str:
        per_step = f", {self.wall_s / self.steps_rendered:.2f} s/step" if self.steps_rendered else ""
        return (
            f"{self.out}: {self.models_rendered} models rendered ({self.steps_rendered} steps{per_step}), "
            f"{self.models_skipped} already done, {self.models_failed} failed, {self.wall_s:.1f} s"
        )


def group_name(text: str) -> str:
    """A model file name -> a group id (letters, digits, ``-``, ``_``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "model"


def make_assemblies(cfg: StepsConfig) -> list[tuple[str, Assembly]]:
    """``(group id, assembly)`` of every model of the run, in index order (pure: no rendering)."""
    if cfg.model is not None:
        a = load_assembly(cfg.model)
        parts = tuple(replace(p, colour_code=MAIN_COLOUR_DEFAULT) if p.colour_code == 16 else p for p in a.parts)
        return [(group_name(Path(cfg.model).stem), Assembly(a.name, parts, a.source, a.meta))]
    ids = tuple(x.strip() for x in cfg.parts.split(",") if x.strip())
    unknown = [p for p in ids if p not in GRID_PARTS]
    if unknown or not ids:
        raise LegodataError(f"--parts for random builds: use built-in parts ({', '.join(GRID_PARTS)}); not {unknown}")
    colours = tuple(int(c) for c in cfg.colours.split(",") if c.strip())
    bcfg = BuildConfig(ids, colours, cfg.parts_per_build, cfg.parts_per_step)
    return [
        (f"build_{i:05d}", random_build(build_rng(cfg.seed, i), bcfg, f"build_{i:05d}"))
        for i in range(cfg.random_builds)
    ]


def _models_here(store: Store, cfg: StepsConfig, cat: Catalogue, pending: list, tally, timing, progress) -> int:
    """Render the models ``pending`` one after another with one worker process; returns the steps rendered."""
    from tqdm import tqdm

    runner = ModelRunner(store, cfg, cat, store.root / "logs" / "steps-worker.log", max(1, os.cpu_count() or 1))
    steps = 0
    try:
        for i, group, a in tqdm(pending, unit="model", disable=not progress, desc="render-steps", dynamic_ncols=True):
            steps += note_model(store, tally, timing, runner.run(i, group, a))
            if tally.all_failing():
                raise tally.stop_error() from None
    finally:
        runner.close()
    return steps


def run_steps(cfg: StepsConfig, progress: bool = True) -> StepsSummary:
    """Render every model of ``cfg`` (this shard's share) into ``cfg.out``; resume where a previous run stopped."""
    cfg = cfg.validate()
    if cfg.executor == "ray":
        from legodata.jobs.ray_executor import ray_session

        with ray_session(cfg.address) as ray:
            return _run_steps(cfg, progress, ray)
    return _run_steps(cfg, progress)


def _run_steps(cfg: StepsConfig, progress: bool, ray=None) -> StepsSummary:
    start = time.monotonic()
    assemblies = make_assemblies(cfg)
    cat = resolve_catalogue(cfg, assemblies)
    store = prepare_store(cfg, cat)
    store.clean_stale_tmp()
    k, n = parse_shard(cfg.shard)
    mine = [(i, g, a) for i, (g, a) in enumerate(assemblies) if i % n == k]
    pending = [(i, g, a) for i, g, a in mine if not store.is_scene_done(g)]
    tally = Tally("model", len(mine), len(pending), store.root / "failed")
    timing: Counter = Counter()
    if ray is None:
        steps = _models_here(store, cfg, cat, pending, tally, timing, progress)
    else:
        steps = models_on_ray(ray, store, cfg, cat, pending, tally, timing, progress)
        store.clean_stale_tmp()
    store.sync_index()  # appended scene by scene; this only repairs what a killed run left
    return StepsSummary(
        out=str(store.root),
        steps_rendered=steps,
        wall_s=time.monotonic() - start,
        timing_s={k: round(v, 3) for k, v in timing.items()},
        **tally.counts(),
    )
