"""A per-step sheet of an assembly store: manual page | observation | relevant-part mask | target pose axes.

One row per shown step (assembly direction), with the step's sentence underneath. The third tile tints the
relevant parts' masks in the observation (everything else dimmed) and outlines their masks in the manual page's
inset; the fourth draws each relevant part's model axes (X red, Y green, Z blue) at its target pose in the
observation's camera, and thin ones at its current pose, so a wrong target or a wrong mask shows at a glance.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from legodata.contact_sheet import letterbox
from legodata.core.records import Record
from legodata.errors import LegodataError
from legodata.store.store import Store

AXES_BGR = ((0, 0, 255), (0, 200, 0), (255, 80, 0))
LINE_H = 18
AXIS_M = 0.012  # drawn axis length, metres (a 2x4 brick is 32 mm long)
BACKGROUND = 40  # grey around a tile's image


def _project(K, R, t, length: float) -> np.ndarray | None:
    pts = np.vstack([np.zeros(3), np.eye(3) * length]) @ np.asarray(R, float).T + np.asarray(t, float)
    if (pts[:, 2] <= 1e-6).any():
        return None
    uv = pts @ np.asarray(K, float).T
    return uv[:, :2] / uv[:, 2:3]


def _axes(img: np.ndarray, K, R, t, length: float, width: int) -> None:
    uv = _project(K, R, t, length)
    if uv is None:
        return
    o = tuple(int(round(x)) for x in uv[0])
    for k in (2, 1, 0):
        cv2.arrowedLine(img, o, tuple(int(round(x)) for x in uv[k + 1]), AXES_BGR[k], width, cv2.LINE_AA, tipLength=0.2)


def _mask_tile(image: np.ndarray, mask: np.ndarray, ids: list[int]) -> np.ndarray:
    out = (image.astype(np.float32) * 0.35).astype(np.uint8)
    for k, iid in enumerate(ids):
        sel = mask == iid
        hue = np.uint8([[[(k * 50 + 20) % 180, 230, 255]]])
        colour = cv2.cvtColor(hue, cv2.COLOR_HSV2BGR)[0, 0]
        out[sel] = (0.4 * image[sel] + 0.6 * colour).astype(np.uint8)
    return out


def step_row(store: Store, rec: Record, tile: int) -> np.ndarray:
    """The four tiles and the sentence of one observation record's assembly step."""
    block = rec.meta["assembly"]
    root = store.root
    page = cv2.imread(str(root / block["manual_image"]), cv2.IMREAD_COLOR)
    obs = cv2.imread(str(root / rec.image_path), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(root / rec.mask_path), cv2.IMREAD_UNCHANGED)
    if page is None or obs is None or mask is None:
        raise LegodataError(f"record {rec.record_id}: cannot read its manual page, image or mask")
    ids = [int(p["instance_id"]) for p in block["parts"]]
    plain, place = letterbox(obs, tile, shrink=cv2.INTER_LINEAR, background=BACKGROUND)
    pose = plain.copy()
    scale = place.scale
    K = np.asarray(rec.K, float).copy()
    K[:2] *= scale
    K[:2, 2] += 0.5 * scale - 0.5  # pixel centres at integer coordinates in both images
    image = place.region(pose)  # the axes are drawn on the image, not on the tile's margins
    for p in block["parts"]:
        _axes(image, K, p["R_current_m2c"], p["t_current_m2c"], AXIS_M, 1)
        _axes(image, K, p["R_target_m2c"], p["t_target_m2c"], AXIS_M, 2)
    masked = _mask_tile(obs, mask, ids)
    tiles = [
        letterbox(page, tile, enlarge=cv2.INTER_AREA, background=BACKGROUND)[0],
        plain,
        letterbox(masked, tile, shrink=cv2.INTER_NEAREST, enlarge=cv2.INTER_NEAREST, background=BACKGROUND)[0],
        pose,
    ]
    row = np.hstack(tiles)
    label = f"{rec.group_id} step {block['step']}/{rec.meta['n_steps']}: {block['sentence']}"
    per_line = max(20, row.shape[1] // 8)
    lines = [label[i : i + per_line] for i in range(0, len(label), per_line)][:4]
    text = np.full((LINE_H * len(lines) + 4, row.shape[1], 3), 255, np.uint8)
    for k, line in enumerate(lines):
        cv2.putText(text, line, (4, LINE_H * (k + 1) - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([row, text])


def pick_steps(records: list[Record], n: int) -> list[Record]:
    """Up to ``n`` view-0 records with an assembly step, spread over models and steps."""
    steps = [r for r in records if r.meta.get("assembly") and int(r.meta.get("view_id", 0)) == 0]
    if len(steps) <= n:
        return steps
    return [steps[int(i)] for i in np.linspace(0, len(steps) - 1, n).round()]


def steps_preview(store_dir: str | Path, out: str | Path | None = None, n: int = 8, tile: int = 256) -> Path:
    """Write the per-step sheet of an assembly store; returns its path (default ``<store>/steps_preview.png``)."""
    store = Store(store_dir)
    store.read_manifest()
    chosen = pick_steps(list(store.iter_records()), n)
    if not chosen:
        raise LegodataError(f"{store.root} has no assembly steps to preview")
    sheet = np.vstack([step_row(store, rec, tile) for rec in chosen])
    path = Path(out) if out else store.root / "steps_preview.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise LegodataError(f"cannot write {path}")
    return path
