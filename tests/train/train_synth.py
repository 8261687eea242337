"""A tiny synthetic dataset in the published layout (``data/<config>/<split>-*.parquet`` + README configs).

Parts are shaded cuboids drawn with exact perspective projection (OpenCV camera frame): "3001" has faces
shaded so that a 180 degree turn about its Y axis looks the same (group {I, Ry(180)}), "3039" has six distinct faces
(group {I}). Scenes hold 2-3 of them; the ``parts`` config holds their crops made with the publisher's crop code.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from legodata.core.rotations import matrix_to_quat_wxyz, random_rotations
from legodata.geometry import crops
from legodata.publish.features import config_features

PART_NAMES = ["3001", "3039"]
HALF = {"3001": (0.04, 0.024, 0.02), "3039": (0.03, 0.024, 0.03)}
# face order: +x, -x, +y, -y, +z, -z ; shade factors
SHADES = {"3001": (1.0, 1.0, 0.35, 0.7, 0.55, 0.55), "3039": (1.0, 0.3, 0.45, 0.85, 0.6, 0.15)}
COLOURS = {4: (201, 26, 9), 1: (0, 85, 191), 14: (242, 205, 55)}
RY180 = np.diag([-1.0, 1.0, -1.0])
SYMMETRY = {"3001": [np.eye(3).tolist(), RY180.tolist()], "3039": [np.eye(3).tolist()]}


def intrinsics(size: int) -> np.ndarray:
    f = 1.3 * size
    return np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1.0]])


def faces(part: str):
    hx, hy, hz = HALF[part]
    h = np.array([hx, hy, hz])
    out = []
    for axis in range(3):
        for sign in (1.0, -1.0):
            n = np.zeros(3)
            n[axis] = sign
            u, v = [a for a in range(3) if a != axis]
            corners = []
            for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = n * h
                p = p.copy()
                p[u], p[v] = su * h[u], sv * h[v]
                corners.append(p)
            out.append((n, np.array(corners)))
    return out


def draw_part(image, mask, part: str, colour: int, R, t, K, instance_id: int) -> None:
    """Visible faces of the cuboid (convex: back-face culling is exact) into ``image`` and ``mask`` in place."""
    base = np.array(COLOURS[colour], float)
    for (n, corners), shade in zip(faces(part), SHADES[part]):
        centre = R @ (corners.mean(0)) + t
        if (R @ n) @ centre >= 0:
            continue
        cam = corners @ R.T + t
        uv = cam @ K.T
        uv = uv[:, :2] / uv[:, 2:]
        poly = np.round(uv * 16).astype(np.int32)
        colour_rgb = tuple(int(c) for c in np.clip(base * shade + 20, 0, 255))
        cv2.fillConvexPoly(image, poly, colour_rgb, lineType=cv2.LINE_AA, shift=4)
        cv2.fillConvexPoly(mask, poly, int(instance_id), lineType=cv2.LINE_8, shift=4)


def make_scene(rng: np.random.Generator, size: int, n_parts: int):
    K = intrinsics(size)
    image = np.full((size, size, 3), 40, np.uint8)
    mask = np.zeros((size, size), np.uint16)
    placed = []
    for k in range(n_parts):
        part = PART_NAMES[int(rng.integers(len(PART_NAMES)))]
        colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
        R = random_rotations(rng, 1)[0]
        t = np.array([rng.uniform(-0.07, 0.07), rng.uniform(-0.07, 0.07), rng.uniform(0.42, 0.5)])
        placed.append((k + 1, part, colour, R, t))
    for inst_id, part, colour, R, t in sorted(placed, key=lambda p: -p[4][2]):  # far first
        draw_part(image, mask, part, colour, R, t, K, inst_id)
    instances = []
    for inst_id, part, colour, R, t in placed:
        ys, xs = np.nonzero(mask == inst_id)
        if not len(xs):
            continue
        bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
        instances.append(
            {
                "instance_id": inst_id,
                "part_id": part,
                "colour_code": colour,
                "bbox_visib": bbox,
                "bbox_obj": bbox,
                "quat_m2c_wxyz": matrix_to_quat_wxyz(R).tolist(),
                "R_m2c": R.tolist(),
                "t_m2c": t.tolist(),
                "visib_fract": 1.0,
                "px_count_visib": len(xs),
                "px_count_all": len(xs),
            }
        )
    return image, mask, K, instances


def _png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def write_synthetic_dataset(
    root: Path, scenes: dict[str, int] | None = None, size: int = 64, crop: int = 32, seed: int = 0
) -> Path:
    """``scenes``: split -> number of scenes. Returns ``root``."""
    import datasets

    scenes = scenes or {"train": 12, "validation": 4, "test": 4}
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    configs = {"scenes": {}, "parts": {}}
    for split, count in scenes.items():
        scene_rows, part_rows = [], []
        for s in range(count):
            image, mask, K, instances = make_scene(rng, size, int(rng.integers(2, 4)))
            rid = f"{split}-{s:04d}"
            scene_rows.append(
                {
                    "image": {"bytes": _png(image[:, :, ::-1]), "path": None},
                    "mask": {"bytes": _png(mask), "path": None},
                    "record_id": rid,
                    "group_id": rid,
                    "source": "synthetic",
                    "width": size,
                    "height": size,
                    "K": K.tolist(),
                    "depth_scale_m": 0.001,
                    "instances": instances,
                }
            )
            for inst in instances:
                box = crops.crop_box(inst["bbox_visib"], 0.1)
                part_rows.append(
                    {
                        "image": {"bytes": _png(crops.crop_image(image, box, crop)[:, :, ::-1]), "path": None},
                        "mask": {"bytes": _png(crops.crop_mask(mask, inst["instance_id"], box, crop)), "path": None},
                        "part_id": inst["part_id"],
                        "colour_code": inst["colour_code"],
                        "quat_m2c_wxyz": inst["quat_m2c_wxyz"],
                        "R_m2c": inst["R_m2c"],
                        "t_m2c": inst["t_m2c"],
                        "symmetry_rotations": SYMMETRY[inst["part_id"]],
                        "crop_x": box[0],
                        "crop_y": box[1],
                        "crop_size": box[2],
                        "K": K.tolist(),
                        "K_crop": crops.crop_intrinsics(K, box, crop),
                        "visib_fract": 1.0,
                        "px_count_visib": inst["px_count_visib"],
                        "record_id": rid,
                        "group_id": rid,
                        "instance_id": inst["instance_id"],
                        "source": "synthetic",
                    }
                )
        for config, rows in (("scenes", scene_rows), ("parts", part_rows)):
            features = config_features(config, PART_NAMES)
            ds = datasets.Dataset.from_list(rows, features=features)
            out = root / "data" / config
            out.mkdir(parents=True, exist_ok=True)
            ds.to_parquet(str(out / f"{split}-00000-of-00001.parquet"))
            configs[config][split] = len(rows)
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        for split in splits:
            lines += [f"  - split: {split}", f"    path: data/{config}/{split}-*.parquet"]
    lines += ["---", "", "Synthetic test dataset.", ""]
    (root / "README.md").write_text("\n".join(lines))
    return root
