"""What the BOP and COCO exporters share: object ids, meshes, masks, writing a directory in one rename."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.core.atomic import StagedDir
from legodata.core.mesh import Mesh, read_ply
from legodata.core.records import Record
from legodata.errors import LegodataError
from legodata.store.store import Store


def catalogue_of(store: Store) -> dict[str, dict[str, Any]]:
    """The store's catalogue snapshot ``{part_id: {name, kind, mesh_path, symmetry}}``."""
    return dict(store.read_manifest().get("catalogue") or {})


def open_for_export(store: str | Path | Store) -> tuple[Store, dict[str, dict[str, Any]], list[Record], dict[str, int]]:
    """The store, its catalogue, its records (at least one) and the part id -> object/category id map."""
    store = store if isinstance(store, Store) else Store(store)
    catalogue = catalogue_of(store)
    records = list(store.iter_records())
    if not records:
        raise LegodataError(f"{store.root} has no finished scenes to export")
    return store, catalogue, records, object_ids(catalogue, records)


def object_ids(catalogue: dict[str, Any], records: list[Record]) -> dict[str, int]:
    """``{part_id: obj_id}``: 1, 2, ... over the sorted part ids of the catalogue and of every record.

    BOP ``obj_id`` and COCO ``category_id`` are the same number for the same part."""
    parts = set(catalogue) | {inst.part_id for rec in records for inst in rec.instances}
    return {part_id: k for k, part_id in enumerate(sorted(parts), 1)}


class MeshCache:
    """Catalogue meshes (metres, model frame), read once."""

    def __init__(self, store: Store, catalogue: dict[str, Any]) -> None:
        self.store, self.catalogue, self._meshes = store, catalogue, {}

    def path(self, part_id: str) -> Path:
        entry = self.catalogue.get(part_id)
        rel = entry.get("mesh_path") if entry else None
        path = self.store.root / (rel or f"models/{part_id}.ply")
        if not path.is_file():
            raise LegodataError(f"no mesh for part {part_id!r} in {self.store.root} (looked for {path})")
        return path

    def get(self, part_id: str) -> Mesh:
        if part_id not in self._meshes:
            self._meshes[part_id] = read_ply(self.path(part_id))
        return self._meshes[part_id]


def read_instance_mask(store: Store, rec: Record) -> np.ndarray:
    """The record's uint16 instance-id mask (pixel k = instance k)."""
    if rec.mask_path is None:
        raise LegodataError(f"record {rec.record_id} has no mask: BOP and COCO exports need instance masks")
    path = store.root / rec.mask_path
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise LegodataError(f"cannot read mask {path}")
    if mask.ndim == 3:
        mask = mask[..., 0]
    return mask


def copy_image(src: Path, dst: Path) -> None:
    """Copy a PNG as is; re-encode any other image format as PNG."""
    if src.suffix.lower() == ".png":
        shutil.copyfile(src, dst)
        return
    img = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise LegodataError(f"cannot read image {src}")
    cv2.imwrite(str(dst), img)


MARKER = ".legodata-export"
MARKER_TEXT = "written by legodata export; replaced by the next export into this directory\n"


def staged_dir(out: str | Path) -> StagedDir:
    """``with staged_dir(out) as tmp:`` an empty temporary sibling of ``out`` that replaces ``out`` in one rename
    on success (:class:`legodata.core.atomic.StagedDir`).

    An existing ``out`` is replaced only if it is an earlier legodata export (it holds ``.legodata-export``) or
    empty; anything else is an error, so an export never deletes a user's files."""
    return StagedDir(
        out, marker=MARKER, foreign="a legodata export", error=LegodataError, label="tmp", marker_text=MARKER_TEXT
    )
