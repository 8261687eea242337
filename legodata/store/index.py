"""The record index of a store: ``records.jsonl`` grown one scene block at a time, with a table of contents.

Files (all under the store root)::

    records.jsonl          every record, one JSON line each (Record.to_json), in blocks of one scene
    records.toc.jsonl      one line per block: {"scene": id, "start": byte, "end": byte, "records": n}
    .index/lock            flock'ed by whoever appends (threads of a process also take a lock in memory)
    .index/pending/<id>    "this scene may be in scenes/ but not yet in the index": made before the scene's rename,
                           removed after its block is appended
    .index/dirty           "rebuild me": a scene was replaced in place, or the two files disagree

Appending a block writes the records first, then its table line. A process killed part-way leaves either a torn
tail of ``records.jsonl`` past the last table line, or a torn last table line: :meth:`RecordIndex.repair_tail`
cuts both back to the last whole block, and the scene's pending marker makes the next sync append it again (once:
a scene already listed in the table is never appended twice). Readers stop at the last whole block, so they never
see a half-written line. The scenes in ``scenes/`` stay the source of truth; the index is derived from them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, unquote

from legodata.core.atomic import atomic_open, create_exclusive_text

logger = logging.getLogger(__name__)

RECORDS = "records.jsonl"
TOC = "records.toc.jsonl"
STATE = ".index"
_TAIL = 65536  # bytes read from the end of the table to find its last line (a line is ~80 bytes)

_locks_guard = threading.Lock()
_locks: dict[str, threading.RLock] = {}


def _thread_lock(root: Path) -> threading.RLock:
    key = str(root.resolve())
    with _locks_guard:
        return _locks.setdefault(key, threading.RLock())


class RecordIndex:
    """The index files of the store at ``root`` (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.records_path = root / RECORDS
        self.toc_path = root / TOC
        self.state = root / STATE
        self._rlock = _thread_lock(root)
        self._depth = 0
        self._known: tuple[int, int, int] | None = None  # (toc size, records size, end) after our last look

    # --- locking and markers ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive access for this thread, and (flock) for this process among others appending to the store."""
        import fcntl

        with self._rlock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.state.mkdir(parents=True, exist_ok=True)
            with open(self.state / "lock", "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def _pending_path(self, scene_id: str) -> Path:
        return self.state / "pending" / quote(scene_id, safe="")

    def mark_pending(self, scene_id: str) -> None:
        """Note that ``scene_id`` is about to be committed and is not in the index yet."""
        path = self._pending_path(scene_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def clear_pending(self, scene_id: str) -> None:
        self._pending_path(scene_id).unlink(missing_ok=True)

    def pending(self) -> list[str]:
        """Scene ids with a pending marker, sorted."""
        d = self.state / "pending"
        return sorted(unquote(p.name) for p in d.iterdir()) if d.is_dir() else []

    def mark_dirty(self, reason: str) -> None:
        """The index must be rebuilt before it can be trusted again."""
        self.state.mkdir(parents=True, exist_ok=True)
        if create_exclusive_text(self.state / "dirty", reason + "\n"):
            logger.info("record index of %s needs a rebuild: %s", self.root, reason)

    def is_dirty(self) -> bool:
        return (self.state / "dirty").is_file()

    def clear_dirty(self) -> None:
        (self.state / "dirty").unlink(missing_ok=True)

    # --- the table's tail ------------------------------------------------------------------------------
    def _last_toc_line(self, repair: bool) -> tuple[dict | None, int]:
        """The last whole line of the table (None if empty) and the table's whole-line size. With ``repair``, a
        torn last line is cut off the file."""
        try:
            size = self.toc_path.stat().st_size
        except FileNotFoundError:
            return None, 0
        with open(self.toc_path, "rb") as fh:
            fh.seek(max(0, size - _TAIL))
            tail = fh.read()
        whole = size
        if not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n")
            whole = size - len(tail) + cut + 1
            if repair:
                logger.warning("%s: cutting a torn last line (%d bytes)", self.toc_path, size - whole)
                os.truncate(self.toc_path, whole)
            tail = tail[: cut + 1]
        lines = tail.splitlines()
        return (json.loads(lines[-1]) if lines else None), whole

    def end(self) -> int:
        """Bytes of ``records.jsonl`` that belong to whole, listed blocks (read only: nothing is repaired)."""
        last, _ = self._last_toc_line(repair=False)
        if last is None and not self.toc_path.exists() and self.records_path.is_file():
            return _whole_lines_size(self.records_path)  # an index of the flat layout: no table, whole lines only
        return int(last["end"]) if last else 0

    def repair_tail(self) -> int | None:
        """Under the lock: cut a torn table line and any records past the last listed block. Returns the end of
        the index, or None if ``records.jsonl`` is shorter than its table says (then the index is marked dirty)."""
        toc_size = _size(self.toc_path)
        rec_size = _size(self.records_path)
        if self._known is not None and self._known[:2] == (toc_size, rec_size):
            return self._known[2]  # nobody wrote since our last look: skip reading the tail
        last, whole = self._last_toc_line(repair=True)
        end = int(last["end"]) if last else 0
        if rec_size > end:
            logger.warning("%s: cutting %d bytes past the last whole block", self.records_path, rec_size - end)
            os.truncate(self.records_path, end)
        elif rec_size < end:
            self.mark_dirty(f"{RECORDS} is {rec_size} bytes but its table lists {end}")
            self._known = None
            return None
        self._known = (whole, end, end)
        return end

    # --- writing ---------------------------------------------------------------------------------------
    def append(self, scene_id: str, text: str, n: int, *, check: bool = True) -> bool:
        """Append one scene's block (``text``: its ``n`` record lines). With ``check`` a scene without a pending
        marker is first looked up in the table, so a repeated append adds nothing. True if appended."""
        with self.lock():
            if check and not self._pending_path(scene_id).exists() and self.contains(scene_id):
                logger.info("scene %s is already in the index of %s: not appended again", scene_id, self.root)
                return False
            end = self.repair_tail()
            if end is None:  # the rebuild that the dirty marker asks for will list this scene
                self.clear_pending(scene_id)
                return False
            data = text.encode("utf-8")
            with open(self.records_path, "ab") as fh:
                fh.write(data)
            line = json.dumps({"scene": scene_id, "start": end, "end": end + len(data), "records": n}, sort_keys=True)
            with open(self.toc_path, "ab") as fh:
                fh.write((line + "\n").encode("utf-8"))
            self._known = (_size(self.toc_path), end + len(data), end + len(data))
            self.clear_pending(scene_id)
            return True

    def write_all(self, blocks: Iterable[tuple[str, str, int]]) -> int:
        """Replace both files with ``blocks`` (scene id, text, n), streaming; the dirty marker covers the moment
        between the two renames. Call under :meth:`lock`. Returns the number of records."""
        self.mark_dirty("rebuilding")
        total, offset = 0, 0
        with atomic_open(self.records_path, "wb") as rec_fh, atomic_open(self.toc_path, "wb") as toc_fh:
            for scene_id, text, n in blocks:
                data = text.encode("utf-8")
                rec_fh.write(data)
                entry = {"scene": scene_id, "start": offset, "end": offset + len(data), "records": n}
                toc_fh.write((json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
                offset += len(data)
                total += n
        self._known = None
        self.clear_dirty()
        return total

    # --- reading ---------------------------------------------------------------------------------------
    def iter_toc(self) -> Iterator[dict]:
        """The table's whole lines, in order, one at a time."""
        if not self.toc_path.is_file():
            return
        with open(self.toc_path, "rb") as fh:
            for raw in fh:
                if raw.endswith(b"\n"):
                    yield json.loads(raw)

    def contains(self, scene_id: str) -> bool:
        """True if the table lists ``scene_id`` (one pass over the table; memory does not grow)."""
        needle = ('"scene": ' + json.dumps(scene_id)).encode("utf-8")  # as json.dumps writes it: no parse per line
        if not self.toc_path.is_file():
            return False
        with open(self.toc_path, "rb") as fh:
            return any(needle in raw and json.loads(raw)["scene"] == scene_id for raw in fh if raw.endswith(b"\n"))

    def iter_lines(self) -> Iterator[tuple[int, str]]:
        """(line number, record line) of the whole blocks of ``records.jsonl``, streaming."""
        end = self.end()
        if not self.records_path.is_file():
            return
        pos = 0
        with open(self.records_path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                pos += len(raw)
                if pos > end:
                    return
                yield lineno, raw.decode("utf-8")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _whole_lines_size(path: Path) -> int:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - _TAIL))
        tail = fh.read()
    if tail.endswith(b"\n") or not tail:
        return size
    return size - len(tail) + tail.rfind(b"\n") + 1
