"""Metrics in numpy: IoU per query (mean and per part) and symmetry-aware angular errors (median, acc@15/30)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def iou(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """IoU of boolean masks (..., H, W) -> (...); two empty masks score 1."""
    pred, target = np.asarray(pred, bool), np.asarray(target, bool)
    inter = np.logical_and(pred, target).sum(axis=(-2, -1))
    union = np.logical_or(pred, target).sum(axis=(-2, -1))
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def rotation_angle_deg(R_a: np.ndarray, R_b: np.ndarray) -> np.ndarray:
    """Angle of ``R_a^T R_b`` in degrees, (..., 3, 3) -> (...)."""
    trace = np.einsum("...ij,...ij->...", np.asarray(R_a, np.float64), np.asarray(R_b, np.float64))
    return np.degrees(np.arccos(np.clip((trace - 1) / 2, -1.0, 1.0)))


def symmetric_angle_deg(R_pred: np.ndarray, R_gt: np.ndarray, sym: np.ndarray) -> np.ndarray:
    """Min over the symmetry group S of the angle between ``R_pred`` and ``R_gt @ S``: (N,3,3),(N,3,3),(N,G,3,3)."""
    R_pred, R_gt, sym = (np.asarray(a, np.float64) for a in (R_pred, R_gt, sym))
    candidates = R_gt[:, None] @ sym
    return rotation_angle_deg(R_pred[:, None], candidates).min(axis=1)


def _per_part(values: np.ndarray, parts: np.ndarray, names: list[str], fn) -> dict[str, dict]:
    groups: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(parts):
        groups[int(p)].append(i)
    return {names[p]: {"n": len(idx), **fn(values[idx])} for p, idx in sorted(groups.items())}


MISS_IOU = 0.5  # a mask query below this IoU is a miss


def mask_metrics(ious: np.ndarray, parts: np.ndarray, names: list[str]) -> dict:
    """Mean IoU, the count of misses (IoU below ``MISS_IOU``: another part masked, or the queried one with others)
    and the mean IoU of the rest (how well the parts found are outlined), overall and per part: ``{"n", "iou",
    "misses", "iou_found", "per_part": {name: {...}}}``."""
    ious = np.asarray(ious, np.float64)

    def summary(v: np.ndarray) -> dict:
        found = v[v >= MISS_IOU]
        return {
            "iou": float(v.mean()) if len(v) else float("nan"),
            "misses": int((v < MISS_IOU).sum()),
            "iou_found": float(found.mean()) if len(found) else float("nan"),
        }

    return {"n": int(len(ious)), **summary(ious), "per_part": _per_part(ious, parts, names, summary)}


def rotation_metrics(errors_deg: np.ndarray, parts: np.ndarray, names: list[str]) -> dict:
    """Median error, mean error, accuracy at 15 and 30 degrees (fractions), errors beyond 30 degrees and flips
    (beyond 150 degrees: the part seen upside down or back to front) as counts, overall and per part."""
    errors = np.asarray(errors_deg, np.float64)

    def summary(v: np.ndarray) -> dict:
        if not len(v):
            nan = float("nan")
            return {"median_deg": nan, "mean_deg": nan, "acc15": nan, "acc30": nan, "over30": 0, "flips": 0}
        return {
            "median_deg": float(np.median(v)),
            "mean_deg": float(v.mean()),
            "acc15": float((v <= 15).mean()),
            "acc30": float((v <= 30).mean()),
            "over30": int((v > 30).sum()),
            "flips": int((v > 150).sum()),
        }

    return {"n": int(len(errors)), **summary(errors), "per_part": _per_part(errors, parts, names, summary)}
