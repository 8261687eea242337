"""Parent side of the render worker protocol: one subprocess per worker, JSON lines over stdin/stdout.

The worker (``python -m legodata_render.worker``) is the only process that imports bpy/blenderproc.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from legodata.core.protocol import THREADS_ENV, WORKER_MODULE, RenderAnswer, Renderer, RenderRequest


def _die_with_parent() -> None:
    """In the worker, before exec: Linux kills it when the process that started it dies (a Ray task killed or
    cancelled), instead of letting it render on into a temp scene nobody will commit."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class WorkerCrashed(RuntimeError):
    """The worker process died or answered something that is not a protocol line."""


class WorkerClient(Renderer):
    """A running render worker. ``render()`` sends one scene and waits for its answer."""

    def __init__(self, root: Path, log_path: Path, threads: int) -> None:
        self.log_path = log_path
        env = dict(os.environ)
        env[THREADS_ENV] = str(threads)
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, "--root", str(root), "--log", str(log_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent,
        )
        self.scenes_done = 0

    def render(self, spec_path: Path, out_dir: Path) -> RenderAnswer:
        """Render one scene into ``out_dir``; returns the worker's answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(RenderRequest(str(spec_path), str(out_dir)).to_line())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerCrashed(self._death_note()) from None
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerCrashed(self._death_note())
        try:
            answer = RenderAnswer.from_line(line)
        except ValueError:
            raise WorkerCrashed(f"worker answered a non-protocol line: {line.strip()[:200]}") from None
        self.scenes_done += 1
        return answer

    def _death_note(self) -> str:
        code = self.proc.wait(timeout=30)
        tail = ""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
            tail = lines[-1] if lines else ""
        except OSError:
            pass
        return f"render worker exited with code {code} (log {self.log_path}: {tail[:200]})"

    def close(self, kill: bool = False) -> None:
        """Stop the worker: EOF on stdin lets it exit cleanly; ``kill`` ends it at once."""
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                try:
                    assert self.proc.stdin is not None
                    self.proc.stdin.close()
                    self.proc.wait(timeout=60)
                except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
                    self.proc.kill()
        self.proc.wait()
        self._log.close()
