"""The local dataset directory: manifest, records, images, masks, depth, specs, models.

Layout::

    ROOT/manifest.json           schema version, settings, seed, catalogue snapshot, conventions, versions
    ROOT/records.jsonl           index of all records (rebuilt from scenes/ after every run)
    ROOT/models/<part>.ply       part meshes, model frame, metres
    ROOT/specs/<scene>.json      scene specs, written before rendering
    ROOT/scenes/<scene>/         one finished scene: rgb/, mask/, depth/ PNGs per view + records.jsonl
    ROOT/.tmp/                   scenes being rendered; renamed into scenes/ when complete
    ROOT/failed/<scene>.json     scenes that failed, with the reason

A scene directory appears in one rename, so a killed run never leaves a half-written scene.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from legodata.core.atomic import atomic_open, atomic_write_text, check_replaceable, create_exclusive_text, replace_dir
from legodata.core.records import Record
from legodata.errors import LegodataError

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
SCENE_RECORDS = "records.jsonl"


class Store:
    """A dataset directory on disk."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # --- paths -----------------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def scene_dir(self, scene_id: str) -> Path:
        return self.root / "scenes" / scene_id

    def spec_path(self, scene_id: str) -> Path:
        return self.root / "specs" / f"{scene_id}.json"

    def is_scene_done(self, scene_id: str) -> bool:
        """True once the scene's directory has been committed."""
        return (self.scene_dir(scene_id) / SCENE_RECORDS).is_file()

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
        """Create the store with ``manifest``, or check an existing one was made with the same settings.

        Returns True if the store was created. Raises :class:`LegodataError` on a settings mismatch."""
        check_replaceable(self.root, MANIFEST, "a legodata dataset", LegodataError)
        for sub in ("scenes", "specs", "models", ".tmp", "failed", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        if create_exclusive_text(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True)):
            return True
        old = self.read_manifest()
        if old.get("schema_version") != manifest.get("schema_version"):
            raise LegodataError(
                f"--out {self.root} has schema version {old.get('schema_version')}, this legodata writes "
                f"{manifest.get('schema_version')}: use a new --out directory"
            )
        old_settings, new_settings = old.get("settings", {}), manifest.get("settings", {})
        for key in sorted(set(old_settings) | set(new_settings)):
            if old_settings.get(key) != new_settings.get(key):
                flag = "--" + key.replace("_", "-")
                raise LegodataError(
                    f"--out {self.root} was made with {flag} {_fmt(old_settings.get(key))} but this run has "
                    f"{_fmt(new_settings.get(key))}: use the same settings to resume, or a new --out directory"
                )
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

    def commit_scene(self, tmp_dir: Path, scene_id: str, records: Sequence[Record]) -> None:
        """Write ``records`` into the finished scene in ``tmp_dir`` and move it into place in one rename."""
        atomic_write_text(tmp_dir / SCENE_RECORDS, "".join(r.to_json() + "\n" for r in records))
        # an existing scene directory is an unfinished leftover without records (cannot normally happen)
        replace_dir(tmp_dir, self.scene_dir(scene_id))

    def record_failure(self, scene_id: str, reason: str) -> None:
        """Keep the reason a scene failed next to its spec (the scene is retried on the next run)."""
        atomic_write_text(
            self.root / "failed" / f"{scene_id}.json", json.dumps({"scene_id": scene_id, "error": reason})
        )

    def clear_failure(self, scene_id: str) -> None:
        (self.root / "failed" / f"{scene_id}.json").unlink(missing_ok=True)

    # --- records ---------------------------------------------------------------------------------------
    def scene_ids(self) -> list[str]:
        """Finished scenes, sorted."""
        return sorted(d.name for d in (self.root / "scenes").glob("*") if (d / SCENE_RECORDS).is_file())

    def iter_records(self) -> Iterator[Record]:
        """All records of all finished scenes, in scene order (read from scenes/, the source of truth)."""
        for scene_id in self.scene_ids():
            path = self.scene_dir(scene_id) / SCENE_RECORDS
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    yield Record.from_json(line)
                except (ValueError, TypeError) as exc:
                    raise LegodataError(f"{path}:{lineno}: {exc}") from None

    def rebuild_index(self) -> int:
        """Rewrite ROOT/records.jsonl from the finished scenes (atomically, streaming: memory does not grow with
        the store). Returns the number of records."""
        n = 0
        with atomic_open(self.root / RECORDS, "w", encoding="utf-8") as fh:
            for rec in self.iter_records():
                fh.write(rec.to_json() + "\n")
                n += 1
        return n


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
