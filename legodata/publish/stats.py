"""Counts and orientation coverage for the dataset card, gathered in one pass with constant memory per part."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from legodata.publish.splits import SPLITS

ANGLE_BIN_DEG = 15
UP_AXES = ("+x (right)", "-x (left)", "+y (down)", "-y (up)", "+z (away from camera)", "-z (towards camera)")


def reduced_angle_deg(R: np.ndarray, group: np.ndarray) -> float:
    """Rotation angle of ``R`` from the identity, minimised over the part's symmetry group (``R @ S``)."""
    traces = np.einsum("ij,kji->k", R, group)  # trace(R @ S_k)
    return float(np.degrees(np.arccos(np.clip((traces.max() - 1.0) / 2.0, -1.0, 1.0))))


def up_axis_bin(R: np.ndarray) -> str:
    """Which camera axis the part's up direction (model -Y, LDraw) points closest to."""
    up = -R[:, 1]
    k = int(np.argmax(np.abs(up)))
    return UP_AXES[2 * k + (0 if up[k] > 0 else 1)]


@dataclass
class Stats:
    records: Counter = field(default_factory=Counter)  # split -> scenes rows
    part_rows: Counter = field(default_factory=Counter)  # split -> parts rows
    instances: Counter = field(default_factory=Counter)  # split -> instances in scenes rows
    instances_per_part: Counter = field(default_factory=Counter)
    part_rows_per_part: Counter = field(default_factory=Counter)
    per_store: dict = field(default_factory=lambda: defaultdict(Counter))  # label -> records, instances, parts
    sources: Counter = field(default_factory=Counter)  # record source kind -> records
    angle_hist: Counter = field(default_factory=Counter)  # bin start (deg) -> parts rows
    up_hist: Counter = field(default_factory=Counter)

    def add_record(self, label: str, split: str, source: str, n_instances: int) -> None:
        self.records[split] += 1
        self.instances[split] += n_instances
        self.sources[source] += 1
        self.per_store[label]["records"] += 1
        self.per_store[label]["instances"] += n_instances

    def add_instance(self, part_id: str) -> None:
        self.instances_per_part[part_id] += 1

    def add_part_row(self, label: str, split: str, part_id: str, R, group: np.ndarray) -> None:
        self.part_rows[split] += 1
        self.part_rows_per_part[part_id] += 1
        self.per_store[label]["part_rows"] += 1
        R = np.asarray(R, dtype=np.float64)
        angle = reduced_angle_deg(R, group)
        self.angle_hist[min(int(angle // ANGLE_BIN_DEG), 180 // ANGLE_BIN_DEG - 1) * ANGLE_BIN_DEG] += 1
        self.up_hist[up_axis_bin(R)] += 1

    def split_counts(self, config: str) -> dict[str, int]:
        counter = self.records if config == "scenes" else self.part_rows
        return {s: counter[s] for s in SPLITS}
