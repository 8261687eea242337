"""Decoys: another part of the scene repainted in the queried colour, shading kept, target unchanged."""

import numpy as np
import pytest

from legodata.train.decoys import decoy_choices, repaint
from legodata.train.samples import MaskSamples


def _scene():
    """A 2-instance scene: instance 1 (queried) red, instance 2 blue with a brightness ramp, background grey."""
    image = np.full((16, 16, 3), 90, np.uint8)
    labels = np.zeros((16, 16), np.int32)
    labels[2:6, 2:6] = 1
    image[2:6, 2:6] = (150, 30, 30)
    labels[8:14, 8:14] = 2
    ramp = np.linspace(40, 120, 6, dtype=np.float32)[None, :, None] * np.array([0.2, 0.4, 1.0], np.float32)
    image[8:14, 8:14] = np.broadcast_to(ramp, (6, 6, 3)).astype(np.uint8)
    return image, labels


def test_repaint_gives_the_decoy_the_queried_colour_and_keeps_its_shading():
    image, labels = _scene()
    out = repaint(image, labels, (2,), (1,))
    decoy = labels == 2
    assert np.array_equal(out[~decoy], image[~decoy])  # nothing else changes
    mean = out[decoy].astype(float).mean(axis=0)
    assert mean == pytest.approx([150, 30, 30], abs=2)  # the queried colour on average
    luma = out[decoy].astype(float) @ [0.299, 0.587, 0.114]
    before = image[decoy].astype(float) @ [0.299, 0.587, 0.114]
    assert np.corrcoef(luma, before)[0, 1] > 0.99  # brighter where it was brighter
    assert np.array_equal(repaint(image, labels, (7,), (1,)), image)  # an absent decoy: unchanged


def test_decoys_are_other_parts_of_the_same_scene():
    scene = np.array([0, 0, 0, 1, 1])
    part = np.array([3, 3, 5, 3, 4])
    assert [c.tolist() for c in decoy_choices(scene, part)] == [[2], [2], [0, 1], [4], [3]]


def _samples():
    image, labels = _scene()
    return MaskSamples(
        images=image[None], labels=labels[None], scene=np.array([0, 0]), part=np.array([0, 1]),
        colour=np.array([1, 2]), colour_rgb=np.zeros((2, 3), np.float32), instance_ids=[(1,), (2,)],
        part_names=["a", "b"], record_ids=["r"],
    )  # fmt: skip


def test_training_samples_get_decoys_evaluation_samples_never():
    pytest.importorskip("torch")
    from legodata.train.data import image_tensor, make_mask_dataset

    samples = _samples()
    plain = image_tensor(samples.images[0])
    train = make_mask_dataset(samples, augment=True, seed=0, references=False, decoys=1.0)
    item = train[0]
    assert not np.array_equal(item["image"].numpy(), plain.numpy())
    assert np.array_equal(item["target"][0].numpy(), samples.labels[0] == 1)  # the target stays the queried part
    assert np.array_equal(train[0]["image"].numpy(), item["image"].numpy())  # deterministic per (seed, epoch, q)
    for dataset in (
        make_mask_dataset(samples, augment=False, references=False, decoys=1.0),
        make_mask_dataset(samples, augment=True, references=False, decoys=0.0),
    ):
        assert np.array_equal(dataset[0]["image"].numpy(), plain.numpy())
