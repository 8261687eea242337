"""A printed-manual page from the worker's raw Workbench render: outlines, step number, parts callout. OpenCV only.

Layout (``width`` x ``height``): a strip of ``strip`` pixels at the top holds the step number (left) and the
callout box (light blue, as in LEGO manuals) with a picture of each new part and its count ("2x"); below it the
model as the fixed manual camera sees it. Dark outlines are drawn where the exact instance mask changes (part
against part or background) and where depth jumps inside a part (stud rims), as manuals outline every edge.
The page's instance mask is the raw mask moved down by ``strip`` (0 in the strip), so ``K_page`` is the raw
camera's K with ``cy + strip``.
"""

from __future__ import annotations

import cv2
import numpy as np

from legodata.contact_sheet import letterbox

OUTLINE_BGR = (30, 30, 30)
CALLOUT_BGR = (250, 232, 205)  # light blue
CALLOUT_EDGE_BGR = (150, 120, 80)
DEPTH_EDGE_M = 0.0012  # a depth jump of more than this between neighbouring pixels of one part is an edge
FONT = cv2.FONT_HERSHEY_DUPLEX


def outline_mask(mask: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
    """Pixels of a part whose right/left/upper/lower neighbour is another part or background, or (with ``depth``
    in metres, 0 = none) lies more than ``DEPTH_EDGE_M`` farther away."""
    m = mask.astype(np.int64)
    edge = np.zeros(m.shape, dtype=bool)
    pad = np.pad(m, 1, mode="edge")
    d = None if depth is None else np.pad(depth.astype(np.float64), 1, mode="edge")
    h, w = m.shape
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        nb = pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        edge |= (m > 0) & (nb != m)
        if d is not None:
            dn = d[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
            edge |= (m > 0) & (nb == m) & (dn - depth > DEPTH_EDGE_M)
    return edge


def outlined(image_bgr: np.ndarray, mask: np.ndarray, depth_m: np.ndarray | None = None) -> np.ndarray:
    """``image_bgr`` with dark outlines (see :func:`outline_mask`)."""
    out = image_bgr.copy()
    out[outline_mask(mask, depth_m)] = OUTLINE_BGR
    return out


def _crop_to_content(image: np.ndarray, mask: np.ndarray, pad: int = 2) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return image
    y0, y1 = max(0, ys.min() - pad), min(image.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(image.shape[1], xs.max() + pad + 1)
    return image[y0:y1, x0:x1]


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, thickness: int) -> None:
    cv2.putText(img, text, org, FONT, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def draw_callout(
    page: np.ndarray, x0: int, strip: int, items: list[tuple[np.ndarray, int]]
) -> tuple[int, int, int, int]:
    """Draw the callout box at ``x0`` in the top ``strip`` rows: each item is (thumbnail BGR cropped on white,
    count). Returns the box (x, y, w, h)."""
    width = page.shape[1]
    pad = max(3, strip // 16)
    label_h = max(10, strip // 5)
    avail_w = width - x0 - pad
    n = max(1, len(items))
    rows = 1
    cell = strip - 2 * pad - label_h
    while rows < 4 and (n + rows - 1) // rows * (cell + pad) > avail_w:
        rows += 1
        cell = (strip - 2 * pad) // rows - label_h
    cols = (n + rows - 1) // rows
    cell = max(8, min(cell, (avail_w - pad) // cols - pad))
    box_w = cols * (cell + pad) + pad
    box_h = rows * (cell + label_h) + 2 * pad
    y0 = max(0, (strip - box_h) // 2)
    cv2.rectangle(page, (x0, y0), (x0 + box_w, y0 + box_h), CALLOUT_BGR, -1)
    cv2.rectangle(page, (x0, y0), (x0 + box_w, y0 + box_h), CALLOUT_EDGE_BGR, 1, cv2.LINE_AA)
    scale = label_h / 30.0
    for k, (thumb, count) in enumerate(items):
        r, c = divmod(k, cols)
        cx, cy = x0 + pad + c * (cell + pad), y0 + pad + r * (cell + label_h)
        framed, place = letterbox(thumb, cell)
        pic = place.region(framed)
        region = place.region(page[cy : cy + cell, cx : cx + cell])
        keep = pic.min(axis=2) < 245  # the thumbnail's white background lets the box colour through
        region[keep] = pic[keep]
        _text(page, f"{count}x", (cx, cy + cell + label_h - 2), scale, 1)
    return x0, y0, box_w, box_h


def compose_page(
    raw_bgr: np.ndarray,
    raw_mask: np.ndarray,
    raw_depth_m: np.ndarray | None,
    step: int,
    callout: list[tuple[np.ndarray, int]],
    strip: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The page (BGR, uint8) and its uint16 instance mask from the raw render of the model (``raw_*``, the height
    below the strip), the step number and the callout items (thumbnail, count)."""
    h, w = raw_mask.shape
    page = np.full((h + strip, w, 3), 255, np.uint8)
    page[strip:] = outlined(raw_bgr, raw_mask, raw_depth_m)
    mask = np.zeros((h + strip, w), np.uint16)
    mask[strip:] = raw_mask
    scale = strip / 48.0
    (tw, th), _ = cv2.getTextSize(str(step), FONT, scale, max(1, round(2 * scale)))
    margin = max(4, strip // 10)
    _text(page, str(step), (margin, margin + th), scale, max(1, round(2 * scale)))
    draw_callout(page, margin * 2 + tw, strip, callout)
    return page, mask


def callout_thumbnail(image_bgr: np.ndarray, mask: np.ndarray, depth_m: np.ndarray | None = None) -> np.ndarray:
    """A callout picture from a view of the callout sheet: outlined, cropped to the part."""
    return _crop_to_content(outlined(image_bgr, mask, depth_m), mask > 0)
