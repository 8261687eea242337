"""One model of ``legodata render-steps``: its scene specs, the worker's renders, the manual pages composed from
them, and its records labelled and committed (``render_model``); shared by the local runner and the Ray tasks."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from legodata.assembly.attach import attachments
from legodata.assembly.manual_page import callout_thumbnail, compose_page
from legodata.assembly.specs import (
    ModelScene,
    Workspace,
    callout_keys,
    callout_spec,
    make_workspace,
    manual_spec,
    observation_spec,
)
from legodata.assembly.steps import Assembly
from legodata.core.atomic import atomic_write_text
from legodata.core.units import DEPTH_SCALE_M
from legodata.jobs.steps_config import StepsConfig
from legodata.jobs.steps_parts import Catalogue
from legodata.sources.assembly import ModelContext, model_records, obs_dir, page_paths
from legodata.store.store import Store


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
