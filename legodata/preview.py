"""``legodata preview DIR``: a contact sheet to check labels by eye.

Each tile is one image of the store with every instance mask tinted in its own colour, the part id written at the
top-left corner of its visible box, and the part's model axes drawn from its ground-truth pose (X red, Y green,
Z blue; length half the part's largest extent; origin = the model-frame origin, the LDraw part origin). If masks,
labels and axes sit on the right parts, the ground truth is right.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from legodata.contact_sheet import Placement, caption, grid, letterbox, palette_bgr
from legodata.core.records import Instance, Record
from legodata.errors import LegodataError
from legodata.geometry.crops import resize
from legodata.store.store import Store

TILE = 320
AXIS_COLOURS_BGR = ((0, 0, 255), (0, 200, 0), (255, 80, 0))  # X red, Y green, Z blue


def project_axes(K, R_m2c, t_m2c, length: float) -> np.ndarray:
    """Pixel coordinates (4, 2) of the model origin and the ends of its X, Y, Z axes of ``length`` metres."""
    pts = np.vstack([np.zeros(3), np.eye(3) * length])
    cam = pts @ np.asarray(R_m2c, float).T + np.asarray(t_m2c, float)
    uv = cam @ np.asarray(K, float).T
    return uv[:, :2] / uv[:, 2:3]


def _axis_lengths(store: Store) -> dict[str, float]:
    """Half the largest extent of each catalogue part (metres), read from the store's models."""
    from legodata.core.mesh import read_ply

    out = {}
    catalogue = store.read_manifest().get("catalogue") or {}
    for part_id, entry in catalogue.items():
        path = store.root / (entry.get("mesh_path") or f"models/{part_id}.ply")
        if path.is_file():
            lo, hi = read_ply(path).bounds()
            out[part_id] = 0.5 * float((hi - lo).max())
    return out


def render_tile(
    image_bgr: np.ndarray, mask: np.ndarray | None, rec: Record, axis_len: dict[str, float], tile: int = TILE
) -> np.ndarray:
    """One annotated tile (``tile`` x ``tile``, letterboxed) of record ``rec``."""
    out = image_bgr.astype(np.float32)
    if mask is not None:
        for inst in rec.instances:
            sel = mask == inst.instance_id
            if sel.any():
                out[sel] = 0.55 * out[sel] + 0.45 * np.float32(palette_bgr(inst.instance_id))
    canvas, place = letterbox(np.clip(out, 0, 255).astype(np.uint8), tile)
    if mask is not None:
        _draw_outlines(canvas, mask, rec, place)
    for inst in rec.instances:
        _draw_axes(canvas, rec, inst, axis_len.get(inst.part_id, 0.01), place.to_tile)
    for inst in rec.instances:
        bx, by, bw, bh = inst.bbox_visib if inst.bbox_visib[2] > 0 else inst.bbox_obj
        if bw <= 0:
            continue
        x, y = place.to_tile(np.array([bx, by], float))
        caption(canvas, inst.part_id, (max(0, x), max(12, y - 3)), palette_bgr(inst.instance_id))
    caption(canvas, rec.record_id, (4, tile - 6), (255, 255, 255), 0.4)
    return canvas


def _draw_outlines(canvas: np.ndarray, mask: np.ndarray, rec: Record, place: Placement) -> None:
    """The outline of every visible instance, from its mask scaled onto the tile."""
    for inst in rec.instances:
        sel = (mask == inst.instance_id).astype(np.uint8)
        if not sel.any():
            continue
        small = resize(sel, place.width, place.height, shrink=cv2.INTER_NEAREST, enlarge=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(place.region(canvas), contours, -1, palette_bgr(inst.instance_id), 1)


def _draw_axes(canvas: np.ndarray, rec: Record, inst: Instance, length: float, to_tile) -> None:
    if inst.t_m2c[2] <= 0:
        return
    uv = project_axes(rec.K, inst.R_m2c, inst.t_m2c, length)
    if not np.isfinite(uv).all():
        return
    origin = to_tile(uv[0])
    for k in (2, 1, 0):  # X drawn last, on top
        cv2.arrowedLine(canvas, origin, to_tile(uv[k + 1]), AXIS_COLOURS_BGR[k], 2, cv2.LINE_AA, tipLength=0.15)
    cv2.circle(canvas, origin, 3, (255, 255, 255), -1, cv2.LINE_AA)


def pick(n_records: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(n_records)`` (all of them when there are fewer)."""
    if n >= n_records:
        return list(range(n_records))
    return sorted({int(i) for i in np.linspace(0, n_records - 1, n).round()})


def sheet_shape(n: int, tile: int = TILE) -> tuple[int, int]:
    """(height, width) of a sheet of ``n`` tiles: ceil(sqrt(n)) columns."""
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    return rows * tile, cols * tile


def preview(store_dir: str | Path, out: str | Path | None = None, n: int = 16, tile: int = TILE) -> Path:
    """Write a contact sheet of ``n`` records of the store ``store_dir``; returns its path
    (default ``<store_dir>/preview.png``)."""
    store = Store(store_dir)
    store.read_manifest()
    records = list(store.iter_records())
    if not records:
        raise LegodataError(f"{store.root} has no finished scenes to preview")
    if n < 1:
        raise LegodataError("--n must be at least 1")
    chosen = [records[i] for i in pick(len(records), n)]
    axis_len = _axis_lengths(store)
    tiles = [render_tile(*_read_view(store, rec), rec, axis_len, tile) for rec in chosen]
    sheet = grid(tiles, columns=sheet_shape(len(tiles), 1)[1], background=32)
    path = Path(out) if out else store.root / "preview.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise LegodataError(f"cannot write {path}")
    return path


def _read_view(store: Store, rec: Record) -> tuple[np.ndarray, np.ndarray | None]:
    """The record's BGR image and its instance mask (None when it has none)."""
    img = cv2.imread(str(store.root / rec.image_path), cv2.IMREAD_COLOR)
    if img is None:
        raise LegodataError(f"cannot read image {store.root / rec.image_path}")
    mask = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED) if rec.mask_path else None
    if mask is not None and mask.ndim == 3:
        mask = mask[..., 0]
    return img, mask
