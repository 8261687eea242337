"""Tiny stores built without Blender: a manifest with real catalogue parts and scenes drawn with cv2."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from legodata.core.records import Instance, Record
from legodata.core.rotations import matrix_to_quat_wxyz, random_rotations
from legodata.parts.catalogue import get_part
from legodata.store.store import Store

PARTS = ("3001", "3003", "3039")
CONVENTIONS = {"units": "metres", "quaternion": "unit, scalar first (w, x, y, z), w >= 0"}


def bbox_of(sel: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(sel)
    if not len(xs):
        return (-1, -1, -1, -1)
    return (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def make_manifest(parts=PARTS, seed=0):
    catalogue = {
        pid: {
            "name": get_part(pid).info.name,
            "kind": get_part(pid).info.kind,
            "mesh_path": f"models/{pid}.ply",
            "symmetry": get_part(pid).symmetry.to_json(),
        }
        for pid in parts
    }
    return {
        "schema_version": 1,
        "kind": "legodata-store",
        "source": "render",
        "settings": {"seed": seed, "views": 2, "resolution": 64, "preset": "fast"},
        "seed": seed,
        "catalogue": catalogue,
        "conventions": CONVENTIONS,
        "versions": {"legodata": "0.1.0", "numpy": np.__version__},
    }


def draw_view(rng, width, height, n_parts, parts=PARTS):
    """An RGB image, a uint16 mask and instances (rectangles and circles, later ones occluding)."""
    image = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), np.uint16)
    for k in range(1, n_parts + 1):
        colour = tuple(int(c) for c in rng.integers(80, 256, size=3))
        cx, cy = int(rng.integers(4, width - 4)), int(rng.integers(4, height - 4))
        r = int(rng.integers(4, max(5, min(width, height) // 3)))
        if k % 2:
            cv2.rectangle(image, (cx - r, cy - r // 2), (cx + r, cy + r // 2), colour, -1)
            cv2.rectangle(mask, (cx - r, cy - r // 2), (cx + r, cy + r // 2), k, -1)
        else:
            cv2.circle(image, (cx, cy), r, colour, -1)
            cv2.circle(mask, (cx, cy), r, k, -1)
    return image, mask, instances_from_mask(rng, mask, parts)


def instances_from_mask(rng, mask, parts=PARTS):
    """Ground truth for every non-zero mask value (random rotation, boxes and counts from the mask)."""
    instances = []
    for k in sorted(int(v) for v in np.unique(mask) if v):
        sel = mask == k
        R = random_rotations(rng, 1)[0]
        visib = int(sel.sum())
        instances.append(
            Instance(
                instance_id=k,
                part_id=parts[(k - 1) % len(parts)],
                colour_code=int(rng.choice([4, 14, 15])),
                R_m2c=tuple(tuple(float(x) for x in row) for row in R),
                t_m2c=(float(rng.normal() * 0.05), float(rng.normal() * 0.05), 0.4),
                quat_m2c_wxyz=tuple(float(x) for x in matrix_to_quat_wxyz(R)),
                bbox_obj=bbox_of(sel),
                bbox_visib=bbox_of(sel),
                px_count_all=visib,
                px_count_visib=visib,
                visib_fract=1.0,
            )
        )
    return tuple(instances)


def write_scene(store, scene_id, views):
    """Commit one scene; ``views`` is a list of (BGR image, uint16 mask, instances)."""
    tmp = store.new_tmp_dir(scene_id)
    (tmp / "rgb").mkdir()
    (tmp / "mask").mkdir()
    records = []
    for v, (image, mask, instances) in enumerate(views):
        height, width = mask.shape
        name = f"{v:04d}.png"
        cv2.imwrite(str(tmp / "rgb" / name), image)
        cv2.imwrite(str(tmp / "mask" / name), mask)
        rec = Record(
            record_id=f"{scene_id}_{v:04d}",
            source="render",
            group_id=scene_id,
            image_path=f"{store.scene_rel(scene_id)}/rgb/{name}",
            mask_path=f"{store.scene_rel(scene_id)}/mask/{name}",
            width=width,
            height=height,
            K=((60.0, 0.0, (width - 1) / 2), (0.0, 60.0, (height - 1) / 2), (0.0, 0.0, 1.0)),
            instances=instances,
            depth_scale_m=1e-4,
            meta={"scene_id": scene_id, "view_id": v},
        )
        records.append(rec)
    store.commit_scene(tmp, scene_id, records)


def build_store(root, scenes=6, views=2, size=(64, 48), parts_per_scene=3, seed=0, parts=PARTS):
    """A store of ``scenes`` x ``views`` records; returns the Store."""
    store = Store(root)
    store.create_or_check(make_manifest(parts, seed))
    rng = np.random.default_rng(seed)
    width, height = size
    for s in range(scenes):
        write_scene(store, f"{s:06d}", [draw_view(rng, width, height, parts_per_scene, parts) for _ in range(views)])
    store.rebuild_index()
    return store


@pytest.fixture
def tiny_store(tmp_path):
    return build_store(tmp_path / "store")
