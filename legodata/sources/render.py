"""The render source: BlenderProc scenes of loose parts. The worker's raw outputs become records here.

Ground truth comes from the final part poses the worker reports (after physics) and the exact instance mask:
``scene.ground_truth.view_instances`` projects each part's mesh for the amodal silhouette.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from legodata.core.mesh import Mesh
from legodata.core.protocol import WORKER_RESULT
from legodata.core.records import Record
from legodata.core.spec import SceneSpec
from legodata.errors import LegodataError
from legodata.sources.rendered import rendered_instances, view_record
from legodata.store import layout
from legodata.store.store import Store

SOURCE = "render"


def load_render(store: str | Path | Store) -> Iterator[Record]:
    """The records of a store made by ``legodata render``, in scene order."""
    store = store if isinstance(store, Store) else Store(store)
    made_by = store.read_manifest().get("source", SOURCE)
    if made_by != SOURCE:
        raise LegodataError(f"{store.root} holds {made_by!r} records, not rendered scenes")
    yield from store.iter_records()


def scene_records(spec: SceneSpec, worker_dir: Path, meshes: Mapping[str, Mesh], preset: str) -> list[Record]:
    """One record per view of ``spec`` from the worker's outputs in ``worker_dir`` (masks and final poses)."""
    worker_out = json.loads((worker_dir / WORKER_RESULT).read_text())
    final = {int(p["instance_id"]): p for p in worker_out["parts"]}
    parts = [
        (
            p.instance_id,
            p.part_id,
            p.colour_code,
            meshes[p.part_id],
            np.asarray(final[p.instance_id]["R_m2w"]),
            np.asarray(final[p.instance_id]["t_m2w"]),
        )
        for p in spec.parts
    ]
    scene_rel = layout.scene_rel(spec.scene_id)
    records = []
    for view in spec.views:
        meta = {
            "scene_id": spec.scene_id,
            "view_id": view.view_id,
            "orientation": spec.orientation,
            "preset": preset,
            "seed": spec.seed,
            "R_w2c": [list(r) for r in view.R_w2c],
            "t_w2c": list(view.t_w2c),
        }
        instances = rendered_instances(worker_dir, view, parts)
        records.append(
            view_record(f"{spec.scene_id}_{view.view_id:04d}", SOURCE, spec.scene_id, scene_rel, view, instances, meta)
        )
    return records
