"""``legodata render-steps``: assembly steps of an LDraw model or of random builds -> a store of ``assembly`` records.

Per model (one committed group): a manual page per step (Workbench), one callout sheet, an observation per step
plus the finished model (Cycles, physics for the loose parts). Resumable like ``render``: a finished model is
skipped, a killed run leaves no half-written model (one rename), ``--shard K/N`` takes models with index % N == K.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.assembly.attach import attachments
from legodata.assembly.manual_page import callout_thumbnail, compose_page
from legodata.assembly.random_builds import GRID_PARTS, BuildConfig, build_rng, random_build
from legodata.assembly.specs import (
    ModelScene,
    StepsSettings,
    Workspace,
    callout_keys,
    callout_spec,
    make_workspace,
    manual_spec,
    observation_spec,
)
from legodata.assembly.steps import Assembly, load_assembly
from legodata.config import PRESETS, parse_shard
from legodata.core.atomic import atomic_write_text
from legodata.core.spec import RenderSettings
from legodata.core.units import DEPTH_SCALE_M
from legodata.errors import LegodataError
from legodata.jobs.steps_parts import Catalogue, prepare_store, resolve_catalogue
from legodata.jobs.steps_task import ModelRunner, models_on_ray, note_model
from legodata.jobs.tally import Tally
from legodata.sources.assembly import ModelContext, model_records, obs_dir, page_paths
from legodata.store.store import Store

logger = logging.getLogger(__name__)

MAIN_COLOUR_DEFAULT = 71  # colour 16 left at the top of a model ("main colour") renders light bluish grey


@dataclass(frozen=True)
class StepsConfig:
    """Everything that defines an assembly-steps store, plus job control (device, shard)."""

    out: str
    model: str | None = None  # an LDraw .ldr/.mpd/.dat model with 0 STEP lines
    random_builds: int = 0  # or this many random builds from the built-in parts
    ldraw_dir: str | None = None
    seed: int = 0
    views: int = 1
    resolution: int = 256
    manual_resolution: int = 384
    callout_resolution: int = 96
    distractors: tuple[int, int] = (1, 3)
    parts: str = ",".join(GRID_PARTS)  # random builds: the built-in parts to use
    colours: str = "0,1,2,4,14,15,25,71,72,19"  # random builds: LDraw colour codes
    parts_per_build: tuple[int, int] = (4, 10)
    parts_per_step: tuple[int, int] = (1, 3)
    preset: str = "fast"
    device: str = "auto"
    shard: str = "0/1"
    max_models_per_worker: int = 20
    executor: str = "local"  # local worker process, or Ray tasks (legodata.jobs.steps_task.models_on_ray)
    address: str | None = None  # Ray cluster: "auto", HOST:PORT, or None for a local Ray

    DATA_FIELDS = (
        "model", "random_builds", "ldraw_dir", "seed", "views", "resolution", "manual_resolution",
        "callout_resolution", "distractors", "parts", "colours", "parts_per_build", "parts_per_step", "preset",
    )  # fmt: skip

    def validate(self) -> StepsConfig:
        if (self.model is None) == (self.random_builds <= 0):
            raise LegodataError("render-steps needs either --model M.ldr or --random-builds N (not both)")
        if self.model is not None and not Path(self.model).is_file():
            raise LegodataError(f"--model {self.model}: no such file")
        if self.ldraw_dir is not None and not Path(self.ldraw_dir).is_dir():
            raise LegodataError(f"--ldraw-dir {self.ldraw_dir}: not a directory (the LDraw library with parts/, p/)")
        if self.preset not in PRESETS:
            raise LegodataError(f"--preset {self.preset!r}: use one of {', '.join(PRESETS)}")
        for name in ("resolution", "manual_resolution", "callout_resolution"):
            if not 32 <= getattr(self, name) <= 4096:
                raise LegodataError(f"--{name.replace('_', '-')} must be between 32 and 4096 pixels")
        for name in ("distractors", "parts_per_build", "parts_per_step"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi or (name != "distractors" and lo < 1):
                raise LegodataError(f"--{name.replace('_', '-')} {lo},{hi}: needs MIN <= MAX (MIN >= 1 for parts)")
        if self.views < 1 or self.seed < 0:
            raise LegodataError("--views must be >= 1 and --seed >= 0")
        if self.executor not in ("local", "ray"):
            raise LegodataError(f"--executor {self.executor!r}: use local or ray")
        if self.address is not None and self.executor != "ray":
            raise LegodataError(f"--address {self.address!r}: is a Ray cluster address: use it with --executor ray")
        parse_shard(self.shard)
        return self

    def data_settings(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (list(d[k]) if isinstance(d[k], tuple) else d[k]) for k in self.DATA_FIELDS}

    def steps_settings(self) -> StepsSettings:
        return StepsSettings(
            self.resolution, self.manual_resolution, self.callout_resolution, self.views, self.distractors
        )

    def render_settings(self) -> RenderSettings:
        return RenderSettings(device=self.device, threads=0, **PRESETS[self.preset])


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


def _distractor_pool(cfg: StepsConfig, assembly: Assembly) -> list[tuple[str, int]]:
    if cfg.random_builds:
        colours = [int(c) for c in cfg.colours.split(",") if c.strip()]
        return [(p.strip(), c) for p in cfg.parts.split(",") if p.strip() for c in colours]
    return list(dict.fromkeys((p.part_id, p.colour_code) for p in assembly.parts))


def _model_specs(cfg: StepsConfig, cat: Catalogue, index: int, group: str, a: Assembly):
    """(workspace, [(output sub-directory, spec)]) of one model: pages, callout sheet, observations."""
    s, render = cfg.steps_settings(), cfg.render_settings()
    ws = make_workspace(np.random.default_rng([cfg.seed, index, 1]), a, cat.looks, s, _distractor_pool(cfg, a))
    rgb_of = {code: rgb for code, (_, rgb) in cat.colours.items()}
    m = ModelScene(ws, cat.looks, rgb_of, render, group, cfg.seed)
    specs = [(f"manual/raw/{n:03d}", manual_spec(a, n, m)) for n in range(1, a.n_steps + 1)]
    specs.append(("callout", callout_spec(a, m, s.callout_resolution)))
    for n in range(1, a.n_steps + 2):
        rng = np.random.default_rng([cfg.seed, index, 2, n])
        specs.append((obs_dir(n), observation_spec(rng, a, n, m)))
    return ws, specs


def _read(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    img = cv2.imread(str(path), flags)
    if img is None:
        raise RuntimeError(f"the worker wrote no readable {path}")
    return img


def compose_pages(model_dir: Path, a: Assembly, page_side: int) -> None:
    """Manual pages (outlines, step number, callout) from the raw renders; the raw images are removed after."""
    thumbs = {}
    for k, key in enumerate(callout_keys(a)):
        name = f"{k:04d}.png"
        d = model_dir / "callout"
        depth = _read(d / "depth" / name).astype(np.float64) * DEPTH_SCALE_M
        thumbs[key] = callout_thumbnail(_read(d / "rgb" / name, cv2.IMREAD_COLOR), _read(d / "mask" / name), depth)
    (model_dir / "manual").mkdir(exist_ok=True)
    for n in range(1, a.n_steps + 1):
        raw = model_dir / f"manual/raw/{n:03d}"
        mask = _read(raw / "mask/0000.png")
        depth = _read(raw / "depth/0000.png").astype(np.float64) * DEPTH_SCALE_M
        counts = Counter((a.parts[i].part_id, a.parts[i].colour_code) for i in a.step_parts(n))
        items = [(thumbs[key], count) for key, count in counts.items()]
        page, page_mask = compose_page(
            _read(raw / "rgb/0000.png", cv2.IMREAD_COLOR), mask, depth, n, items, page_side - mask.shape[0]
        )
        image_path, mask_path = page_paths(n)
        cv2.imwrite(str(model_dir / image_path), page)
        cv2.imwrite(str(model_dir / mask_path), page_mask)
    for sub in ["callout", *(f"manual/raw/{n:03d}" for n in range(1, a.n_steps + 1))]:
        for kind in ("rgb", "mask", "depth"):
            for f in (model_dir / sub / kind).glob("*.png"):
                f.unlink()
            (model_dir / sub / kind).rmdir()


def _context(cfg: StepsConfig, cat: Catalogue, group: str, a: Assembly, ws: Workspace, specs) -> ModelContext:
    view = ws.manual_view
    R_w2c, t_w2c = np.asarray(view.R_w2c), np.asarray(view.t_w2c)
    R_b2c, t_b2c = R_w2c @ ws.manual_R_b2w, R_w2c @ ws.manual_t_b2w + t_w2c
    K = np.asarray(view.K, dtype=np.float64).copy()
    K[1, 2] += cfg.manual_resolution - view.height  # the callout strip above the render
    return ModelContext(
        group=group,
        assembly=a,
        attachments=attachments(a, cat.meshes, R_b2c),
        part_names=cat.names,
        colour_names={code: name for code, (name, _) in cat.colours.items()},
        meshes=cat.meshes,
        symmetry=cat.symmetry,
        R_b2w=ws.R_b2w,
        t_b2w=ws.t_b2w,
        observations=[spec for sub, spec in specs if sub.startswith("obs/")],
        manual_K=K,
        manual_R_b2c=R_b2c,
        manual_t_b2c=t_b2c,
        preset=cfg.preset,
        seed=cfg.seed,
    )


def render_model(
    client, store: Store, cfg: StepsConfig, cat: Catalogue, index: int, group: str, a: Assembly, append_index=True
) -> dict:
    """Render, label and commit one model; returns worker seconds per kind of image. ``append_index=False`` leaves
    the index to the caller (a Ray driver)."""
    ws, specs = _model_specs(cfg, cat, index, group, a)
    spec_dir = store.root / "specs" / group
    spec_dir.mkdir(parents=True, exist_ok=True)
    tmp = store.new_tmp_dir(group)
    timing: Counter = Counter()
    for sub, spec in specs:
        spec_path = spec_dir / f"{spec.scene_id}.json"
        atomic_write_text(spec_path, spec.to_json())
        t0 = time.perf_counter()
        answer = client.render(spec_path, tmp / sub)
        if not answer.ok:
            raise RuntimeError(f"{spec.scene_id}: {answer.error or 'worker failed without a reason'}")
        kind = sub.split("/")[0]
        timing[f"{kind}_s"] += time.perf_counter() - t0
        timing[f"{kind}_images"] += len(spec.views)
    t0 = time.perf_counter()
    compose_pages(tmp, a, cfg.manual_resolution)
    ctx = _context(cfg, cat, group, a, ws, specs)
    records = model_records(ctx, tmp, store.scene_rel(group))
    atomic_write_text(tmp / "assembly.json", _assembly_json(ctx))
    store.commit_scene(tmp, group, records, index=append_index)
    timing["labels_s"] += time.perf_counter() - t0
    return dict(timing)


def _assembly_json(ctx: ModelContext) -> str:
    import json

    parts = [
        {"instance_id": i + 1, "part_id": p.part_id, "colour_code": p.colour_code, "step": p.step,
         "R_m2b": np.round(p.R, 12).tolist(), "t_m2b": np.round(p.t, 12).tolist(),
         "base": None if att.base is None else att.base + 1, "relation": att.relation, "stud_offset": att.stud_offset}
        for i, (p, att) in enumerate(zip(ctx.assembly.parts, ctx.attachments))
    ]  # fmt: skip
    a = ctx.assembly
    doc = {"model": ctx.group, "name": a.name, "source": a.source, "n_steps": a.n_steps, "parts": parts, "meta": a.meta}
    return json.dumps(doc, indent=1)


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
