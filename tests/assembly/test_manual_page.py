"""Manual pages composed from a raw render: white page, outlines, step number, parts callout, shifted mask."""

import numpy as np

from legodata.assembly.manual_page import CALLOUT_BGR, callout_thumbnail, compose_page, outline_mask


def raw_scene(h=120, w=160):
    img = np.full((h, w, 3), 255, np.uint8)
    mask = np.zeros((h, w), np.uint16)
    mask[40:90, 30:80] = 1
    mask[50:100, 80:130] = 2
    img[mask == 1] = (0, 0, 200)
    img[mask == 2] = (200, 100, 0)
    depth = np.where(mask > 0, 0.3, 0.0)
    depth[60:70, 40:50] = 0.298  # a stud: 2 mm nearer than the face around it
    return img, mask, depth


def test_outlines_follow_part_boundaries_and_depth_steps():
    _, mask, depth = raw_scene()
    edge = outline_mask(mask, depth)
    assert edge[40, 50] and edge[70, 30] and edge[70, 79] and edge[70, 80]  # part/background, part/part
    assert not edge[0, 0] and not edge[45, 60]  # background and part interior stay
    assert edge[60, 45] and not edge[59, 45] and not outline_mask(mask)[60, 45]  # the stud rim, on the near side


def test_page_has_white_background_number_callout_and_shifted_mask():
    img, mask, depth = raw_scene()
    thumb = callout_thumbnail(img, mask, depth)
    assert thumb.shape[0] < img.shape[0] and thumb.shape[1] < img.shape[1]  # cropped to the parts
    page, page_mask = compose_page(img, mask, depth, step=7, callout=[(thumb, 2), (thumb, 1)], strip=40)
    assert page.shape == (160, 160, 3) and page_mask.shape == (160, 160) and page_mask.dtype == np.uint16
    assert np.array_equal(page_mask[40:], mask) and not page_mask[:40].any()
    assert (page[-1] == 255).all() and (page[40:, 0] == 255).all()  # white page
    white = (page.min(axis=2) == 255).mean()
    assert white > 0.5
    strip = page[:40]
    assert (strip[:, :30].max(axis=2) < 60).any()  # the step number, in black, at the top left
    assert (np.abs(strip.astype(int) - CALLOUT_BGR).sum(axis=2) == 0).sum() > 100  # the light blue callout box
    # the parts' own colours appear in the callout
    assert ((strip[..., 2] > 150) & (strip[..., 0] < 80)).any()
