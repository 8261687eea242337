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

from legodata.core.records import Instance, Record
from legodata.errors import LegodataError
from legodata.store.store import Store

TILE = 320
AXIS_COLOURS_BGR = ((0, 0, 255), (0, 200, 0), (255, 80, 0))  # X red, Y green, Z blue


def _palette(k: int) -> tuple[int, int, int]:
    hue = (k * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


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


def _put_text(img: np.ndarray, text: str, org: tuple[int, int], colour, scale: float = 0.45) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def render_tile(
    image_bgr: np.ndarray, mask: np.ndarray | None, rec: Record, axis_len: dict[str, float], tile: int = TILE
) -> np.ndarray:
    """One annotated tile (``tile`` x ``tile``, letterboxed) of record ``rec``."""
    out = image_bgr.astype(np.float32)
    if mask is not None:
        for inst in rec.instances:
            sel = mask == inst.instance_id
            if sel.any():
                out[sel] = 0.55 * out[sel] + 0.45 * np.float32(_palette(inst.instance_id))
    out = np.clip(out, 0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    s = tile / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    big = cv2.resize(out, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((tile, tile, 3), np.uint8)
    x0, y0 = (tile - nw) // 2, (tile - nh) // 2
    canvas[y0 : y0 + nh, x0 : x0 + nw] = big

    def to_tile(uv: np.ndarray) -> tuple[int, int]:  # pixel centres at integer coordinates in both images
        return int(round((uv[0] + 0.5) * s - 0.5 + x0)), int(round((uv[1] + 0.5) * s - 0.5 + y0))

    if mask is not None:
        for inst in rec.instances:
            sel = (mask == inst.instance_id).astype(np.uint8)
            if not sel.any():
                continue
            small = cv2.resize(sel, (nw, nh), interpolation=cv2.INTER_NEAREST)
            contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(canvas[y0 : y0 + nh, x0 : x0 + nw], contours, -1, _palette(inst.instance_id), 1)
    for inst in rec.instances:
        _draw_axes(canvas, rec, inst, axis_len.get(inst.part_id, 0.01), to_tile)
    for inst in rec.instances:
        bx, by, bw, bh = inst.bbox_visib if inst.bbox_visib[2] > 0 else inst.bbox_obj
        if bw <= 0:
            continue
        x, y = to_tile(np.array([bx, by], float))
        _put_text(canvas, inst.part_id, (max(0, x), max(12, y - 3)), _palette(inst.instance_id))
    _put_text(canvas, rec.record_id, (4, tile - 6), (255, 255, 255), 0.4)
    return canvas


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
    height, width = sheet_shape(len(chosen), tile)
    sheet = np.full((height, width, 3), 32, np.uint8)
    cols = width // tile
    for k, rec in enumerate(chosen):
        img = cv2.imread(str(store.root / rec.image_path), cv2.IMREAD_COLOR)
        if img is None:
            raise LegodataError(f"cannot read image {store.root / rec.image_path}")
        mask = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED) if rec.mask_path else None
        if mask is not None and mask.ndim == 3:
            mask = mask[..., 0]
        r, c = divmod(k, cols)
        sheet[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = render_tile(img, mask, rec, axis_len, tile)
    path = Path(out) if out else store.root / "preview.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise LegodataError(f"cannot write {path}")
    return path
