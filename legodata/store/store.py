"""The local dataset directory: manifest, records, images, masks, depth, specs, models.

Layout (``store_layout: chunked-1000`` in the manifest; the chunk rule is :mod:`legodata.store.layout`)::

    ROOT/manifest.json                 schema version, settings, seed, catalogue snapshot, conventions, versions
    ROOT/records.jsonl                 index of all records, one scene block appended per finished scene
    ROOT/records.toc.jsonl             the index's table: one line per block (scene id, byte range, record count)
    ROOT/.index/                       the index's lock, pending markers, dirty marker (legodata.store.index)
    ROOT/models/<part>.ply             part meshes, model frame, metres
    ROOT/specs/<chunk>/<scene>.json    scene specs, written before rendering
    ROOT/scenes/<chunk>/<scene>/       one finished scene: rgb/, mask/, depth/ PNGs per view + records.jsonl
    ROOT/.tmp/                         scenes being rendered; renamed into scenes/ when complete
    ROOT/failed/<scene>.json           scenes that failed, with the reason

A scene directory appears in one rename, so a killed run never leaves a half-written scene; its records are then
appended to the index (a run killed in between is repaired by :meth:`Store.sync_index` on the next open).
Stores of the older flat layout (``scenes/<scene>/``, no ``store_layout`` key) are read as they are; writing into
one is refused with the command that migrates it (:mod:`legodata.store.migrate`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from legodata.core.atomic import atomic_write_text, check_replaceable, create_exclusive_text, replace_dir
from legodata.core.records import EXTRA_PATHS, Record
from legodata.errors import LegodataError
from legodata.store import layout as lay
from legodata.store.index import RECORDS, RecordIndex

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SCENE_RECORDS = "records.jsonl"
MIGRATING = ".scenes-flat"  # the flat scenes/ while legodata.store.migrate moves them into chunks
__all__ = ["MANIFEST", "RECORDS", "SCENE_RECORDS", "IndexSync", "Store"]


@dataclass(frozen=True)
class IndexSync:
    """What :meth:`Store.sync_index` did: scenes appended to the index, or the whole index rebuilt."""

    appended: int = 0
    rebuilt: bool = False


class Store:
    """A dataset directory on disk."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.index = RecordIndex(self.root)
        self._layout: str | None = None

    # --- layout and paths ------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def layout(self) -> str:
        """``chunked-1000`` (new stores) or ``flat`` (stores made before chunking; read only)."""
        if self._layout is None:
            if (self.root / MIGRATING).exists():
                raise LegodataError(
                    f"{self.root}: a migration to chunked scene folders was interrupted: "
                    f"finish it with `legodata migrate {self.root}`"
                )
            if not self.manifest_path.is_file():
                return lay.CHUNKED  # not created yet: create_or_check makes it chunked
            found = self.read_manifest().get(lay.LAYOUT_KEY, lay.FLAT)
            if found not in (lay.CHUNKED, lay.FLAT):
                raise LegodataError(f"{self.manifest_path}: store_layout {found!r} is unknown: update legodata")
            self._layout = found
        return self._layout

    def scene_rel(self, scene_id: str) -> str:
        """The scene's folder relative to the root (``scenes/000/000123``), prefix of its records' paths."""
        return lay.scene_rel(scene_id, self.layout)

    def scene_dir(self, scene_id: str) -> Path:
        return self.root / self.scene_rel(scene_id)

    def spec_path(self, scene_id: str) -> Path:
        if self.layout == lay.FLAT:
            return self.root / "specs" / f"{scene_id}.json"
        return self.root / "specs" / lay.scene_chunk(scene_id) / f"{scene_id}.json"

    def is_scene_done(self, scene_id: str) -> bool:
        """True once the scene's directory has been committed (one stat: the resume check needs no index)."""
        return (self.scene_dir(scene_id) / SCENE_RECORDS).is_file()

    def _check_writable(self) -> None:
        if self.layout == lay.FLAT:
            raise LegodataError(
                f"--out {self.root} is a store of the old flat layout (scenes/<id>/): migrate it with "
                f"`legodata migrate {self.root}`, or use a new --out directory"
            )

    # --- manifest --------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any]:
        """The manifest as a dict; a clear error if the directory is not a legodata store."""
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise LegodataError(f"{self.root} is not a legodata dataset (no {MANIFEST})") from None
        except json.JSONDecodeError as exc:
            raise LegodataError(f"{self.manifest_path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None

    def create_or_check(self, manifest: dict[str, Any]) -> bool:
        """Create the store with ``manifest`` (chunked layout), or check an existing one was made with the same
        settings and repair its index after a killed run (:meth:`sync_index`).

        Returns True if the store was created. Raises :class:`LegodataError` on a settings mismatch or a store of
        the flat layout."""
        check_replaceable(self.root, MANIFEST, "a legodata dataset", LegodataError)
        for sub in ("scenes", "specs", "models", ".tmp", "failed", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        text = json.dumps({**manifest, lay.LAYOUT_KEY: lay.CHUNKED}, indent=1, sort_keys=True)
        if create_exclusive_text(self.manifest_path, text):
            self._layout = lay.CHUNKED
            return True
        old = self.read_manifest()
        if old.get("schema_version") != manifest.get("schema_version"):
            raise LegodataError(
                f"--out {self.root} has schema version {old.get('schema_version')}, this legodata writes "
                f"{manifest.get('schema_version')}: use a new --out directory"
            )
        self._check_writable()
        old_settings, new_settings = old.get("settings", {}), manifest.get("settings", {})
        for key in sorted(set(old_settings) | set(new_settings)):
            if old_settings.get(key) != new_settings.get(key):
                flag = "--" + key.replace("_", "-")
                raise LegodataError(
                    f"--out {self.root} was made with {flag} {_fmt(old_settings.get(key))} but this run has "
                    f"{_fmt(new_settings.get(key))}: use the same settings to resume, or a new --out directory"
                )
        self.sync_index()
        return False

    # --- scenes ----------------------------------------------------------------------------------------
    def new_tmp_dir(self, scene_id: str) -> Path:
        """A fresh private directory to build ``scene_id`` in."""
        d = self.root / ".tmp" / f"{scene_id}-{socket.gethostname()}-{os.getpid()}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        return d

    def clean_stale_tmp(self) -> int:
        """Remove temp scene directories left by dead processes on this host. Returns how many."""
        host = socket.gethostname()
        removed = 0
        for d in (self.root / ".tmp").glob("*"):
            parts = d.name.rsplit("-", 2)
            if len(parts) != 3 or parts[1] != host:
                continue  # another machine's shard: not ours to judge
            if not parts[2].isdigit() or not _pid_alive(int(parts[2])):
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
        return removed

    def commit_scene(self, tmp_dir: Path, scene_id: str, records: Sequence[Record], *, index: bool = True) -> None:
        """Write ``records`` into the finished scene in ``tmp_dir``, move it into place in one rename, then append
        the records to the index. Thread-safe. ``index=False`` leaves the append to whoever gathers the results
        (a Ray driver calls :meth:`append_index`); until then the scene's pending marker keeps it known.

        A record path under ``scenes/`` must lie in the scene's own folder (:meth:`scene_rel`). A scene committed
        again (an edited Label Studio group, a re-imported episode) replaces the old one and marks the index for a
        rebuild."""
        self._check_writable()
        _check_paths(records, self.scene_rel(scene_id))
        text = "".join(r.to_json() + "\n" for r in records)
        atomic_write_text(tmp_dir / SCENE_RECORDS, text)
        target = self.scene_dir(scene_id)
        replacing = target.exists()
        if replacing:
            self.index.mark_dirty(f"scene {scene_id} was replaced")
        else:
            self.index.mark_pending(scene_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        # an existing scene directory without records is an unfinished leftover (cannot normally happen)
        replace_dir(tmp_dir, target)
        if index and not replacing:
            self.index.append(scene_id, text, len(records))

    def append_index(self, scene_id: str, records: Sequence[Record]) -> bool:
        """Append the records of the committed scene ``scene_id`` to the index (for a driver gathering scenes that
        other processes or nodes committed with ``index=False``). A scene already in the index is not appended
        twice. True if appended."""
        self._check_writable()
        return self.index.append(scene_id, "".join(r.to_json() + "\n" for r in records), len(records))

    def record_failure(self, scene_id: str, reason: str) -> None:
        """Keep the reason a scene failed next to its spec (the scene is retried on the next run)."""
        atomic_write_text(
            self.root / "failed" / f"{scene_id}.json", json.dumps({"scene_id": scene_id, "error": reason})
        )

    def clear_failure(self, scene_id: str) -> None:
        (self.root / "failed" / f"{scene_id}.json").unlink(missing_ok=True)

    # --- records ---------------------------------------------------------------------------------------
    def _scene_dirs(self) -> Iterator[tuple[str, Path]]:
        """(scene id, folder) of every finished scene, unsorted."""
        scenes = self.root / "scenes"
        if not scenes.is_dir():
            return
        if self.layout == lay.FLAT:
            for e in os.scandir(scenes):
                if os.path.isfile(os.path.join(e.path, SCENE_RECORDS)):
                    yield e.name, Path(e.path)
            return
        for chunk in os.scandir(scenes):
            if not chunk.is_dir():
                continue
            for e in os.scandir(chunk.path):
                if os.path.isfile(os.path.join(e.path, SCENE_RECORDS)):
                    if lay.scene_chunk(e.name) != chunk.name:
                        raise LegodataError(f"{e.path}: scene {e.name} belongs in scenes/{lay.scene_chunk(e.name)}/")
                    yield e.name, Path(e.path)

    def scene_ids(self) -> list[str]:
        """Finished scenes, sorted."""
        return sorted(name for name, _ in self._scene_dirs())

    def _scene_lines(self, scene_id: str) -> Iterator[tuple[Record, str]]:
        path = self.scene_dir(scene_id) / SCENE_RECORDS
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                yield _parse(line, path, lineno), line

    def iter_records(self) -> Iterator[Record]:
        """All records of all finished scenes, in scene order (read from scenes/, the source of truth)."""
        for scene_id in self.scene_ids():
            for rec, _ in self._scene_lines(scene_id):
                yield rec

    # --- index -----------------------------------------------------------------------------------------
    def iter_index(self) -> Iterator[Record]:
        """The records of the index in the order they were appended, streaming: memory does not grow with the
        store. Scenes committed but not appended yet are not there (see :meth:`sync_index`)."""
        if self.layout != lay.FLAT and self.index.is_dirty():
            raise LegodataError(
                f"{self.root / RECORDS} is out of date (a scene was replaced or a run stopped mid-rebuild): "
                "run `legodata` on the store again, or call Store.sync_index()"
            )
        for lineno, line in self.index.iter_lines():
            if line.strip():
                yield _parse(line, self.root / RECORDS, lineno)

    def index_scene_ids(self) -> Iterator[str]:
        """Scene ids in the index, in append order, streaming (one short table line per scene)."""
        return (entry["scene"] for entry in self.index.iter_toc())

    def rebuild_index(self) -> int:
        """Rewrite the index from the finished scenes in scene order (atomically, streaming: memory does not grow
        with the store). Returns the number of records."""
        if self.layout == lay.FLAT:  # the old layout's index: records only, no table
            from legodata.core.atomic import atomic_open

            n = 0
            with atomic_open(self.root / RECORDS, "w", encoding="utf-8") as fh:
                for rec in self.iter_records():
                    fh.write(rec.to_json() + "\n")
                    n += 1
            return n
        with self.index.lock():
            n = self.index.write_all(self._blocks(self.scene_ids()))
            for scene_id in self.index.pending():
                self.index.clear_pending(scene_id)
        return n

    def _blocks(self, scene_ids: Sequence[str]) -> Iterator[tuple[str, str, int]]:
        for scene_id in scene_ids:
            lines = [rec.to_json() + "\n" for rec, _ in self._scene_lines(scene_id)]
            yield scene_id, "".join(lines), len(lines)

    def sync_index(self) -> IndexSync:
        """Bring the index up to date after a killed run, cheaply: cut a torn last line, append the finished
        scenes it lacks (each once), and rebuild it only if it is marked dirty or disagrees with scenes/. Costs
        one listing of scenes/ and one pass over the table, never a pass over the records."""
        self._check_writable()
        with self.index.lock():
            if self.index.is_dirty() or self.index.repair_tail() is None:
                return self._rebuilt("it is marked dirty")
            listed: set[str] = set()
            for scene_id in self.index_scene_ids():
                if scene_id in listed:
                    return self._rebuilt(f"it lists scene {scene_id} twice")
                listed.add(scene_id)
            done = self.scene_ids()
            if not listed.issubset(done):
                return self._rebuilt("it lists scenes that are not in scenes/")
            missing = [s for s in done if s not in listed]
            for scene_id, text, n in self._blocks(missing):
                self.index.append(scene_id, text, n, check=False)
            for scene_id in self.index.pending():
                self.index.clear_pending(scene_id)
        if missing:
            logger.info("appended %d finished scenes missing from the index of %s", len(missing), self.root)
        return IndexSync(appended=len(missing))

    def _rebuilt(self, why: str) -> IndexSync:
        logger.info("rebuilding the record index of %s: %s", self.root, why)
        self.rebuild_index()
        return IndexSync(rebuilt=True)


def _parse(line: str, path: Path, lineno: int) -> Record:
    try:
        return Record.from_json(line)
    except (ValueError, TypeError) as exc:
        raise LegodataError(f"{path}:{lineno}: {exc}") from None


def _check_paths(records: Sequence[Record], scene_rel: str) -> None:
    """A path under ``scenes/`` must lie in the record's own scene folder, or the chunked layout would lose it (a
    path built by hand as ``scenes/<id>/...``). Paths elsewhere in the store (a shared image pool) are the caller's."""
    prefix = scene_rel + "/"
    for rec in records:
        named = {"image_path": rec.image_path, "mask_path": rec.mask_path, "depth_path": rec.depth_path}
        named |= {f"meta.{EXTRA_PATHS}.{k}": v for k, v in (rec.meta.get(EXTRA_PATHS) or {}).items()}
        for name, value in named.items():
            if value is not None and str(value).startswith("scenes/") and not str(value).startswith(prefix):
                raise LegodataError(
                    f"record {rec.record_id}: {name} {value!r} is not in its scene's folder {prefix} "
                    "(build record paths with legodata.store.layout.scene_rel)"
                )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
