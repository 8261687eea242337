"""Reference images for the masking model's image query (``train-mask --query image``), pure numpy.

The query "this part" is a picture of it: a crop around the part alone on black, as a catalogue render or the part's
crop from a manual page shows it. From a scenes dataset the reference of a query is the masked crop of the same
(part, colour) in *another* scene (another pose, other neighbours and light), so the model has to recognise the
part, not copy pixels; a query whose (part, colour) is in no other scene falls back to its own crop (counted).
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np

from legodata.geometry.crops import resize

logger = logging.getLogger(__name__)

REF_SIZE = 32  # pixels of the square reference crop
MARGIN = 0.15  # context around the part's box, as a fraction of its longer side


def square_box(mask: np.ndarray, margin: float = MARGIN) -> tuple[int, int, int]:
    """``(y0, x0, side)`` of the square centred on ``mask``'s bounding box, ``margin`` of its longer side around it
    (may reach outside the image); the whole image when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return 0, 0, max(mask.shape)
    side = int(round((max(ys.max() - ys.min(), xs.max() - xs.min()) + 1) * (1 + 2 * margin)))
    y0 = int(round((ys.min() + ys.max() + 1 - side) / 2))  # centred on the box (pixel edges at integers)
    x0 = int(round((xs.min() + xs.max() + 1 - side) / 2))
    return y0, x0, side


def crop_box(array: np.ndarray, y0: int, x0: int, side: int, size: int, nearest: bool = False) -> np.ndarray:
    """The ``side`` square at ``(y0, x0)`` of ``array`` (zeros outside it), resized to ``size``."""
    out = np.zeros((side, side, *array.shape[2:]), array.dtype)
    h, w = array.shape[:2]
    sy, sx = slice(max(y0, 0), min(y0 + side, h)), slice(max(x0, 0), min(x0 + side, w))
    if sy.stop > sy.start and sx.stop > sx.start:
        out[sy.start - y0 : sy.stop - y0, sx.start - x0 : sx.stop - x0] = array[sy, sx]
    return resize(out, size, nearest=nearest)


def masked_crop(image: np.ndarray, mask: np.ndarray, size: int = REF_SIZE, margin: float = MARGIN) -> np.ndarray:
    """The square crop around ``mask`` (bool, H x W) of ``image`` (H x W x 3) with everything else black, resized to
    ``size``; an empty mask gives a black crop."""
    if not mask.any():
        return np.zeros((size, size, 3), np.uint8)
    y0, x0, side = square_box(mask, margin)
    return crop_box(image * mask[..., None].astype(image.dtype), y0, x0, side, size)


def query_crops(images, labels, scene, instance_ids, size: int = REF_SIZE) -> np.ndarray:
    """(Q, size, size, 3): each query's own masked crop (all its instances) from its scene."""
    crops = [masked_crop(images[s], np.isin(labels[s], ids), size) for s, ids in zip(scene.tolist(), instance_ids)]
    return np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)


def reference_choices(part: np.ndarray, colour: np.ndarray, scene: np.ndarray) -> list[np.ndarray]:
    """For each query, the queries of the same (part, colour) in other scenes (itself when there are none)."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for q, key in enumerate(zip(part.tolist(), colour.tolist())):
        groups[key].append(q)
    out, alone = [], 0
    for q, key in enumerate(zip(part.tolist(), colour.tolist())):
        others = [o for o in groups[key] if scene[o] != scene[q]]
        alone += not others
        out.append(np.asarray(others or [q], np.int64))
    if alone:
        logger.debug("image query: %d of %d queries have no other scene with their part and colour (own crop)",
                    alone, len(out))  # fmt: skip
    return out


def pick_reference(choices: np.ndarray, q: int, rng: np.random.Generator | None = None) -> int:
    """The query whose crop is ``q``'s reference: random with ``rng`` (training), else a fixed one per query."""
    if rng is not None:
        return int(choices[rng.integers(len(choices))])
    return int(choices[(q * 7919) % len(choices)])
