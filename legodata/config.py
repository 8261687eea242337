"""Render job configuration: a frozen dataclass, filled from CLI flags and/or a YAML/TOML file."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from legodata.core.spec import RenderSettings
from legodata.errors import LegodataError
from legodata.scene.sampler import ORIENTATIONS

# Cycles settings per quality preset (measured with bench/bench_render.py; see README).
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"samples": 4, "denoiser": False, "max_bounces": 2, "adaptive_threshold": 0.0},
    "default": {"samples": 8, "denoiser": True, "max_bounces": 4, "adaptive_threshold": 0.0},
    "high": {"samples": 64, "denoiser": True, "max_bounces": 8, "adaptive_threshold": 0.01},
    # Baseline for benchmarks: samples 0 tells the worker to keep BlenderProc's own render defaults.
    "blenderproc-defaults": {"samples": 0, "denoiser": True, "max_bounces": 0, "adaptive_threshold": 0.0},
}
DEVICES = ("auto", "cpu", "gpu")
DOMAINS = ("clean", "randomised", "shift")  # clean: plain table and lights; shift: randomisations held out of training
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RenderConfig:
    """Everything that defines a rendered dataset, plus job control (workers, shard) that does not."""

    out: str
    scenes: int = 10
    views: int = 4
    resolution: int = 256
    seed: int = 0
    parts: str = "3001,3003,3004,3005,3010,3002,3023,3022,3020,3069b,3039"
    colours: str = "0,1,2,4,14,15,25,71,72,19"
    parts_per_scene: tuple[int, int] = (3, 6)
    orientation: str = "uniform"
    preset: str = "default"
    device: str = "auto"
    workers: int = 1
    shard: str = "0/1"
    max_scenes_per_worker: int = 100
    ldraw_dir: str | None = None  # LDraw library: its geometry and LDConfig.ldr colours win over the built-ins
    ldraw_hires: bool = False  # resolve LDraw primitives in p/48/ (48-segment circles) before p/
    domain: str = "clean"  # clean | randomised | shift (see DOMAINS)
    backgrounds: str | None = None  # folder of images used as table and backdrop textures (randomised/shift)
    executor: str = "local"  # local worker processes, or Ray tasks (see legodata.jobs)
    address: str | None = None  # Ray cluster: "auto", HOST:PORT, or None for a local Ray

    # Fields that change the data. An output directory keeps them in its manifest; a re-run must match.
    DATA_FIELDS = (
        "scenes",
        "views",
        "resolution",
        "seed",
        "parts",
        "colours",
        "parts_per_scene",
        "orientation",
        "preset",
        "ldraw_dir",
        "ldraw_hires",
        "domain",
        "backgrounds",
    )

    def data_settings(self) -> dict[str, Any]:
        """The settings that determine the data (stored in the manifest, compared on resume)."""
        d = asdict(self)
        settings = {k: (list(d[k]) if isinstance(d[k], tuple) else d[k]) for k in self.DATA_FIELDS}
        # Settings at their old defaults are left out, so stores made before the flag existed resume unchanged.
        for key, default in (("ldraw_hires", False), ("domain", "clean"), ("backgrounds", None)):
            if settings[key] == default:
                del settings[key]
        return settings

    def shard_index(self) -> tuple[int, int]:
        """``(k, n)`` from ``shard`` = "k/n" (0-based k)."""
        return parse_shard(self.shard)

    def render_settings(self) -> RenderSettings:
        """Cycles settings for this config's preset and device."""
        threads = max(1, (os.cpu_count() or 1) // max(1, self.workers))
        return RenderSettings(device=self.device, threads=threads, **PRESETS[self.preset])

    def validate(self) -> RenderConfig:
        """Return self, or raise :class:`LegodataError` naming the bad field and what to do."""

        def bad(name: str, value: Any, hint: str) -> LegodataError:
            return LegodataError(f"--{name.replace('_', '-')} {value!r}: {hint}")

        if self.scenes < 1:
            raise bad("scenes", self.scenes, "must be at least 1")
        if self.views < 1:
            raise bad("views", self.views, "must be at least 1")
        if not 16 <= self.resolution <= 8192:
            raise bad("resolution", self.resolution, "must be between 16 and 8192 pixels")
        if self.seed < 0:
            raise bad("seed", self.seed, "must be a non-negative integer")
        lo, hi = self.parts_per_scene
        if not 1 <= lo <= hi <= 64:
            raise bad("parts_per_scene", f"{lo},{hi}", "needs 1 <= min <= max <= 64, e.g. 3,6")
        if self.orientation not in ORIENTATIONS:
            raise bad("orientation", self.orientation, f"use one of {', '.join(ORIENTATIONS)}")
        if self.preset not in PRESETS:
            raise bad("preset", self.preset, f"use one of {', '.join(PRESETS)}")
        if self.device not in DEVICES:
            raise bad("device", self.device, f"use one of {', '.join(DEVICES)}")
        if self.workers < 1:
            raise bad("workers", self.workers, "must be at least 1")
        if self.max_scenes_per_worker < 1:
            raise bad("max_scenes_per_worker", self.max_scenes_per_worker, "must be at least 1")
        if self.domain not in DOMAINS:
            raise bad("domain", self.domain, f"use one of {', '.join(DOMAINS)}")
        if self.backgrounds is not None and self.domain == "clean":
            raise bad("backgrounds", self.backgrounds, "needs --domain randomised or shift (clean has a plain table)")
        if self.executor not in EXECUTORS:
            raise bad("executor", self.executor, f"use one of {', '.join(EXECUTORS)}")
        if self.address is not None and self.executor != "ray":
            raise bad("address", self.address, "is a Ray cluster address: use it with --executor ray")
        if self.ldraw_dir is not None and not Path(self.ldraw_dir).expanduser().is_dir():
            raise bad("ldraw_dir", self.ldraw_dir, "is not a directory (the LDraw library holding parts/ and p/)")
        parse_shard(self.shard)
        return self


def parse_shard(text: str) -> tuple[int, int]:
    """Parse "K/N" (0 <= K < N) or raise :class:`LegodataError`."""
    try:
        k_text, n_text = str(text).split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise LegodataError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= k < n):
        raise LegodataError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/4")
    return k, n


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or TOML (.toml) file of render settings into a dict with checked keys."""
    path = Path(path)
    if not path.is_file():
        raise LegodataError(f"config file {path} not found")
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(path.read_text()) or {}
        else:
            raise LegodataError(f"config file {path}: use a .yaml, .yml or .toml file")
    except LegodataError:
        raise
    except Exception as exc:  # YAML/TOML parser errors: keep their whole message (it has the line) on one line
        raise LegodataError(f"config file {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise LegodataError(f"config file {path}: expected a mapping of settings at the top level")
    data = dict(data.get("render", data))  # allow a [render] table or top-level keys
    known = {f.name for f in fields(RenderConfig)}
    for key in list(data):
        norm = key.replace("-", "_")
        if norm not in known:
            raise LegodataError(f"config file {path}: unknown setting {key!r}; known: {', '.join(sorted(known))}")
        data[norm] = data.pop(key)
    if "parts_per_scene" in data:
        data["parts_per_scene"] = parse_range(data["parts_per_scene"], f"config file {path}: parts_per_scene")
    for key in ("parts", "colours"):
        if isinstance(data.get(key), list):
            data[key] = ",".join(str(x) for x in data[key])
    return data


def parse_range(value: Any, what: str) -> tuple[int, int]:
    """ "3,6" / "4" / [3, 6] -> (3, 6) / (4, 4)."""
    try:
        if isinstance(value, (list, tuple)):
            items = [int(v) for v in value]
        else:
            items = [int(v) for v in str(value).split(",")]
        if len(items) == 1:
            return items[0], items[0]
        if len(items) == 2:
            return items[0], items[1]
    except ValueError:
        pass
    raise LegodataError(f"{what} {value!r}: expected MIN,MAX or a single number, e.g. 3,6")


def build_config(file_values: dict[str, Any], cli_values: dict[str, Any]) -> RenderConfig:
    """Defaults < config file < CLI flags (``None`` in ``cli_values`` means "not given")."""
    merged = {**file_values, **{k: v for k, v in cli_values.items() if v is not None}}
    if "out" not in merged:
        raise LegodataError("--out is required (or set 'out' in the config file)")
    cfg = RenderConfig(out=str(merged.pop("out")))
    return replace(cfg, **merged).validate()
