"""Training order that keeps an image's queries together, so a batch of the mask model holds several queries of each
of its images and the U-Net's unmodulated encoder levels run once per image (``--shared-levels``)."""

from __future__ import annotations

import math

import numpy as np


def grouped_order(scenes: np.ndarray, world: int, rank: int, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    """Query indices of this ``rank``'s share of an epoch: the images in a random order (fixed by ``seed`` and
    ``epoch``; all ranks agree on it), every ``world``-th image for this rank, each image's queries one after the
    other. Every rank gets ``ceil(Q / world)`` indices (DDP steps in lockstep): a short share repeats its first
    queries, a long one stops early (other images lead the next epoch)."""
    scenes = np.asarray(scenes)
    images = np.unique(scenes)
    if shuffle:
        images = np.random.default_rng([seed, epoch]).permutation(images)
    by_image = {int(n): np.flatnonzero(scenes == n) for n in images}
    mine = [by_image[int(n)] for n in images[rank::world]]
    order = np.concatenate(mine) if mine else np.zeros(0, np.int64)
    size = math.ceil(len(scenes) / world)
    if len(order) and len(order) < size:
        order = np.resize(order, size)  # repeats from the start
    return order[:size]


class SceneGroupedSampler:
    """A ``torch.utils.data`` sampler over :func:`grouped_order` (``set_epoch`` reshuffles, as DistributedSampler)."""

    def __init__(self, scenes: np.ndarray, world: int = 1, rank: int = 0, shuffle: bool = True, seed: int = 0):
        self.scenes, self.world, self.rank, self.shuffle, self.seed = np.asarray(scenes), world, rank, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        order = grouped_order(self.scenes, self.world, self.rank, self.shuffle, self.seed, self.epoch)
        return iter(order.tolist())

    def __len__(self) -> int:
        return math.ceil(len(self.scenes) / self.world)
