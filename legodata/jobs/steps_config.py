"""The settings of ``legodata render-steps``: what defines an assembly-steps store, plus job control."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from legodata.assembly.random_builds import GRID_PARTS
from legodata.assembly.specs import (
    StepsSettings,
)
from legodata.config import PRESETS, parse_shard
from legodata.core.spec import RenderSettings
from legodata.errors import LegodataError


@dataclass(frozen=True)
class StepsConfig:
    """Everything that defines an assembly-steps store, plus job control (device, shard)."""

    out: str
    model: str | None = None  # an LDraw .ldr/.mpd/.dat model with 0 STEP lines
    random_builds: int = 0  # or this many random builds from the built-in parts
    ldraw_dir: str | None = None
    seed: int = 0
    views: int = 1
    resolution: int = 256
    manual_resolution: int = 384
    callout_resolution: int = 96
    distractors: tuple[int, int] = (1, 3)
    parts: str = ",".join(GRID_PARTS)  # random builds: the built-in parts to use
    colours: str = "0,1,2,4,14,15,25,71,72,19"  # random builds: LDraw colour codes
    parts_per_build: tuple[int, int] = (4, 10)
    parts_per_step: tuple[int, int] = (1, 3)
    preset: str = "fast"
    device: str = "auto"
    shard: str = "0/1"
    max_models_per_worker: int = 20
    executor: str = "local"  # local worker process, or Ray tasks (legodata.jobs.steps_task.models_on_ray)
    address: str | None = None  # Ray cluster: "auto", HOST:PORT, or None for a local Ray

    DATA_FIELDS = (
        "model", "random_builds", "ldraw_dir", "seed", "views", "resolution", "manual_resolution",
        "callout_resolution", "distractors", "parts", "colours", "parts_per_build", "parts_per_step", "preset",
    )  # fmt: skip

    def validate(self) -> StepsConfig:
        if (self.model is None) == (self.random_builds <= 0):
            raise LegodataError("render-steps needs either --model M.ldr or --random-builds N (not both)")
        if self.model is not None and not Path(self.model).is_file():
            raise LegodataError(f"--model {self.model}: no such file")
        if self.ldraw_dir is not None and not Path(self.ldraw_dir).is_dir():
            raise LegodataError(f"--ldraw-dir {self.ldraw_dir}: not a directory (the LDraw library with parts/, p/)")
        if self.preset not in PRESETS:
            raise LegodataError(f"--preset {self.preset!r}: use one of {', '.join(PRESETS)}")
        for name in ("resolution", "manual_resolution", "callout_resolution"):
            if not 32 <= getattr(self, name) <= 4096:
                raise LegodataError(f"--{name.replace('_', '-')} must be between 32 and 4096 pixels")
        for name in ("distractors", "parts_per_build", "parts_per_step"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi or (name != "distractors" and lo < 1):
                raise LegodataError(f"--{name.replace('_', '-')} {lo},{hi}: needs MIN <= MAX (MIN >= 1 for parts)")
        if self.views < 1 or self.seed < 0:
            raise LegodataError("--views must be >= 1 and --seed >= 0")
        if self.executor not in ("local", "ray"):
            raise LegodataError(f"--executor {self.executor!r}: use local or ray")
        if self.address is not None and self.executor != "ray":
            raise LegodataError(f"--address {self.address!r}: is a Ray cluster address: use it with --executor ray")
        parse_shard(self.shard)
        return self

    def data_settings(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (list(d[k]) if isinstance(d[k], tuple) else d[k]) for k in self.DATA_FIELDS}

    def steps_settings(self) -> StepsSettings:
        return StepsSettings(
            self.resolution, self.manual_resolution, self.callout_resolution, self.views, self.distractors
        )

    def render_settings(self) -> RenderSettings:
        return RenderSettings(device=self.device, threads=0, **PRESETS[self.preset])
