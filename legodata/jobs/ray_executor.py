"""Ray as the executor of a job: join a cluster (or start a local Ray), size a task's request from ``--device`` and
the thread count, and drive generator tasks that stream one result per unit back to the driver.

Ray places the tasks and retries them (``max_retries``) when a worker process or node dies; nothing here schedules.
A retried generator task is replayed by Ray from its first item; results the driver already consumed are not
delivered again, so each job's task body makes a replay cheap by skipping units already committed to the store.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from legodata.errors import LegodataError, MissingExtraError, require

logger = logging.getLogger(__name__)

MAX_RETRIES = 3  # Ray re-runs a task this often after its worker process (or node) died
PROBE_TIMEOUT_S = 5.0


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the pip extra."""
    try:
        return require("ray", "ray")
    except MissingExtraError as exc:
        raise LegodataError(f"--executor ray: {exc}") from None


@contextmanager
def ray_session(address: str | None) -> Iterator[Any]:
    """Ray, connected: to the cluster at ``address`` ("auto" or HOST:PORT), to one already joined by this process,
    or to a new local Ray on this machine (shut down again at the end)."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    _connect(ray, address)
    try:
        yield ray
    finally:
        ray.shutdown()


def _connect(ray: Any, address: str | None) -> None:
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        ray.init(include_dashboard=False, **quiet)
        return
    if address != "auto":
        _probe(address)
    try:
        ray.init(address=address, **quiet)
    except ConnectionError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LegodataError(
            f"--address {address}: no Ray cluster to join ({first}); start one with `ray start --head`, "
            "or leave --address out to start a Ray on this machine"
        ) from None


def _probe(address: str) -> None:
    """Fail in seconds, not after Ray's minute of retries, when nothing listens at HOST:PORT."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise LegodataError(f"--address {address!r}: expected auto or HOST:PORT (e.g. 10.0.0.1:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise LegodataError(
            f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); start one with "
            "`ray start --head` on that machine, or use --address auto on a node of the cluster"
        ) from None


@dataclass(frozen=True)
class TaskShape:
    """What one task asks Ray for, and how many such tasks the cluster runs at once (``slots``)."""

    num_cpus: float
    num_gpus: float
    slots: int

    def options(self) -> dict[str, Any]:
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "max_retries": MAX_RETRIES}


def task_shape(ray: Any, device: str, threads: int) -> TaskShape:
    """A task's request: ``threads`` CPUs (at most a node's), one GPU for ``--device gpu`` (and for ``auto`` when
    the cluster has GPUs), none for ``cpu``."""
    total = ray.cluster_resources()
    node_cpus = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    cpus = max(1, min(threads, int(max(node_cpus, default=1))))
    has_gpus = total.get("GPU", 0) >= 1
    if device == "gpu" and not has_gpus:
        raise LegodataError("--device gpu: the Ray cluster has no GPUs (see `ray status`); use --device auto or cpu")
    gpus = 1 if device == "gpu" or (device == "auto" and has_gpus) else 0
    slots = int(total["GPU"]) if gpus else int(total.get("CPU", 1) // cpus)
    return TaskShape(cpus, gpus, max(1, slots))


def batches(units: Sequence[Any], slots: int, most: int) -> list[list[Any]]:
    """``units`` in contiguous batches, at most ``most`` per batch: one per slot when one task runs at a time (its
    worker process starts once), else about two per slot (keeps every slot busy until the end)."""
    if not units:
        return []
    per_slot = 1 if slots == 1 else 2
    size = max(1, min(most, -(-len(units) // (per_slot * slots))))
    return [list(units[i : i + size]) for i in range(0, len(units), size)]


def stream_tasks(
    ray: Any,
    fn: Callable[..., Iterator[Any]],
    calls: Iterable[tuple[Any, ...]],
    options: dict[str, Any],
    on_item: Callable[[int, Any], None],
    on_lost: Callable[[int, BaseException], None],
    window: int,
) -> None:
    """Run the generator ``fn(*call)`` as a Ray task for the k-th call of ``calls`` (read lazily: at most
    ``window`` tasks at once), and call ``on_item(k, item)`` for each item as it arrives. A task that fails for good
    (retries used up, or its code raised) goes to ``on_lost(k, error)``. Anything raised here (Ctrl-C, ``on_item``
    or ``on_lost`` stopping the run) cancels the running tasks."""
    remote = ray.remote(fn).options(**options)
    todo = enumerate(calls)
    running: dict[Any, int] = {}
    more = True
    try:
        while more or running:
            while more and len(running) < window:
                k, call = next(todo, (None, None))
                if k is None:
                    more = False
                else:
                    running[remote.remote(*call)] = k
            if not running:
                break
            ready, _ = ray.wait(list(running), num_returns=1)
            for gen in ready:
                try:
                    item = ray.get(next(gen))
                except StopIteration:
                    del running[gen]
                    continue
                except (ray.exceptions.RayError, OSError) as exc:
                    on_lost(running.pop(gen), exc)
                    continue
                on_item(running[gen], item)
    except BaseException:
        for gen in running:
            ray.cancel(gen)
        raise


def describe_error(exc: BaseException) -> str:
    """A lost task's reason in one line (Ray's messages run over many)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"
