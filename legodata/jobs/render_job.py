"""``legodata render``: sample scene specs, render them with worker processes, write a store.

Resumable (finished scenes are skipped), shardable (``shard=(k, n)`` takes scenes with index % n == k),
and safe to kill at any moment (scenes are committed by one rename).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from legodata.config import RenderConfig
from legodata.core.atomic import atomic_write_text
from legodata.core.mesh import write_ply
from legodata.core.spec import SceneSpec
from legodata.errors import LegodataError
from legodata.jobs.manifest import catalogue_entry, render_manifest
from legodata.jobs.render_setup import RenderJob
from legodata.jobs.scene_task import SceneRunner, note_outcome
from legodata.jobs.tally import Tally
from legodata.parts.catalogue import UnknownPartError, get_part, parse_part_list
from legodata.parts.colours import UnknownColourError, parse_colour_list
from legodata.scene.backgrounds import check_backgrounds, import_backgrounds, write_textures
from legodata.scene.domain import domain_rng, sample_domain
from legodata.scene.sampler import PartGeometry, SamplerConfig, sample_scene, scene_rng
from legodata.store.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderSummary:
    """What a render run did."""

    out: str
    scenes_total: int  # scenes in this shard
    scenes_rendered: int
    scenes_skipped: int  # already finished before this run
    scenes_failed: int
    frames_rendered: int
    wall_s: float
    failures: tuple[str, ...] = field(default=())

    @property
    def seconds_per_frame(self) -> float:
        return self.wall_s / self.frames_rendered if self.frames_rendered else float("nan")

    def describe(self) -> str:
        """One line for people: what was rendered, at what speed; "nothing to render" when all was done."""
        if not self.scenes_rendered and not self.scenes_failed:
            done = f"{self.scenes_skipped} scenes already done" if self.scenes_skipped else "this shard has no scenes"
            return f"{self.out}: nothing to render: {done}"
        speed = f", {self.seconds_per_frame:.2f} s/frame" if self.frames_rendered else ""
        return (
            f"{self.out}: {self.scenes_rendered} scenes rendered ({self.frames_rendered} frames{speed}), "
            f"{self.scenes_skipped} already done, {self.scenes_failed} failed, {self.wall_s:.1f} s"
        )


def _resolve_parts_and_colours(cfg: RenderConfig) -> tuple[tuple[str, ...], list]:
    try:
        part_ids = parse_part_list(cfg.parts, cfg.ldraw_dir)
    except (UnknownPartError, LegodataError) as exc:
        raise LegodataError(f"--parts: {exc.args[0] if exc.args else exc}") from None
    try:
        colours = _parse_colours(cfg)
    except (UnknownColourError, LegodataError) as exc:
        raise LegodataError(f"--colours: {exc.args[0] if exc.args else exc}") from None
    if not part_ids:
        raise LegodataError("--parts is empty: name at least one part id, e.g. 3001,3003 (see `legodata parts`)")
    if not colours:
        raise LegodataError("--colours is empty: name at least one LDraw colour code, e.g. 4,14")
    return part_ids, colours


def _parse_colours(cfg: RenderConfig) -> list:
    """Colour codes from the LDraw library's LDConfig.ldr when there is one, else from the built-in table."""
    if cfg.ldraw_dir:
        from legodata.ldraw.colours import parse_ldraw_colour_list
        from legodata.ldraw.library import get_library

        table = get_library(cfg.ldraw_dir).colours
        if table:
            return parse_ldraw_colour_list(cfg.colours, table)
    return parse_colour_list(cfg.colours)


def prepare_store(cfg: RenderConfig) -> RenderJob:
    """Check settings, create or re-open the store, export the part meshes."""
    part_ids, colours = _resolve_parts_and_colours(cfg)
    if cfg.backgrounds:
        check_backgrounds(cfg.backgrounds)  # before the store exists: a bad folder leaves nothing behind
    store = Store(cfg.out)
    catalogue, meshes = {}, {}
    for pid in part_ids:
        part = get_part(pid, cfg.ldraw_dir, cfg.ldraw_hires)
        meshes[pid] = part.mesh
        catalogue[pid] = catalogue_entry(part, f"models/{pid}.ply")
    colour_rows = [{"code": c.code, "name": c.name, "rgb_hex": c.rgb_hex} for c in colours]
    store.create_or_check(render_manifest(cfg.data_settings(), catalogue, colour_rows, cfg.domain))
    for pid, mesh in meshes.items():
        path = store.root / "models" / f"{pid}.ply"
        if not path.exists():
            write_ply(mesh, path)
    backgrounds = import_backgrounds(cfg.backgrounds, store.root) if cfg.backgrounds else ()
    return RenderJob(cfg, store, meshes, tuple(colours), backgrounds)


def make_spec(job: RenderJob, scene_index: int) -> SceneSpec:
    """The spec of scene ``scene_index``: a pure function of the data settings and the index."""
    cfg = job.config
    geometry = {pid: PartGeometry(pid, mesh.vertices, f"models/{pid}.ply") for pid, mesh in job.meshes.items()}
    sampler_cfg = SamplerConfig(
        part_ids=tuple(job.meshes),
        colours=tuple((c.code, c.rgb) for c in job.colours),
        orientation=cfg.orientation,
        parts_per_scene=cfg.parts_per_scene,
        views=cfg.views,
        width=cfg.resolution,
        height=cfg.resolution,
    )
    # threads=0 in the spec keeps it independent of --workers; the worker gets its thread count from the parent.
    render = replace(cfg.render_settings(), threads=0)
    spec = sample_scene(scene_rng(cfg.seed, scene_index), sampler_cfg, geometry, render, scene_index, cfg.seed)
    if cfg.domain == "clean":
        return spec
    spec = sample_domain(domain_rng(cfg.seed, scene_index), spec, geometry, cfg.domain, job.backgrounds)
    write_textures(spec, job.store.root)  # the procedural prints it uses, once per store
    return spec


def _worker_loop(
    job: RenderJob, threads: int, worker_no: int, todo: queue.Queue, done: queue.Queue, stop: threading.Event
):
    runner = SceneRunner(job, threads, job.store.root / "logs" / f"worker-{worker_no}.log")
    try:
        for outcome in runner.run_many(_take_until_stopped(todo, stop)):
            done.put(outcome)
    finally:
        runner.close(kill=stop.is_set())
        done.put(None)  # this worker has exited


def _take_until_stopped(todo: queue.Queue, stop: threading.Event) -> Iterator[str]:
    """Scene ids from ``todo`` until it is empty or ``stop`` is set."""
    while not stop.is_set():
        try:
            yield todo.get_nowait()
        except queue.Empty:
            return


def run_render(cfg: RenderConfig, progress: bool = True) -> RenderSummary:
    """Render ``cfg.scenes`` scenes (this shard's share) into ``cfg.out``; resume where a previous run stopped."""
    cfg = cfg.validate()
    if cfg.executor == "ray":
        from legodata.jobs.ray_executor import ray_session

        with ray_session(cfg.address) as ray:  # joined first: a wrong --address leaves no store behind
            return _run(cfg, progress, ray)
    return _run(cfg, progress)


def _run(cfg: RenderConfig, progress: bool, ray=None) -> RenderSummary:
    start = time.monotonic()
    job = prepare_store(cfg)
    store = job.store
    store.clean_stale_tmp()
    k, n = cfg.shard_index()
    mine = [i for i in range(cfg.scenes) if i % n == k]
    pending = _write_pending_specs(job, mine)
    tally = Tally("scene", len(mine), len(pending), store.root / "failed")
    if ray is None:
        _render_pending(job, pending, tally, progress)
    else:
        from legodata.jobs.render_ray import render_pending_on_ray

        render_pending_on_ray(ray, job, pending, tally, progress)
        store.clean_stale_tmp()  # temp scenes of task processes Ray killed (their retries rendered the scenes)
    store.sync_index()  # appended scene by scene; this only repairs what a killed run left
    frames = tally.rendered * cfg.views
    return RenderSummary(out=str(store.root), frames_rendered=frames, wall_s=time.monotonic() - start, **tally.counts())


def _write_pending_specs(job: RenderJob, mine: list[int]) -> list[str]:
    """The scene ids of the scenes ``mine`` not finished yet, each with its spec written to the store."""
    pending = []
    for i in mine:
        scene_id = f"{i:06d}"
        if job.store.is_scene_done(scene_id):
            continue
        spec = make_spec(job, i)
        path = job.store.spec_path(scene_id)
        path.parent.mkdir(parents=True, exist_ok=True)  # specs/<chunk>/ of a chunked store
        atomic_write_text(path, spec.to_json())
        pending.append(scene_id)
    return pending


def _render_pending(job: RenderJob, pending: list[str], tally: Tally, progress: bool) -> None:
    """Render the scenes ``pending`` with ``--workers`` worker threads, counting them in ``tally``."""
    cfg = job.config
    todo: queue.Queue = queue.Queue()
    for scene_id in pending:
        todo.put(scene_id)
    done: queue.Queue = queue.Queue()
    stop = threading.Event()
    n_workers = min(cfg.workers, max(1, len(pending)))
    threads_per_worker = cfg.render_settings().threads
    workers = [
        threading.Thread(target=_worker_loop, args=(job, threads_per_worker, w, todo, done, stop), daemon=True)
        for w in range(n_workers if pending else 0)
    ]
    for t in workers:
        t.start()

    from tqdm import tqdm

    bar = tqdm(total=len(pending), unit="scene", disable=not progress, desc="render", dynamic_ncols=True)
    try:
        alive = len(workers)
        while alive:
            outcome = done.get()
            if outcome is None:
                alive -= 1
                continue
            note_outcome(job.store, tally, outcome)
            bar.update(1)
            if tally.all_failing():  # e.g. no GPU for --device gpu, a broken install
                stop.set()
                for t in workers:
                    t.join()
                raise tally.stop_error("re-run the same command")
    except KeyboardInterrupt:
        stop.set()
        bar.close()
        for t in workers:
            t.join(timeout=5)
        raise
    finally:
        bar.close()
    for t in workers:
        t.join()
