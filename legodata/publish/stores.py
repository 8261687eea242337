"""The stores being published: their manifests, one merged part catalogue, and records with unique ids."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from legodata.core.records import Record
from legodata.errors import LegodataError
from legodata.store.store import Store


@dataclass(frozen=True)
class Source:
    """One store. ``label`` prefixes record and group ids when several stores are published together."""

    store: Store
    label: str
    manifest: dict[str, Any]

    @property
    def root(self) -> Path:
        return self.store.root


@dataclass(frozen=True)
class SourceRecord:
    """A record with dataset-wide ``record_id``/``group_id``; ``split_key`` is the store's own group id."""

    source: Source
    record: Record
    split_key: str


def open_sources(paths: list[str | Path]) -> list[Source]:
    """Open every store (a clear error for a missing or foreign directory, or one named twice)."""
    if not paths:
        raise LegodataError("name at least one store to publish (a directory made by `legodata render`)")
    sources: list[Source] = []
    seen_roots: set[Path] = set()
    labels: set[str] = set()
    for path in paths:
        store = Store(path)
        root = store.root.resolve()
        if root in seen_roots:
            raise LegodataError(f"store {path} is named twice")
        seen_roots.add(root)
        manifest = store.read_manifest()
        label, n = root.name or "store", 1
        while label in labels:
            n += 1
            label = f"{root.name}-{n}"
        labels.add(label)
        sources.append(Source(store, label, manifest))
    return sources


def merged_catalogue(sources: list[Source]) -> dict[str, dict[str, Any]]:
    """The union of the manifests' catalogues; a part listed twice must have the same symmetry group."""
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for src in sources:
        for pid, entry in (src.manifest.get("catalogue") or {}).items():
            if "symmetry" not in entry or "rotations" not in entry["symmetry"]:
                raise LegodataError(f"{src.root}: manifest catalogue entry {pid!r} has no symmetry rotations")
            if pid in merged:
                a = np.asarray(merged[pid]["symmetry"]["rotations"], float)
                b = np.asarray(entry["symmetry"]["rotations"], float)
                if a.shape != b.shape or not np.allclose(a, b, atol=1e-6):
                    raise LegodataError(
                        f"part {pid!r} has different symmetry groups in {origin[pid]} and {src.root}: "
                        "publish stores made with the same catalogue"
                    )
                continue
            merged[pid] = entry
            origin[pid] = src.root
    if not merged:
        raise LegodataError(f"{sources[0].root}: the manifest has no part catalogue")
    return dict(sorted(merged.items()))


def iter_source_records(sources: list[Source]) -> Iterator[SourceRecord]:
    """Every record of every store in order; ids are prefixed ``label/`` when there are several stores."""
    prefix = len(sources) > 1
    for src in sources:
        for rec in src.store.iter_records():
            split_key = rec.group_id
            if prefix:
                rec = replace(rec, record_id=f"{src.label}/{rec.record_id}", group_id=f"{src.label}/{rec.group_id}")
            yield SourceRecord(src, rec, split_key)
