"""Move a store of the flat layout (``scenes/<id>/``) into chunked scene folders (``scenes/<chunk>/<id>/``).

One command, safe to run again after an interruption (it carries on where it stopped)::

    legodata migrate STORE

Each scene is moved in one rename, with every store path its records carry (image, mask, depth, extra paths and
paths inside ``meta`` such as an assembly step's manual page) re-pointed from ``scenes/<id>/`` to
``scenes/<chunk>/<id>/``; specs move to ``specs/<chunk>/``; the manifest gets ``store_layout`` and the record index
is rebuilt with its table. While the scenes wait in ``STORE/.scenes-flat/`` every other command refuses the store.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from legodata.core.atomic import atomic_write_text
from legodata.errors import LegodataError
from legodata.store import layout as lay
from legodata.store.store import MANIFEST, MIGRATING, SCENE_RECORDS, Store

logger = logging.getLogger(__name__)


def repoint(value: Any, old: str, new: str) -> Any:
    """``value`` (a record's JSON, any nesting) with every string under ``old/`` moved under ``new/``. Strings
    already under ``new/`` are left alone, so applying it twice changes nothing."""
    if isinstance(value, str):
        if value.startswith(new + "/") or not value.startswith(old + "/"):
            return value
        return new + value[len(old) :]
    if isinstance(value, dict):
        return {k: repoint(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [repoint(v, old, new) for v in value]
    return value


def _move_scene(root: Path, src: Path) -> None:
    scene_id = src.name
    old, new = lay.scene_rel(scene_id, lay.FLAT), lay.scene_rel(scene_id)
    lines = (src / SCENE_RECORDS).read_text().splitlines()
    moved = [json.dumps(repoint(json.loads(line), old, new), sort_keys=True, separators=(",", ":")) for line in lines]
    atomic_write_text(src / SCENE_RECORDS, "".join(line + "\n" for line in moved if line.strip()))
    target = root / new
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, target)
    spec = root / "specs" / f"{scene_id}.json"
    if spec.is_file():
        (root / "specs" / lay.scene_chunk(scene_id)).mkdir(parents=True, exist_ok=True)
        os.replace(spec, root / "specs" / lay.scene_chunk(scene_id) / spec.name)


def migrate(root: str | Path) -> int:
    """Migrate the flat store at ``root`` to chunked scene folders (see the module doc). Returns the number of
    scenes moved (0 if the store was chunked already)."""
    root = Path(root)
    staging = root / MIGRATING
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise LegodataError(f"{root} is not a legodata dataset (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get(lay.LAYOUT_KEY) == lay.CHUNKED and not staging.exists():
        return 0
    if not staging.exists():
        if (root / "scenes").exists():
            os.replace(root / "scenes", staging)
        else:
            staging.mkdir()
        (root / "scenes").mkdir()
    moved = 0
    for src in sorted(staging.iterdir()):
        if not (src / SCENE_RECORDS).is_file():
            logger.warning("%s has no %s: an unfinished scene, removed", src, SCENE_RECORDS)
            shutil.rmtree(src)
            continue
        _move_scene(root, src)
        moved += 1
    atomic_write_text(manifest_path, json.dumps({**manifest, lay.LAYOUT_KEY: lay.CHUNKED}, indent=1, sort_keys=True))
    staging.rmdir()
    Store(root).rebuild_index()
    logger.info("migrated %d scenes of %s to chunked folders", moved, root)
    return moved
