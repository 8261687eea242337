"""``publish``: local stores -> a Hugging Face dataset folder (parquet shards + card), optionally pushed."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from legodata.errors import LegodataError, require
from legodata.geometry.symmetry import SymmetryGroup
from legodata.publish.config import PublishConfig
from legodata.publish.extra import EXTRA_CONFIGS, extra_features, extra_rows
from legodata.publish.pipeline import default_workers, ordered_map
from legodata.publish.rows import CropOptions, depth_bytes, part_rows, scene_row, visible_instances
from legodata.publish.splits import SPLITS, GroupSplitCheck, split_of
from legodata.publish.stores import Source, SourceRecord, iter_source_records, merged_catalogue, open_sources
from legodata.publish.validate import Loaded, load, load_and_check
from legodata.publish.writer import MARKER, OutputFolder, ShardWriter

logger = logging.getLogger(__name__)

CONFIGS = ("scenes", "parts")
SEEDS_TRIED = 1000  # an empty split: the warning names the first seed in 0..SEEDS_TRIED-1 that fills every split

_DEFAULTS = PublishConfig()


@dataclass(frozen=True)
class PublishSummary:
    out: Path
    stores: tuple[str, ...]
    records: int
    instances: int
    part_rows: int
    rows: dict[str, dict[str, int]]  # config -> split -> rows
    shards: int
    bytes: int
    wall_s: float
    fingerprint: str  # sha256 over the shard checksums and the card: same inputs and options, same value
    pushed: str | None = None  # "<repo url>@<tag>" after --push

    @property
    def rows_per_s(self) -> float:
        return (self.records + self.part_rows) / self.wall_s if self.wall_s > 0 else float("nan")


@dataclass(frozen=True)
class _Plan:
    config: PublishConfig
    sources: list[Source]
    catalogue: dict[str, dict[str, Any]]
    part_names: list[str]
    symmetry: dict[str, list]
    groups: dict[str, np.ndarray]
    ratios: tuple[float, float, float]
    seed: int
    crop: CropOptions
    workers: int
    labels: dict[str, int]  # part id -> ClassLabel index


def _zero_counts(configs: Sequence[str]) -> dict[str, dict[str, int]]:
    return {c: dict.fromkeys(SPLITS, 0) for c in configs}


@dataclass
class _Checked:
    """What pass 1 learnt: card statistics, the split of every group, a preview, the row counts."""

    stats: Any  # legodata.publish.stats.Stats
    groups: GroupSplitCheck
    preview: Any  # legodata.publish.preview.PreviewSheet
    split_keys: set[str] = field(default_factory=set)  # the groups, as the split sees them
    depth_images: int = 0
    maskless: int = 0  # records without a mask: no scenes/parts rows
    extra: dict[str, dict[str, int]] = field(default_factory=lambda: _zero_counts(EXTRA_CONFIGS))

    @property
    def records(self) -> int:
        return sum(self.stats.records.values())

    def totals(self) -> dict[str, dict[str, int]]:
        """Rows per config and split: ``scenes``, ``parts``, and every extra config that has a row."""
        base = {c: self.stats.split_counts(c) for c in CONFIGS}
        return {c: n for c, n in (base | self.extra).items() if sum(n.values()) or (c in CONFIGS and not self.maskless)}


def _progress(items: Iterator, progress: bool, total: int | None, desc: str) -> Iterator:
    if not progress:
        return items
    from tqdm import tqdm

    return iter(tqdm(items, total=total, desc=desc, unit="img"))


def _checked(plan: _Plan, progress: bool) -> Iterator[tuple[SourceRecord, str, Loaded, bool]]:
    """Pass 1: every record checked (files decoded in worker threads), in store order."""

    def check(sr: SourceRecord):
        loaded = load_and_check(sr, plan.catalogue)
        has_depth = depth_bytes(sr, check=True) is not None
        extra = {c: len(r) for c, r in extra_rows(sr.record, sr.source.root, plan.symmetry, images=False).items()}
        return sr, split_of(plan.seed, sr.split_key, plan.ratios), loaded, has_depth, extra

    return _progress(ordered_map(check, iter_source_records(plan.sources), plan.workers), progress, None, "checking")


def _rows(plan: _Plan, progress: bool, total: int) -> Iterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
    """Pass 2: (split, {config: rows}) per record; crops and PNG encoding in worker threads."""

    def build(sr: SourceRecord):
        rows: dict[str, list[dict[str, Any]]] = {}
        if sr.record.mask_path is not None:
            loaded = load(sr)
            rows["scenes"] = [scene_row(sr.record, loaded, plan.labels, depth_bytes(sr))]
            rows["parts"] = part_rows(sr.record, loaded, plan.labels, plan.symmetry, plan.crop)
        rows.update(extra_rows(sr.record, sr.source.root, plan.symmetry, images=True))
        return split_of(plan.seed, sr.split_key, plan.ratios), rows

    return _progress(ordered_map(build, iter_source_records(plan.sources), plan.workers), progress, total, "writing")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def publish(
    sources: Sequence[str | Path],
    out: str | Path,
    *,
    repo_id: str | None = _DEFAULTS.repo_id,
    push: bool = _DEFAULTS.push,
    split: str | Sequence[float] = _DEFAULTS.split,
    seed: int = _DEFAULTS.seed,
    crop_size: int = _DEFAULTS.crop_size,
    crop_margin: float = _DEFAULTS.crop_margin,
    min_px: int = _DEFAULTS.min_px,
    shard_size: str | int = _DEFAULTS.shard_size,
    shard_rows: int | None = _DEFAULTS.shard_rows,
    licence: str = _DEFAULTS.licence,
    pretty_name: str | None = _DEFAULTS.pretty_name,
    tag: str | None = _DEFAULTS.tag,
    private: bool = _DEFAULTS.private,
    workers: int | None = _DEFAULTS.workers,
    progress: bool = False,
) -> PublishSummary:
    """Publish the stores ``sources`` as a dataset folder ``out`` (configs ``scenes`` and ``parts``).

    The settings are those of :class:`legodata.publish.config.PublishConfig` (its defaults are these defaults).
    Every record is checked before anything is written; the folder replaces an earlier ``out`` only when complete.
    With ``push=True`` the folder is then uploaded to ``repo_id`` and tagged (``tag``, default ``v<fingerprint>``).
    """
    cfg = PublishConfig(
        repo_id=repo_id, push=push, split=split if isinstance(split, str) else tuple(split), seed=seed,
        crop_size=crop_size, crop_margin=crop_margin, min_px=min_px, shard_size=shard_size, shard_rows=shard_rows,
        licence=licence, pretty_name=pretty_name, tag=tag, private=private, workers=workers,
    )  # fmt: skip
    return publish_config(sources, out, cfg, progress=progress)


def publish_config(
    sources: Sequence[str | Path], out: str | Path, cfg: PublishConfig, progress: bool = False
) -> PublishSummary:
    """:func:`publish` with its settings as one :class:`PublishConfig`."""
    require("datasets", "publish")
    start = time.monotonic()
    cfg = cfg.validate()
    if cfg.repo_id:
        from legodata.publish.push import check_repo_id, resolve_token

        check_repo_id(cfg.repo_id)
        if cfg.push:  # fail before the long part, not after it
            resolve_token(require("huggingface_hub", "publish"))
    plan = _plan(sources, cfg)
    out_folder = OutputFolder(out)  # refuses a foreign --out before the long checking pass
    checked = _check_all(plan, progress)
    _warn_empty_splits(plan, checked)
    with out_folder as tmp:
        files = _write_shards(tmp, plan, checked, progress)
        readme = _write_card(tmp, plan, checked, files, Path(out).name)
        checksums, fp = _write_marker(tmp, plan, checked, files, readme)
    out_path = Path(out)
    pushed = None
    if cfg.push:
        from legodata.publish.push import push_folder

        pushed = push_folder(out_path, cfg.repo_id, cfg.tag or f"v{fp[:12]}", private=cfg.private)
    return PublishSummary(
        out=out_path,
        stores=tuple(str(s.root) for s in plan.sources),
        records=checked.records,
        instances=sum(checked.stats.instances.values()),
        part_rows=sum(checked.stats.part_rows.values()),
        rows=checked.totals(),
        shards=sum(len(v) for v in files.values()),
        bytes=sum(v["bytes"] for v in checksums.values()),
        wall_s=time.monotonic() - start,
        fingerprint=fp,
        pushed=pushed,
    )


def _plan(sources: Sequence[str | Path], cfg: PublishConfig) -> _Plan:
    """Open the stores, merge their catalogues, sample the symmetry groups of round parts."""
    srcs = open_sources(list(sources))
    catalogue = merged_catalogue(srcs)
    # round parts: their continuous axis sampled every 10 degrees, as BOP's evaluation does
    groups = {pid: SymmetryGroup.from_json(e["symmetry"]).sampled() for pid, e in catalogue.items()}
    return _Plan(
        config=cfg,
        sources=srcs,
        catalogue=catalogue,
        part_names=list(catalogue),
        symmetry={pid: np.round(g, 12).tolist() for pid, g in groups.items()},
        groups=groups,
        ratios=cfg.ratios,
        seed=int(cfg.seed),
        crop=CropOptions(size=cfg.crop_size, margin=cfg.crop_margin, min_px=cfg.min_px),
        workers=cfg.workers or default_workers(),
        labels={pid: n for n, pid in enumerate(catalogue)},
    )


def _check_all(plan: _Plan, progress: bool) -> _Checked:
    """Pass 1: check every record and count rows (shard counts go into the file names), gather card statistics."""
    from legodata.publish.preview import PreviewSheet
    from legodata.publish.stats import Stats

    checked = _Checked(Stats(), GroupSplitCheck(), PreviewSheet())
    stats, min_px = checked.stats, plan.crop.min_px
    record_ids: set[bytes] = set()
    for sr, split_name, loaded, has_depth, extra in _checked(plan, progress):
        rec = sr.record
        key = hashlib.blake2b(rec.record_id.encode(), digest_size=12).digest()
        if key in record_ids:
            raise LegodataError(f"store {sr.source.root}: record {rec.record_id}: field record_id: appears twice")
        record_ids.add(key)
        checked.groups.add(rec.group_id, split_name)
        checked.split_keys.add(sr.split_key)
        for config, n in extra.items():
            checked.extra[config][split_name] += n
        if loaded.mask is None:
            checked.maskless += 1
            continue
        checked.depth_images += has_depth
        stats.add_record(sr.source.label, split_name, rec.source, len(rec.instances))
        for inst in rec.instances:
            stats.add_instance(inst.part_id)
        for inst in visible_instances(rec, min_px):
            stats.add_part_row(sr.source.label, split_name, inst.part_id, inst.R_m2c, plan.groups[inst.part_id])
        checked.preview.offer(rec.group_id, loaded.image_bgr, loaded.mask)
    if checked.maskless:
        logger.warning(
            "%d records have no instance mask: they are in the %s configs only, not in scenes or parts",
            checked.maskless,
            "/".join(EXTRA_CONFIGS),
        )
    if checked.records == 0 and not any(sum(n.values()) for n in checked.extra.values()):
        stores = ", ".join(str(s.root) for s in plan.sources)
        raise LegodataError(f"nothing to publish: {stores} hold no finished scenes")
    return checked


def _warn_empty_splits(plan: _Plan, checked: _Checked) -> None:
    """One warning line when a split with a non-zero ratio got no group, naming a --split/--seed that fills it."""
    wanted = [s for s, r in zip(SPLITS, plan.ratios) if r > 0]
    empty = [s for s in wanted if checked.groups.groups(s) == 0]
    if not empty:
        return
    n = sum(checked.groups.groups(s) for s in SPLITS)
    given = f"--split {','.join(f'{r:g}' for r in plan.ratios)} --seed {plan.seed}"
    head = f"{' and '.join(empty)} got none of the {n} groups ({given})"
    if len(checked.split_keys) < len(wanted):
        hint = f"{len(wanted)} splits need at least {len(wanted)} groups; publish more or give fewer splits a ratio"
    else:
        seed = fill_seed(sorted(checked.split_keys), plan.ratios, len(wanted))
        if seed is not None:
            hint = f"--seed {seed} puts a group in every split with these ratios"
        else:
            smallest = min(r for r in plan.ratios if r > 0)
            hint = (
                f"no seed in 0..{SEEDS_TRIED - 1} fills every split; a ratio of {smallest:g} expects a group only "
                f"from about {math.ceil(1 / smallest)} groups on: raise it or publish more groups"
            )
    logger.warning("%s: %s", head, hint)


def fill_seed(split_keys: list[str], ratios: tuple[float, float, float], n_splits: int) -> int | None:
    """The first seed in ``0..SEEDS_TRIED-1`` with which ``split_keys`` cover every split of non-zero ratio."""
    for seed in range(SEEDS_TRIED):
        if len({split_of(seed, key, ratios) for key in split_keys}) == n_splits:
            return seed
    return None


def _write_shards(tmp: Path, plan: _Plan, checked: _Checked, progress: bool) -> dict[tuple[str, str], list[Path]]:
    """Pass 2: the parquet shards of every (config, split) with rows."""
    totals = checked.totals()
    features = _features(plan, totals)
    writers = {
        (c, s): ShardWriter(tmp, c, s, features[c], totals[c][s], plan.config.shard_rows, plan.config.shard_bytes)
        for c in totals
        for s in SPLITS
        if totals[c][s] > 0
    }
    try:
        for split_name, rows in _rows(plan, progress, checked.records + checked.maskless):
            for config, config_rows in rows.items():
                for row in config_rows:
                    writers[(config, split_name)].add(row)
        return {key: w.close() for key, w in writers.items()}
    finally:
        for w in writers.values():
            w.abort()


def _features(plan: _Plan, totals: dict[str, dict[str, int]]) -> dict[str, Any]:
    """``datasets.Features`` of every config in ``totals``."""
    from legodata.publish.features import config_features

    return {c: config_features(c, plan.part_names) if c in CONFIGS else extra_features(c) for c in totals}


def _write_card(tmp: Path, plan: _Plan, checked: _Checked, files: dict, folder_name: str) -> str:
    """README.md (YAML header + the template) and preview.png; returns the README text."""
    import legodata
    from legodata.publish import card as card_mod

    cfg, totals = plan.config, checked.totals()
    split_info = {
        c: {
            s: {"num_examples": totals[c][s], "num_bytes": sum(p.stat().st_size for p in files.get((c, s), []))}
            for s in SPLITS
        }
        for c in totals
    }
    has_preview = checked.preview.write(tmp / "preview.png")
    name = cfg.pretty_name or (cfg.repo_id.split("/")[1] if cfg.repo_id else folder_name) or "legodata dataset"
    features = _features(plan, totals)
    n_tiles = len(checked.preview.tiles)
    readme = card_mod.render_card(
        header=card_mod.yaml_header(cfg.licence, name, features, split_info),
        pretty_name=name,
        repo_id=cfg.repo_id,
        stats=checked.stats,
        sources=plan.sources,
        catalogue=plan.catalogue,
        groups_per_split={s: checked.groups.groups(s) for s in SPLITS},
        ratios=plan.ratios,
        seed=plan.seed,
        crop=plan.crop,
        licence=cfg.licence,
        preview_caption=f"{n_tiles} images, one per group, instance masks overlaid" if has_preview else "no preview",
        legodata_version=legodata.__version__,
        depth_images=checked.depth_images,
        extra_rows={c: sum(n.values()) for c, n in totals.items() if c not in CONFIGS},
    )
    (tmp / "README.md").write_text(readme, encoding="utf-8")
    return readme


def _write_marker(tmp: Path, plan: _Plan, checked: _Checked, files: dict, readme: str) -> tuple[dict, str]:
    """publish.json (options, row counts, shard checksums); returns the checksums and the fingerprint."""
    import legodata

    checksums = {
        str(p.relative_to(tmp)): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for paths in files.values()
        for p in paths
    }
    fp = hashlib.sha256(json.dumps([checksums, readme], sort_keys=True).encode()).hexdigest()
    info = {
        "legodata_version": legodata.__version__,
        "fingerprint": fp,
        "stores": [
            {"label": s.label, "source": s.manifest.get("source"), "seed": s.manifest.get("seed")} for s in plan.sources
        ],
        "options": plan.config.options(),
        "rows": checked.totals(),
        "files": checksums,
    }
    (tmp / MARKER).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return checksums, fp
