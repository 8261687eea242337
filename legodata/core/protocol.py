"""The render worker protocol, shared by the parent (``legodata.jobs.worker_client``) and the worker
(``legodata_render.worker``), and the renderer interface the render job depends on.

Protocol: JSON lines. The parent sends one :class:`RenderRequest` per line on the worker's stdin and reads one
:class:`RenderAnswer` per line from its stdout; EOF on stdin ends the worker. Per view the worker writes
``rgb/NNNN.png`` (8-bit RGB), ``mask/NNNN.png`` (uint16 instance ids, 0 = background), ``depth/NNNN.png``
(uint16, metres = value * ``units.DEPTH_SCALE_M``, 0 = none) and ``worker.json`` (final part poses) into the
request's ``out`` directory.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path

THREADS_ENV = "LEGODATA_RENDER_THREADS"  # the parent sets the Cycles thread count of each worker through this
WORKER_MODULE = "legodata_render.worker"
WORKER_RESULT = "worker.json"  # written last into a scene's output directory


@dataclass(frozen=True)
class RenderRequest:
    """Render the scene spec at ``spec`` (a JSON file) into the directory ``out``."""

    spec: str
    out: str

    def to_line(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @staticmethod
    def from_line(line: str) -> RenderRequest:
        """Parse one request line; ``ValueError``/``KeyError`` for anything else."""
        d = json.loads(line)
        return RenderRequest(spec=str(d["spec"]), out=str(d["out"]))


@dataclass(frozen=True)
class RenderAnswer:
    """The worker's reply: ``ok`` with per-stage ``timing_s``, or not ``ok`` with a one-line ``error``."""

    ok: bool
    out: str | None = None
    error: str | None = None
    timing_s: dict[str, float] = field(default_factory=dict)

    def to_line(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}) + "\n"

    @staticmethod
    def from_line(line: str) -> RenderAnswer:
        """Parse one answer line; ``ValueError`` if it is not a protocol answer."""
        d = json.loads(line)
        if not isinstance(d, dict) or not isinstance(d.get("ok"), bool):
            raise ValueError(f"not a render answer: {line.strip()[:200]}")
        return RenderAnswer(ok=d["ok"], out=d.get("out"), error=d.get("error"), timing_s=dict(d.get("timing_s") or {}))


class Renderer(ABC):
    """What the render job needs from a renderer: one scene spec in, one output directory filled.

    ``legodata.jobs.worker_client.WorkerClient`` implements it with a Blender subprocess."""

    @abstractmethod
    def render(self, spec_path: Path, out_dir: Path) -> RenderAnswer:
        """Render every view of the spec at ``spec_path`` into ``out_dir``."""

    @abstractmethod
    def close(self, kill: bool = False) -> None:
        """Release the renderer (``kill``: at once, without a clean shutdown)."""
