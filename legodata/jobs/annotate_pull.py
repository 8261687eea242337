"""``annotate pull``: a project's annotations -> records in a store that publishes and trains like a rendered one.

A job like ``import-log``: it sits above the sources (``legodata.annotate.convert`` is the label_studio source's
code path) and hands records to the store.

The store is the only writer of records: each touched group (a photo, a session or a source scene) is rebuilt in a
temporary directory -- the group's earlier files, the photo copied in (the store is self-contained), one uint16 mask
per record -- and committed with ``Store.commit_scene`` in one rename.

Idempotent by annotation id: an annotation already pulled (same id, same ``updated_at``) is skipped, an edited one
replaces its record. Annotations that cannot become records go to ``STORE/rejected.jsonl`` with the reason (one line
each, the current state: a fixed annotation leaves it). Agreement between annotators of the same task is written into
both records' ``meta.agreement``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from legodata.annotate import checks
from legodata.annotate.configs import parse_config, project_meta
from legodata.annotate.convert import SOURCE, Context, Converted, Rejected, convert_export
from legodata.core.records import SCHEMA_VERSION, Record
from legodata.errors import LegodataError

logger = logging.getLogger(__name__)

REJECTED = "rejected.jsonl"


@dataclass
class PullSummary:
    store: str
    annotations: int = 0  # in the export
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # newly rejected in this pull
    rejected_total: int = 0
    flagged_low_iou: int = 0
    disagreements: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    rotation_errors_px: list[float] = field(default_factory=list)


def manifest(project: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a store of labelled photos: the project's parts with their symmetry groups."""
    from legodata.jobs.manifest import CONVENTIONS, package_versions
    from legodata.parts.catalogue import get_part

    catalogue = {}
    for pid in meta["parts"]:
        part = get_part(pid, meta.get("ldraw_dir"))
        catalogue[pid] = {
            "name": part.info.name,
            "kind": part.info.kind,
            "mesh_path": f"models/{pid}.ply",
            "symmetry": part.symmetry.to_json(),
        }
    conventions = dict(CONVENTIONS)
    conventions["splits"] = "by group_id (a photo, an annotation session or the source scene), never by image"
    conventions["colour"] = "colour_code -1: nobody said the part's colour"
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "legodata-store",
        "source": SOURCE,
        "settings": {"project": project, "kind": meta["kind"], "parts": ",".join(meta["parts"])},
        "seed": 0,
        "catalogue": catalogue,
        "colours": [],
        "conventions": conventions,
        "versions": package_versions(),
    }


def pull(
    project: str,
    out: str | Path,
    *,
    url: str | None = None,
    client=None,
    max_reproj_px: float = 10.0,
    low_iou: float = checks.LOW_IOU,
) -> PullSummary:
    """Export ``project`` and write its annotations into the store ``out`` (see the module doc)."""
    from legodata.annotate.client import connect, export_json, find_project, user_emails

    client = client or connect(url)
    proj = find_project(client, project)
    meta = project_meta(proj.description, project)
    ctx = Context(
        kind=meta["kind"],
        config=parse_config(proj.label_config),
        parts=tuple(meta["parts"]),
        project_id=int(proj.id),
        project=project,
        ldraw_dir=meta.get("ldraw_dir"),
        users=user_emails(client),
        max_reproj_px=max_reproj_px,
        low_iou=low_iou,
    )
    return write_store(export_json(client, int(proj.id)), ctx, out, meta)


def write_store(tasks: list[dict], ctx: Context, out: str | Path, meta: dict[str, Any]) -> PullSummary:
    """The store side of :func:`pull`: convert an export and commit the touched groups (also used by the bench)."""
    from legodata.store.store import Store

    store = Store(out)
    store.create_or_check(manifest(ctx.project, meta))
    _write_models(store, meta)
    summary = PullSummary(str(store.root))
    summary.annotations = sum(len(t.get("annotations") or []) for t in tasks)
    with _lock(store.root):
        done = _pulled(store)  # annotation id -> (record id, group, updated_at)
        rejected = _read_rejected(store.root)

        def skip(ann_id: int, updated: str) -> bool:
            same = (ann_id in done and done[ann_id][2] == updated) or (
                ann_id in rejected and rejected[ann_id].get("updated_at") == updated
            )
            summary.unchanged += same
            return same

        groups: dict[str, _Group] = {}  # touched groups, built in their temporary directories as items arrive

        def group(name: str) -> _Group:
            if name not in groups:
                groups[name] = _Group(store, name)
            return groups[name]

        for item in convert_export(tasks, ctx, skip):
            old = done.get(item.annotation_id)
            if old is not None:
                group(old[1]).drop(old[0])
            if isinstance(item, Rejected):
                rejected[item.annotation_id] = item.to_json()
                summary.rejected += 1
                key = item.reason.split(":")[0][:80]
                summary.reasons[key] = summary.reasons.get(key, 0) + 1
                continue
            if not item.photo.is_file():
                reason = f"the photo {item.photo} is not on this machine"
                rej = Rejected(item.annotation_id, int(item.record.meta["task_id"]), item.updated_at, reason)
                rejected[item.annotation_id] = rej.to_json()
                summary.rejected += 1
                continue
            rejected.pop(item.annotation_id, None)
            group(item.record.group_id).add(item)  # files written now: no mask is held in memory
            if old is None:
                summary.added += 1
            else:
                summary.updated += 1
        symmetries = _symmetries(store)
        for name in sorted(groups):
            groups[name].commit(symmetries, summary)
        _write_rejected(store.root, rejected)
        summary.rejected_total = len(rejected)
        store.sync_index()
    return summary


def _symmetries(store) -> dict[str, np.ndarray]:
    from legodata.geometry.symmetry import SymmetryGroup

    catalogue = store.read_manifest().get("catalogue", {})
    return {pid: SymmetryGroup.from_json(e["symmetry"]).sampled() for pid, e in catalogue.items()}


def _write_models(store, meta: dict[str, Any]) -> None:
    from legodata.core.mesh import write_ply
    from legodata.parts.catalogue import get_part

    for pid in meta["parts"]:
        path = store.root / "models" / f"{pid}.ply"
        if not path.exists():
            write_ply(get_part(pid, meta.get("ldraw_dir")).mesh, path)


@contextlib.contextmanager
def _lock(root: Path):
    import fcntl

    with open(root / ".pull.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LegodataError(f"another `annotate pull` is writing {root}: wait for it") from None
        yield


def _pulled(store) -> dict[int, tuple[str, str, str]]:
    out = {}
    for rec in store.iter_records():
        if rec.source == SOURCE and "annotation_id" in rec.meta:
            out[int(rec.meta["annotation_id"])] = (rec.record_id, rec.group_id, rec.meta.get("annotation_updated_at"))
    return out


def _read_rejected(root: Path) -> dict[int, dict]:
    path = root / REJECTED
    out: dict[int, dict] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                out[int(d["annotation_id"])] = d
    return out


def _write_rejected(root: Path, rejected: dict[int, dict]) -> None:
    from legodata.core.atomic import atomic_write_text

    lines = [json.dumps(rejected[k], sort_keys=True) for k in sorted(rejected)]
    atomic_write_text(root / REJECTED, "".join(line + "\n" for line in lines))


class _Group:
    """One group being rebuilt: its committed files copied into a temporary directory, new photos and masks written
    there as annotations arrive, records kept (small); :meth:`commit` swaps it in with ``Store.commit_scene``."""

    def __init__(self, store, name: str) -> None:
        from legodata.store.store import SCENE_RECORDS

        self.store, self.name = store, name
        self.tmp = store.new_tmp_dir(name)
        self.records: dict[str, Record] = {}
        self.new: list[Record] = []
        current = store.scene_dir(name)
        if current.is_dir():
            shutil.copytree(current, self.tmp, dirs_exist_ok=True)
            (self.tmp / SCENE_RECORDS).unlink(missing_ok=True)
            for line in (current / SCENE_RECORDS).read_text().splitlines():
                if line.strip():
                    rec = Record.from_json(line)
                    self.records[rec.record_id] = rec
        (self.tmp / "rgb").mkdir(exist_ok=True)
        (self.tmp / "mask").mkdir(exist_ok=True)

    def drop(self, record_id: str) -> None:
        if self.records.pop(record_id, None) is not None:
            (self.tmp / "mask" / f"{record_id}.png").unlink(missing_ok=True)

    def add(self, item: Converted) -> None:
        import cv2

        target = self.tmp / "rgb" / Path(item.record.image_path).name
        if not target.exists():
            shutil.copy2(item.photo, target)
        if not cv2.imwrite(str(self.tmp / "mask" / f"{item.record.record_id}.png"), item.mask.astype(np.uint16)):
            raise LegodataError(f"cannot write the mask of {item.record.record_id} into {self.tmp}")
        self.records[item.record.record_id] = item.record
        self.new.append(item.record)

    def commit(self, symmetries, summary: PullSummary) -> None:
        records = _with_agreement(self.tmp, self.records, symmetries, summary)
        used = {Path(r.image_path).name for r in records.values()}
        for f in (self.tmp / "rgb").iterdir():  # photos no record uses any more (their annotations were edited away)
            if f.name not in used:
                f.unlink()
        for rec in self.new:
            if "low_iou" in rec.meta.get("flags", []):
                summary.flagged_low_iou += 1
            if "reprojection_error_px" in rec.meta:
                summary.rotation_errors_px.append(float(rec.meta["reprojection_error_px"]))
        self.store.commit_scene(self.tmp, self.name, [records[k] for k in sorted(records, key=_record_order)])


def _record_order(record_id: str):
    head, _, tail = record_id.rpartition("-")
    return (head, int(tail)) if tail.isdigit() else (record_id, 0)


def _with_agreement(tmp: Path, records: dict[str, Record], symmetries: dict[str, np.ndarray], summary: PullSummary):
    """Records of the same task (same photo and part) compared pairwise; the result goes into their meta."""
    import cv2

    by_task: dict[str, list[Record]] = defaultdict(list)
    for rec in records.values():
        by_task[str(rec.meta.get("task_key", ""))].append(rec)
    out = dict(records)
    for key, recs in by_task.items():
        if not key or len(recs) < 2:
            for rec in recs:
                if "agreement" in rec.meta:
                    out[rec.record_id] = replace(rec, meta={k: v for k, v in rec.meta.items() if k != "agreement"})
            continue
        masks = {
            r.record_id: cv2.imread(str(tmp / "mask" / f"{r.record_id}.png"), cv2.IMREAD_UNCHANGED) > 0 for r in recs
        }
        pairs: dict[str, list[dict]] = defaultdict(list)
        for i, a in enumerate(recs):
            for b in recs[i + 1 :]:
                ia, ib = a.instances[0], b.instances[0]
                if ia.part_id != ib.part_id:
                    entry = {"records": [a.record_id, b.record_id], "flagged": True, "problem": "different parts"}
                else:
                    sym = symmetries.get(ia.part_id, np.eye(3)[None])
                    ag = checks.agreement(a.record_id, ia.R_m2c, masks[a.record_id], b.record_id, ib.R_m2c,
                                          masks[b.record_id], sym)  # fmt: skip
                    entry = ag.to_json()
                if entry["flagged"]:
                    summary.disagreements += 1
                pairs[a.record_id].append(entry)
                pairs[b.record_id].append(entry)
        for rec in recs:
            out[rec.record_id] = replace(rec, meta={**rec.meta, "agreement": pairs[rec.record_id]})
    return out
