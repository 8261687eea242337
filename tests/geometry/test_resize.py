"""The one image resize (legodata.geometry.crops.resize): exact labels, area down, bilinear up."""

import math
from fractions import Fraction

import cv2
import numpy as np
import pytest

from legodata.geometry.crops import crop_image, crop_mask, nearest_indices, resize


@pytest.mark.parametrize("size,out", [(7, 3), (3, 7), (416, 48), (448, 160), (64, 64), (1, 5)])
def test_nearest_takes_the_pixel_under_each_output_centre(size, out):
    centres = (np.arange(out) + 0.5) * size / out  # output pixel centres, in input pixels
    expected = [math.floor(Fraction(2 * i + 1, 2 * out) * size) for i in range(out)]
    assert nearest_indices(size, out).tolist() == expected
    assert all(0 <= k <= c < k + 1 for k, c in zip(expected, centres))


def test_resize_labels_and_images():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, (30, 50)).astype(np.int32)
    small = resize(labels, 20, 12, nearest=True)
    assert small.shape == (12, 20) and set(np.unique(small)) <= set(np.unique(labels))
    assert np.array_equal(small, labels[np.ix_(nearest_indices(30, 12), nearest_indices(50, 20))])
    image = rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)
    assert resize(image, 50, 30) is image  # already that size: untouched
    down = cv2.resize(image, (16, 16), interpolation=cv2.INTER_AREA)
    up = cv2.resize(image, (64, 64), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(resize(image, 16), down) and np.array_equal(resize(image, 64), up)
    assert np.array_equal(
        resize(image, 40, 60), cv2.resize(image, (40, 60), interpolation=cv2.INTER_AREA)
    )  # one side down
    forced = resize(image, 64, shrink=cv2.INTER_LINEAR, enlarge=cv2.INTER_AREA)
    assert np.array_equal(forced, cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA))


def test_crops_use_it():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    mask = rng.integers(0, 3, (40, 40)).astype(np.uint16)
    box = (5, 5, 30)
    assert np.array_equal(crop_image(image, box, 12), resize(image[5:35, 5:35], 12))
    assert np.array_equal(crop_mask(mask, 2, box, 12) > 0, resize(mask[5:35, 5:35] == 2, 12, nearest=True))
