"""Decoys for the masking model: another part of the scene repainted in the queried part's colour (pure numpy).

The model's typical error is masking every part of the queried colour: most scenes give it no reason to look at
shape, as few hold two parts of one colour. A decoy is such a reason in every augmented sample: another part of
the same scene (a different part id) gets the queried instances' colour, its own shading kept; the target is
unchanged, so only shape tells the queried part from the decoy.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
MIN_LUMA = 12.0  # shading of near-black parts: below this their relative brightness is mostly noise


def decoy_choices(scene: np.ndarray, part: np.ndarray) -> list[np.ndarray]:
    """For each query, the queries of the same scene with another part (the parts that may become its decoy)."""
    by_scene: dict[int, list[int]] = defaultdict(list)
    for q, n in enumerate(scene.tolist()):
        by_scene[n].append(q)
    choices = []
    for q, n in enumerate(scene.tolist()):
        choices.append(np.array([o for o in by_scene[n] if part[o] != part[q]], np.int64))
    return choices


def repaint(image: np.ndarray, labels: np.ndarray, decoy_ids, like_ids) -> np.ndarray:
    """``image`` with the pixels of instances ``decoy_ids`` in the mean colour of instances ``like_ids``, scaled
    per pixel by the decoy's own relative brightness (its shading). Unchanged when either has no pixel."""
    decoy = np.isin(labels, decoy_ids)
    like = np.isin(labels, like_ids)
    if not decoy.any() or not like.any():
        return image
    pixels = image[decoy].astype(np.float32)
    luma = pixels @ LUMA
    shading = luma / max(float(luma.mean()), MIN_LUMA)
    colour = image[like].astype(np.float32).mean(axis=0)
    out = image.copy()
    out[decoy] = np.clip(shading[:, None] * colour[None, :], 0, 255).astype(np.uint8)
    return out
