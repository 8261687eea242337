"""Training samples of the segmenting mask model: one per scene, every pixel's part and colour index.

Built from the same :class:`~legodata.train.samples.MaskSamples` as the per-query samples (so validation and test
are scored per query exactly as before); pure numpy but for the tensors of :class:`SceneMapsDataset`.
"""

from __future__ import annotations

import numpy as np

from legodata.errors import require
from legodata.train.samples import MaskSamples


def scene_maps(labels: np.ndarray, instance_parts: dict[int, tuple[int, int]], n_parts: int):
    """Instance-id image (H, W) -> (part map, colour map): each pixel's part index (``n_parts`` = background) and
    colour index (0 = background), from ``instance_parts`` {instance id: (part index, colour index)}."""
    part_map = np.full(labels.shape, n_parts, np.int64)
    colour_map = np.zeros(labels.shape, np.int64)
    for instance, (part, colour) in instance_parts.items():
        where = labels == instance
        part_map[where] = part
        colour_map[where] = colour
    return part_map, colour_map


def instances_by_scene(samples: MaskSamples) -> list[dict[int, tuple[int, int]]]:
    """For every scene of ``samples``: {instance id: (part index, colour index)} from its queries."""
    out: list[dict[int, tuple[int, int]]] = [{} for _ in range(len(samples.images))]
    for q in range(len(samples)):
        for instance in samples.instance_ids[q]:
            out[int(samples.scene[q])][instance] = (int(samples.part[q]), int(samples.colour[q]))
    return out


class SceneMapsDataset:
    """Scenes as ``image``, ``part_map``, ``colour_map`` tensors (map-style, told the epoch like the others)."""

    def __init__(self, samples: MaskSamples) -> None:
        self.samples = samples
        self.instances = instances_by_scene(samples)
        self.n_parts = len(samples.part_names)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples.images)

    def __getitem__(self, s: int) -> dict:
        torch = require("torch", "train")
        from legodata.train.data import image_tensor

        part_map, colour_map = scene_maps(self.samples.labels[s], self.instances[s], self.n_parts)
        return {
            "image": image_tensor(self.samples.images[s]),
            "part_map": torch.from_numpy(part_map),
            "colour_map": torch.from_numpy(colour_map),
        }
