"""Settings of a training run: one frozen dataclass, the single source of the CLI's defaults.

Per-task defaults (``TASK_DEFAULTS``) fill the fields left at ``None``, so ``TrainConfig(task="rot", ...)`` is what
``legodata train-rot`` runs with no flags. Importing this module is cheap (no torch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from legodata.errors import LegodataError

TASKS = ("mask", "rot")
PRECISIONS = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class TaskDefaults:
    epochs: int
    batch_size: int
    image_size: int  # mask: scenes resized to this square (multiple of 16); rot: crops resized to this square
    lr: float  # peak learning rate (AdamW, warm-up then cosine)


# What the README documents and bench/bench_train.py measured: 128 px scenes at batch 16 and lr 2e-3 for the U-Net,
# 64 px crops at batch 32 and lr 1e-3 for the rotation model (96 px crops cost 2.3x per step for no gain).
TASK_DEFAULTS: dict[str, TaskDefaults] = {
    "mask": TaskDefaults(epochs=20, batch_size=16, image_size=128, lr=2e-3),
    "rot": TaskDefaults(epochs=20, batch_size=32, image_size=64, lr=1e-3),
}
# --weights without --lr: the default peak rate times this. Fine-tuning a 20-minute rotation run on 500 crops of
# another render setting (bench/bench_rot_efficiency.py): test median 7.0 deg at 1e-3, 5.5 at 3e-4, 5.6 at 1e-4.
FINETUNE_LR_FACTOR = 0.3
# --second-look: the chooser's share of a --max-minutes budget (3 of 20 minutes: 37 epochs of 7,626 instance crops
# on 2 cores, bench/bench_second_look.py), or its epochs when the run has no time budget.
CHOOSER_SHARE = 0.15
CHOOSER_EPOCHS = 30


@dataclass(frozen=True)
class TrainConfig:
    task: str  # mask | rot
    dataset: str
    out: str
    epochs: int | None = None  # None: TASK_DEFAULTS[task]
    batch_size: int | None = None
    image_size: int | None = None
    lr: float | None = None  # None: the task's default, FINETUNE_LR_FACTOR times it with --weights
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    augment: bool = True  # rot: random in-plane rotation with the matching label change
    resume: bool = False
    weights: str | None = None  # user-supplied initial weights (a checkpoint or a state dict)
    limit: int | None = None  # at most this many dataset rows per split (quick runs)
    train_limit: int | None = None  # at most this many train rows (learning curves: validation and test whole)
    max_minutes: float | None = None  # stop training after this long (the LR schedule follows the clock)
    base: int | None = None  # network width (default per task)
    streaming: bool = False  # read the train split with load_dataset(..., streaming=True): never all on disk
    epoch_samples: int | None = None  # streaming: training samples per epoch (default: one pass, as counted first)
    shuffle_buffer: int = 1000  # streaming: samples shuffled in a buffer of this many rows (and shard order)
    query: str = "id"  # mask: id (part, colour) | image (a reference image of the part)
    part_head: bool = False  # mask: also learn every pixel's part class (helps large runs, hurts small ones)
    second_look: bool = False  # mask: a part classifier picks the queried part among the predicted pieces
    colour_head: bool | None = None  # mask: also learn every instance of the queried colour (None: with second_look)
    mode: str = "absolute"  # rot: absolute (crop -> R_m2c, config parts) | relative (+ manual crop -> action, steps)
    head: str = "harmonic"  # rot: harmonic (band-limited scores on SO(3)) | grid (one free score per grid rotation)
    precision: str = "auto"  # auto (bf16 on CPUs with bf16 instructions, fp16 on CUDA) | bf16 | fp32
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.task not in TASK_DEFAULTS:
            raise LegodataError(f"task {self.task!r}: expected one of {', '.join(TASKS)}")
        for name, value in asdict(TASK_DEFAULTS[self.task]).items():
            if getattr(self, name) is None:
                scale = FINETUNE_LR_FACTOR if name == "lr" and self.weights else 1
                object.__setattr__(self, name, value * scale)

    def validate(self) -> TrainConfig:
        """Return self, or raise :class:`LegodataError` naming the flag."""
        checks = [
            ("epochs", self.epochs >= 1, "must be at least 1"),
            ("batch_size", self.batch_size >= 1, "must be at least 1"),
            ("image_size", self.image_size >= 16, "must be at least 16"),
            ("lr", self.lr > 0, "must be positive"),
            ("workers", self.workers >= 0, "must be 0 or more"),
            ("limit", self.limit is None or self.limit >= 1, "must be at least 1"),
            ("train_limit", self.train_limit is None or self.train_limit >= 1, "must be at least 1"),
            ("max_minutes", self.max_minutes is None or self.max_minutes > 0, "must be positive"),
            ("epoch_samples", self.epoch_samples is None or self.epoch_samples >= 1, "must be at least 1"),
            ("shuffle_buffer", self.shuffle_buffer >= 1, "must be at least 1"),
        ]
        for name, ok, hint in checks:
            if not ok:
                raise LegodataError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: {hint}")
        if self.query not in ("id", "image") or (self.query != "id" and self.task != "mask"):
            raise LegodataError(f"--query {self.query!r}: expected id or image (train-mask only)")
        if self.query == "image" and self.streaming:
            raise LegodataError("--query image draws references from other scenes of the train split: drop --streaming")
        if self.second_look and (self.task != "mask" or self.query != "id"):
            raise LegodataError("--second-look chooses among pieces by part id: train-mask with --query id only")
        if self.colour_head and (self.task != "mask" or self.streaming):
            raise LegodataError("the colour head is for train-mask without --streaming")
        if self.second_look and self.streaming:
            raise LegodataError("--second-look trains its classifier on the train split in memory: drop --streaming")
        if self.mode not in ("absolute", "relative") or (self.mode != "absolute" and self.task != "rot"):
            raise LegodataError(f"--mode {self.mode!r}: expected absolute or relative (train-rot only)")
        if self.head not in ("harmonic", "grid"):
            raise LegodataError(f"--head {self.head!r}: expected harmonic or grid (train-rot only)")
        if self.precision not in PRECISIONS:
            raise LegodataError(f"--precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        if self.mode == "relative" and self.streaming:
            raise LegodataError("--mode relative reads the steps config into memory: drop --streaming")
        if self.train_limit is not None and self.streaming:
            raise LegodataError("--train-limit reads the first rows of the train split: drop --streaming")
        if self.epoch_samples is not None and not self.streaming:
            raise LegodataError(
                f"--epoch-samples {self.epoch_samples}: only with --streaming (else an epoch is a pass)"
            )
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def config_from_dict(values: dict) -> TrainConfig:
    """A :class:`TrainConfig` from ``config.json``'s ``train`` entry (unknown keys ignored)."""
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known})
