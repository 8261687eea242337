"""Stores of shaded cuboids drawn with exact perspective projection, published with the real publisher.

The images stand in for renders (no Blender), but everything after the image goes through the project's own
code: records are committed with ``Store.commit_scene`` under a manifest with the real catalogue entries (mesh-derived
symmetry groups) and the dataset folder is written by :func:`legodata.publish.publish`, so a training test that
reads it fails when publisher and trainer drift apart.

Parts are cuboids in the OpenCV camera frame: "3001" has faces shaded so that a 180 degree turn about its Y axis looks
the same (the catalogue's group of the 2x4 brick, {I, Ry(180)}), "3039" has six distinct faces (the slope's group
{I}). Each is filled in its LDraw colour, so a query (part, colour) names what the image shows.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from support.publish_stores import make_manifest

from legodata.core.records import Record
from legodata.core.rotations import random_rotations
from legodata.parts.colours import get_colour
from legodata.scene.ground_truth import instance_of
from legodata.store.store import Store

PART_NAMES = ["3001", "3039"]
HALF = {"3001": (0.04, 0.024, 0.02), "3039": (0.03, 0.024, 0.03)}
# face order: +x, -x, +y, -y, +z, -z ; shade factors
SHADES = {"3001": (1.0, 1.0, 0.35, 0.7, 0.55, 0.55), "3039": (1.0, 0.3, 0.45, 0.85, 0.6, 0.15)}
COLOUR_CODES = (1, 4, 14)  # LDraw blue, red, yellow


def colour_rgb255(code: int) -> np.ndarray:
    return np.round(np.asarray(get_colour(code).rgb) * 255.0)


def intrinsics(size: int) -> np.ndarray:
    f = 1.3 * size
    return np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1.0]])


def faces(part: str):
    h = np.array(HALF[part])
    out = []
    for axis in range(3):
        for sign in (1.0, -1.0):
            n = np.zeros(3)
            n[axis] = sign
            u, v = [a for a in range(3) if a != axis]
            corners = []
            for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = n * h
                p[u], p[v] = su * h[u], sv * h[v]
                corners.append(p)
            out.append((n, np.array(corners)))
    return out


def draw_part(image, mask, part: str, colour: int, R, t, K, instance_id: int) -> None:
    """Visible faces of the cuboid (convex: back-face culling is exact) into ``image`` (RGB) and ``mask`` in place."""
    base = colour_rgb255(colour)
    for (n, corners), shade in zip(faces(part), SHADES[part]):
        centre = R @ (corners.mean(0)) + t
        if (R @ n) @ centre >= 0:
            continue
        uv = (corners @ R.T + t) @ K.T
        uv = uv[:, :2] / uv[:, 2:]
        poly = np.round(uv * 16).astype(np.int32)
        colour_rgb = tuple(int(c) for c in np.clip(base * shade + 20, 0, 255))
        if image is not None:
            cv2.fillConvexPoly(image, poly, colour_rgb, lineType=cv2.LINE_AA, shift=4)
        cv2.fillConvexPoly(mask, poly, int(instance_id), lineType=cv2.LINE_8, shift=4)


def draw_view(rng: np.random.Generator, size: int, n_parts: int):
    """(RGB image, uint16 mask, instances) of ``n_parts`` cuboids; nearer parts hide farther ones."""
    K = intrinsics(size)
    image = np.full((size, size, 3), 40, np.uint8)
    mask = np.zeros((size, size), np.uint16)
    placed = []
    for k in range(1, n_parts + 1):
        part = PART_NAMES[int(rng.integers(len(PART_NAMES)))]
        colour = COLOUR_CODES[int(rng.integers(len(COLOUR_CODES)))]
        R = random_rotations(rng, 1)[0]
        t = np.array([rng.uniform(-0.07, 0.07), rng.uniform(-0.07, 0.07), rng.uniform(0.42, 0.5)])
        placed.append((k, part, colour, R, t))
    for inst_id, part, colour, R, t in sorted(placed, key=lambda p: -p[4][2]):  # far first
        draw_part(image, mask, part, colour, R, t, K, inst_id)
    instances = []
    for inst_id, part, colour, R, t in placed:
        alone = np.zeros_like(mask)
        draw_part(None, alone, part, colour, R, t, K, 1)
        # every visible pixel lies in the part's own silhouette, so instance_of's cap at 1 never applies here
        instances.append(instance_of(inst_id, part, colour, R, t, full=alone > 0, visible=mask == inst_id))
    return image, mask, K, tuple(instances)


def build_cuboid_store(root: Path, scenes: int = 20, views: int = 1, size: int = 64, seed: int = 0) -> Store:
    """A store of ``scenes`` x ``views`` images of 2-3 cuboids each, committed scene by scene."""
    store = Store(root)
    store.create_or_check(make_manifest(tuple(PART_NAMES), seed))
    rng = np.random.default_rng(seed)
    for s in range(scenes):
        scene_id = f"{s:06d}"
        tmp = store.new_tmp_dir(scene_id)
        (tmp / "rgb").mkdir()
        (tmp / "mask").mkdir()
        records = []
        n_parts = int(rng.integers(2, 4))
        for v in range(views):
            image, mask, K, instances = draw_view(rng, size, n_parts)
            name = f"{v:04d}.png"
            cv2.imwrite(str(tmp / "rgb" / name), image[:, :, ::-1])
            cv2.imwrite(str(tmp / "mask" / name), mask)
            records.append(
                Record(
                    record_id=f"{scene_id}_{v:04d}",
                    source="render",
                    group_id=scene_id,
                    image_path=f"{store.scene_rel(scene_id)}/rgb/{name}",
                    mask_path=f"{store.scene_rel(scene_id)}/mask/{name}",
                    width=size,
                    height=size,
                    K=tuple(tuple(float(x) for x in row) for row in K),
                    instances=instances,
                    meta={"scene_id": scene_id, "view_id": v},
                )
            )
        store.commit_scene(tmp, scene_id, records)
    store.rebuild_index()
    return store


def publish_cuboids(root: Path, scenes: int = 20, views: int = 1, size: int = 64, seed: int = 0, **options) -> Path:
    """Build a cuboid store under ``root/store`` and publish it with ``legodata.publish.publish`` into
    ``root/published``; every split gets at least one scene. Returns the published folder."""
    from legodata.publish import publish

    store = build_cuboid_store(root / "store", scenes, views, size, seed)
    options = {"split": "0.6,0.2,0.2", "seed": 0, "crop_size": 32, "min_px": 20, "workers": 1, **options}
    summary = publish([store.root], root / "published", **options)
    assert all(summary.rows["scenes"][s] > 0 for s in ("train", "validation", "test")), summary.rows
    return summary.out
