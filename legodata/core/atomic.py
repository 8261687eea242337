"""Stage, then rename: the one place that writes files and directories so readers never see them half-written.

- :func:`atomic_open` (streaming), :func:`atomic_write_bytes` / :func:`atomic_write_text`: write a temporary
  sibling, then rename it over the file.
- :func:`create_exclusive_text`: create a file with its content unless it exists (no race between processes).
- :func:`replace_dir`: move a finished directory onto a target in one rename; the old target stays whole if it fails.
- :class:`StagedDir`: build a directory in a temporary sibling of the target and swap it in only when complete,
  refusing to replace a non-empty directory that is not ours (it lacks the caller's marker file).

Like the rest of ``legodata.core`` this imports nothing else of legodata: callers pass the error class to raise.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from contextlib import contextmanager
from pathlib import Path


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def _unique_tag() -> str:
    """Host, process and a random part: no two writers, on one machine or many, pick the same temporary name."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@contextmanager
def atomic_open(
    path: str | Path,
    mode: str = "wb",
    *,
    encoding: str | None = None,
    perms: int | None = None,
    stage: str | Path | None = None,
):
    """``with atomic_open(path, "w") as fh:`` write through ``fh``; on success the file replaces ``path`` in one
    rename (after an fsync), on any failure it is removed and ``path`` is left as it was.

    For writers that stream (``torch.save``, a mesh, a log). ``perms`` sets the file mode from the moment the file
    exists (``0o600`` for secrets); by default the process umask applies, as for :func:`open`. ``stage`` is the
    temporary file (default: a hidden sibling of ``path``), for a ``path`` whose directory is only made while
    writing; it must be on the same file system as ``path`` and must not exist."""
    path = Path(path)
    tmp = _tmp_sibling(path) if stage is None else Path(stage)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if perms is None else perms)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if perms is not None:
            os.chmod(tmp, perms)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see either the old or the new file, never a partial one."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def create_exclusive_text(path: str | Path, text: str) -> bool:
    """Create ``path`` with ``text`` atomically unless it exists. True if this call created it."""
    path = Path(path)
    tmp = _tmp_sibling(path)
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)  # fails if path exists: no race between shards creating the same store
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def replace_dir(src: str | Path, target: str | Path) -> None:
    """Move the directory ``src`` to ``target`` in one rename; an existing ``target`` is replaced.

    The old ``target`` is first renamed aside and put back if the final rename fails, so ``target`` is always
    either the old directory or the new one."""
    src, target = Path(src), Path(target)
    if not target.exists():
        os.replace(src, target)
        return
    old = target.with_name(f".{target.name}.replaced-{_unique_tag()}")
    os.replace(target, old)
    try:
        os.replace(src, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def check_replaceable(target: str | Path, marker: str, foreign: str, error: type[Exception]) -> None:
    """Raise ``error`` unless ``target`` is absent, an empty directory, or a directory holding the file ``marker``.

    ``foreign`` ends the message about a non-empty directory without it: ``"... that is not {foreign}"``."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise error(f"--out {target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / marker).is_file():
        raise error(f"--out {target} is a non-empty directory that is not {foreign}")


class StagedDir:
    """``with StagedDir(target, ...) as stage:`` fill the empty directory ``stage``; on success it replaces
    ``target`` in one rename (:func:`replace_dir`).

    On any failure the stage is removed and ``target`` (if it existed) is left as it was. The constructor checks
    :func:`check_replaceable` (``marker``, ``foreign``, ``error``), so a foreign ``target`` is refused before any
    work. With ``marker_text`` the marker file is written into the stage when the body succeeds; without it the
    body writes the marker itself. ``label`` names the stage: ``.<target name>.<label>-<host>-<pid>-<random>``."""

    def __init__(
        self,
        target: str | Path,
        *,
        marker: str,
        foreign: str,
        error: type[Exception],
        label: str = "staging",
        marker_text: str | None = None,
    ) -> None:
        self.target = Path(target)
        check_replaceable(self.target, marker, foreign, error)
        self.marker, self.marker_text = marker, marker_text
        self.stage = self.target.with_name(f".{self.target.name}.{label}-{_unique_tag()}")

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.stage.mkdir()
        return self.stage

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            return
        try:
            if self.marker_text is not None:
                (self.stage / self.marker).write_text(self.marker_text)
            replace_dir(self.stage, self.target)
        except BaseException:
            shutil.rmtree(self.stage, ignore_errors=True)
            raise
