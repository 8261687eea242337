"""``publish``: local stores -> a Hugging Face dataset folder (parquet shards + card), optionally pushed."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from legodata.errors import LegodataError, require
from legodata.geometry.symmetry import SymmetryGroup
from legodata.publish.pipeline import default_workers, ordered_map
from legodata.publish.rows import CropOptions, part_rows, scene_row, visible_instances
from legodata.publish.stores import Source, SourceRecord, iter_source_records, merged_catalogue, open_sources
from legodata.publish.splits import DEFAULT_RATIOS, SPLITS, GroupSplitCheck, parse_split_ratios, split_of
from legodata.publish.validate import Loaded, load, load_and_check
from legodata.publish.writer import MARKER, OutputFolder, ShardWriter

CONFIGS = ("scenes", "parts")


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


def _progress(items: Iterator, progress: bool, total: int | None, desc: str) -> Iterator:
    if not progress:
        return items
    from tqdm import tqdm

    return iter(tqdm(items, total=total, desc=desc, unit="img"))


def _checked(plan: _Plan, progress: bool) -> Iterator[tuple[SourceRecord, str, Loaded]]:
    """Pass 1: every record checked (files decoded in worker threads), in store order."""

    def check(sr: SourceRecord):
        return sr, split_of(plan.seed, sr.split_key, plan.ratios), load_and_check(sr, plan.catalogue)

    return _progress(ordered_map(check, iter_source_records(plan.sources), plan.workers), progress, None, "checking")


def _rows(plan: _Plan, progress: bool, total: int) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """Pass 2: (split, scenes row, parts rows) per record; crops and PNG encoding in worker threads."""

    def build(sr: SourceRecord):
        loaded = load(sr)
        return (
            split_of(plan.seed, sr.split_key, plan.ratios),
            scene_row(sr.record, loaded, plan.labels),
            part_rows(sr.record, loaded, plan.labels, plan.symmetry, plan.crop),
        )

    return _progress(ordered_map(build, iter_source_records(plan.sources), plan.workers), progress, total, "writing")


def _check_options(crop_size: int, shard_rows: int, min_px: int, crop_margin: float, push: bool, repo_id) -> None:
    if crop_size < 8:
        raise LegodataError(f"--crop-size {crop_size}: must be at least 8 pixels")
    if shard_rows < 1:
        raise LegodataError(f"--shard-rows {shard_rows}: must be at least 1")
    if min_px < 1:
        raise LegodataError(f"--min-px {min_px}: must be at least 1")
    if not 0 <= crop_margin <= 2:
        raise LegodataError(f"--crop-margin {crop_margin}: must be between 0 and 2")
    if push and not repo_id:
        raise LegodataError("--push needs --repo-id USER/NAME")


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
    repo_id: str | None = None,
    push: bool = False,
    split: str | Sequence[float] = DEFAULT_RATIOS,
    seed: int = 0,
    crop_size: int = 128,
    crop_margin: float = 0.1,
    min_px: int = 50,
    shard_rows: int = 1000,
    licence: str = "cc-by-4.0",
    pretty_name: str | None = None,
    tag: str | None = None,
    private: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> PublishSummary:
    """Publish the stores ``sources`` as a dataset folder ``out`` (configs ``scenes`` and ``parts``).

    Every record is checked before anything is written; the folder replaces an earlier ``out`` only when complete.
    With ``push=True`` the folder is then uploaded to ``repo_id`` and tagged (``tag``, default ``v<fingerprint>``).
    """
    import legodata
    from legodata.publish import card as card_mod
    from legodata.publish.features import config_features
    from legodata.publish.preview import PreviewSheet
    from legodata.publish.stats import Stats

    require("datasets", "publish")
    start = time.monotonic()
    ratios = parse_split_ratios(split)
    _check_options(crop_size, shard_rows, min_px, crop_margin, push, repo_id)
    if repo_id:
        from legodata.publish.push import check_repo_id, resolve_token

        check_repo_id(repo_id)
        if push:  # fail before the long part, not after it
            resolve_token(require("huggingface_hub", "publish"))
    srcs = open_sources(list(sources))
    catalogue = merged_catalogue(srcs)
    # round parts: their continuous axis sampled every 10 degrees, as BOP's evaluation does
    groups = {pid: SymmetryGroup.from_json(e["symmetry"]).sampled() for pid, e in catalogue.items()}
    plan = _Plan(
        sources=srcs,
        catalogue=catalogue,
        part_names=list(catalogue),
        symmetry={pid: np.round(g, 12).tolist() for pid, g in groups.items()},
        groups=groups,
        ratios=ratios,
        seed=int(seed),
        crop=CropOptions(size=crop_size, margin=crop_margin, min_px=min_px),
        workers=workers or default_workers(),
        labels={pid: n for n, pid in enumerate(catalogue)},
    )
    out_folder = OutputFolder(out)  # refuses a foreign --out before the long checking pass

    # Pass 1: check every record and count rows (shard counts go into the file names), gather card statistics.
    stats, groups, preview = Stats(), GroupSplitCheck(), PreviewSheet()
    record_ids: set[bytes] = set()
    for sr, split_name, loaded in _checked(plan, progress):
        rec = sr.record
        key = hashlib.blake2b(rec.record_id.encode(), digest_size=12).digest()
        if key in record_ids:
            raise LegodataError(f"store {sr.source.root}: record {rec.record_id}: field record_id: appears twice")
        record_ids.add(key)
        groups.add(rec.group_id, split_name)
        stats.add_record(sr.source.label, split_name, rec.source, len(rec.instances))
        for inst in rec.instances:
            stats.add_instance(inst.part_id)
        for inst in visible_instances(rec, min_px):
            stats.add_part_row(sr.source.label, split_name, inst.part_id, inst.R_m2c, plan.groups[inst.part_id])
        preview.offer(rec.group_id, loaded.image_bgr, loaded.mask)
    n_records = sum(stats.records.values())
    if n_records == 0:
        raise LegodataError(f"nothing to publish: {', '.join(str(s.root) for s in srcs)} hold no finished scenes")
    record_ids.clear()

    features = {c: config_features(c, plan.part_names) for c in CONFIGS}
    totals = {c: stats.split_counts(c) for c in CONFIGS}
    with out_folder as tmp:
        # Pass 2: write the shards.
        writers = {
            (c, s): ShardWriter(tmp, c, s, features[c], totals[c][s], shard_rows)
            for c in CONFIGS
            for s in SPLITS
            if totals[c][s] > 0
        }
        try:
            for split_name, scene, parts in _rows(plan, progress, n_records):
                writers[("scenes", split_name)].add(scene)
                for row in parts:
                    writers[("parts", split_name)].add(row)
            files = {key: w.close() for key, w in writers.items()}
        finally:
            for w in writers.values():
                w.abort()

        split_info = {
            c: {
                s: {
                    "num_examples": totals[c][s],
                    "num_bytes": sum(p.stat().st_size for p in files.get((c, s), [])),
                }
                for s in SPLITS
            }
            for c in CONFIGS
        }
        has_preview = preview.write(tmp / "preview.png")
        name = pretty_name or (repo_id.split("/")[1] if repo_id else Path(out).name) or "legodata dataset"
        header = card_mod.yaml_header(licence, name, features, split_info)
        readme = card_mod.render_card(
            header=header,
            pretty_name=name,
            repo_id=repo_id,
            stats=stats,
            sources=srcs,
            catalogue=catalogue,
            groups_per_split={s: groups.groups(s) for s in SPLITS},
            ratios=ratios,
            seed=plan.seed,
            crop=plan.crop,
            licence=licence,
            preview_caption=(
                f"{len(preview.tiles)} images, one per group, instance masks overlaid" if has_preview else "no preview"
            ),
            legodata_version=legodata.__version__,
        )
        (tmp / "README.md").write_text(readme, encoding="utf-8")
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
                {"label": s.label, "source": s.manifest.get("source"), "seed": s.manifest.get("seed")} for s in srcs
            ],
            "options": {
                "split": list(ratios),
                "seed": plan.seed,
                "crop_size": crop_size,
                "crop_margin": crop_margin,
                "min_px": min_px,
                "shard_rows": shard_rows,
                "licence": licence,
            },
            "rows": totals,
            "files": checksums,
        }
        (tmp / MARKER).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    out_path = Path(out)
    pushed = None
    if push:
        from legodata.publish.push import push_folder

        pushed = push_folder(out_path, repo_id, tag or f"v{fp[:12]}", private=private)
    return PublishSummary(
        out=out_path,
        stores=tuple(str(s.root) for s in srcs),
        records=n_records,
        instances=sum(stats.instances.values()),
        part_rows=sum(stats.part_rows.values()),
        rows=totals,
        shards=sum(len(v) for v in files.values()),
        bytes=sum(v["bytes"] for v in checksums.values()),
        wall_s=time.monotonic() - start,
        fingerprint=fp,
        pushed=pushed,
    )
