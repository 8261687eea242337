"""The assembly source: step-by-step assembly of LDraw models and random builds (``legodata render-steps``).

One record per observation image: step ``n``'s observation shows the build of steps 1..n-1 on the table with
step ``n``'s parts and distractors lying loose around it (``n`` = N+1: the finished model). ``group_id`` is the
model, so a model never spans splits. ``meta`` carries the labels of two actions seen in that image:

- ``assembly`` (n <= N): put step ``n``'s parts from where they lie onto the build (manual page ``n``);
- ``disassembly`` (n >= 2): take step ``n-1``'s parts off the build back to where they lay in observation ``n-1``
  (manual page ``n-1``): the steps reversed with the same labels, current and target swapped.

Each block lists its relevant parts (instance id in the observation's and the page's mask, part, colour, current
and target pose in the camera frame, target pose in the build frame, the symmetry-aware rotation action, the part
it attaches to with the stud offset, the sentence). The manual pages are ``meta["extra_paths"]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from legodata.assembly.attach import Attachment, colour_phrase, part_phrase, sentence
from legodata.assembly.labels import PartSymmetry, Pose, pose_labels
from legodata.assembly.steps import Assembly
from legodata.core.mesh import Mesh
from legodata.core.protocol import WORKER_RESULT
from legodata.core.records import EXTRA_PATHS, Record
from legodata.core.spec import SceneSpec
from legodata.errors import LegodataError
from legodata.sources.rendered import rendered_instances, view_record
from legodata.store.store import Store

SOURCE = "assembly"


def load_assembly(store: str | Path | Store) -> Iterator[Record]:
    """The records of a store made by ``legodata render-steps``, model by model."""
    store = store if isinstance(store, Store) else Store(store)
    made_by = store.read_manifest().get("source")
    if made_by != SOURCE:
        raise LegodataError(f"{store.root} holds {made_by!r} records, not assembly steps")
    yield from store.iter_records()


@dataclass(frozen=True, eq=False)
class ModelContext:
    """What the records of one model are made from (besides the worker's outputs)."""

    group: str
    assembly: Assembly
    attachments: list[Attachment]
    part_names: dict[str, str]  # part id -> catalogue name
    colour_names: dict[int, str]
    meshes: dict[str, Mesh]
    symmetry: dict[str, PartSymmetry]
    R_b2w: np.ndarray
    t_b2w: np.ndarray
    observations: list[SceneSpec]  # observation n is observations[n - 1], n = 1..N+1
    manual_K: np.ndarray  # the page's K (callout strip included)
    manual_R_b2c: np.ndarray
    manual_t_b2c: np.ndarray
    preset: str
    seed: int

    def phrase(self, i: int) -> str:
        p = self.assembly.parts[i]
        colour = colour_phrase(self.colour_names.get(p.colour_code, str(p.colour_code)))
        return f"{colour} {part_phrase(self.part_names[p.part_id])}"


def obs_dir(n: int) -> str:
    return f"obs/{n:03d}"


def page_paths(n: int) -> tuple[str, str]:
    """Page image and page mask of step ``n``, relative to the model's directory."""
    return f"manual/page_{n:03d}.png", f"manual/mask_{n:03d}.png"


def _final_poses(model_dir: Path, n: int) -> dict[int, Pose]:
    out = json.loads((model_dir / obs_dir(n) / WORKER_RESULT).read_text())
    return {int(p["instance_id"]): Pose(np.asarray(p["R_m2w"]), np.asarray(p["t_m2w"])) for p in out["parts"]}


def _target(ctx: ModelContext, i: int) -> Pose:
    p = ctx.assembly.parts[i]
    return Pose(p.R, p.t).then(ctx.R_b2w, ctx.t_b2w)


def _block(ctx: ModelContext, direction: str, step: int, moves: dict, view, visib: dict, page_mask, rel: str) -> dict:
    """The labels of one action; ``moves`` maps part index -> (current pose, target pose) in the world."""
    image, mask = page_paths(step)
    parts = []
    for i, (current, target) in moves.items():
        p, att = ctx.assembly.parts[i], ctx.attachments[i]
        base = ctx.assembly.parts[att.base] if att.base is not None else None
        labels = pose_labels(current, target, np.asarray(view.R_w2c), np.asarray(view.t_w2c), ctx.symmetry[p.part_id])
        parts.append(
            {
                "instance_id": i + 1,
                "part_id": p.part_id,
                "colour_code": p.colour_code,
                "part_name": part_phrase(ctx.part_names[p.part_id]),
                "colour_name": colour_phrase(ctx.colour_names.get(p.colour_code, str(p.colour_code))),
                "action": "place" if direction == "assembly" else "remove",
                "R_target_m2b": np.round(p.R, 12).tolist(),
                "t_target_m2b": np.round(p.t, 12).tolist(),
                **labels,
                "base": None
                if base is None
                else {"instance_id": att.base + 1, "part_id": base.part_id, "colour_code": base.colour_code},
                "relation": att.relation,
                "stud_offset": att.stud_offset,
                "level": att.level,
                "crosswise": att.crosswise,
                "sentence": sentence(
                    att,
                    ctx.phrase(i),
                    ctx.phrase(att.base) if base is not None else None,
                    remove=direction != "assembly",
                ),
                "px_count_visib": int(visib.get(i + 1, 0)),
                "manual_px_count_visib": int((page_mask == i + 1).sum()),
            }
        )
    return {
        "direction": direction,
        "step": step,
        "manual_image": f"{rel}/{image}",
        "manual_mask": f"{rel}/{mask}",
        "parts": parts,
        "sentence": "; ".join(part["sentence"] for part in parts),
    }


def model_records(ctx: ModelContext, model_dir: Path, rel: str) -> list[Record]:
    """Every record of one model from the rendered files in ``model_dir`` (``rel`` = its path in the store)."""
    a = ctx.assembly
    n_steps = a.n_steps
    poses = {n: _final_poses(model_dir, n) for n in range(1, n_steps + 2)}
    pages = {n: cv2.imread(str(model_dir / page_paths(n)[1]), cv2.IMREAD_UNCHANGED) for n in range(1, n_steps + 1)}
    records = []
    for n, spec in enumerate(ctx.observations, 1):
        final = poses[n]
        scene = [
            (
                p.instance_id,
                p.part_id,
                p.colour_code,
                ctx.meshes[p.part_id],
                final[p.instance_id].R,
                final[p.instance_id].t,
            )
            for p in spec.parts
        ]
        for view in spec.views:
            instances = rendered_instances(model_dir / obs_dir(n), view, scene, f"step {n} ")
            visib = {inst.instance_id: inst.px_count_visib for inst in instances}
            meta, extra = _meta(ctx, n, spec, view), {}
            if n <= n_steps:
                moves = {i: (final[i + 1], _target(ctx, i)) for i in a.step_parts(n)}
                meta["assembly"] = _block(ctx, "assembly", n, moves, view, visib, pages[n], rel)
                extra.update(manual_image=meta["assembly"]["manual_image"], manual_mask=meta["assembly"]["manual_mask"])
            if n >= 2:
                moves = {i: (final[i + 1], poses[n - 1][i + 1]) for i in a.step_parts(n - 1)}
                meta["disassembly"] = _block(ctx, "disassembly", n - 1, moves, view, visib, pages[n - 1], rel)
                extra.update(
                    undo_manual_image=meta["disassembly"]["manual_image"],
                    undo_manual_mask=meta["disassembly"]["manual_mask"],
                )
            meta[EXTRA_PATHS] = extra
            record_id = f"{ctx.group}_s{n:03d}_v{view.view_id:02d}"
            records.append(view_record(record_id, SOURCE, ctx.group, f"{rel}/{obs_dir(n)}", view, instances, meta))
    return records


def _meta(ctx: ModelContext, n: int, spec: SceneSpec, view) -> dict:
    n_parts = len(ctx.assembly.parts)
    ids = [p.instance_id for p in spec.parts]
    return {
        "kind": "assembly_step",
        "model": ctx.group,
        "model_name": ctx.assembly.name,
        "model_source": ctx.assembly.source,
        "step": n,
        "n_steps": ctx.assembly.n_steps,
        "view_id": view.view_id,
        "preset": ctx.preset,
        "seed": ctx.seed,
        "R_w2c": [list(r) for r in view.R_w2c],
        "t_w2c": list(view.t_w2c),
        "R_b2w": np.round(ctx.R_b2w, 12).tolist(),
        "t_b2w": np.round(ctx.t_b2w, 12).tolist(),
        "manual_K": np.round(ctx.manual_K, 9).tolist(),
        "manual_R_b2c": np.round(ctx.manual_R_b2c, 12).tolist(),
        "manual_t_b2c": np.round(ctx.manual_t_b2c, 12).tolist(),
        "in_build": sorted(spec.fixed_parts),
        "loose": [i for i in ids if i not in spec.fixed_parts and i <= n_parts],
        "distractors": [i for i in ids if i > n_parts],
    }
