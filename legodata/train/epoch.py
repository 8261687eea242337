"""One training epoch and where its time goes.

:func:`update_policy` is one optimisation step; :func:`train_epoch` runs the steps of one pass and times four phases
with a monotonic clock (CUDA is synchronised at the phase edges so GPU work is charged to the phase that queued it):

- ``data``: waiting for the next batch from the DataLoader and copying it to the device;
- ``forward``: the model and the loss;
- ``backward``: gradients and the optimiser step;
- ``evaluation``: scoring validation after the epoch (added by the loop).

The rest of the epoch's wall time (progress bar, checkpoint, curves) is ``other``. :func:`time_summary` turns the
sums into seconds, shares of wall time and samples/s, as logged per epoch and written to ``metrics.json``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from legodata.train.tasks import to_device, torch

logger = logging.getLogger(__name__)

PHASES = ("data", "forward", "backward", "evaluation")


@dataclass
class Clock:
    """Wall-clock budget (``--max-minutes``) and the training throughput."""

    budget_s: float | None
    start: float = field(default_factory=time.monotonic)
    train_seconds: float = 0.0
    seen: int = 0  # training samples over all processes

    def progress(self, step: int, total_steps: int) -> float:
        """Fraction of the run done: by steps, or by the clock when that is further."""
        done = step / total_steps
        if self.budget_s:
            done = max(done, (time.monotonic() - self.start) / self.budget_s)
        return done

    def out_of_time(self) -> bool:
        return bool(self.budget_s) and time.monotonic() - self.start > self.budget_s


@dataclass
class PhaseTimer:
    """Seconds per phase (:data:`PHASES`), accumulated with :meth:`lap`."""

    device_type: str = "cpu"
    seconds: dict = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    _last: float = field(default_factory=time.perf_counter)

    def reset(self) -> None:
        """Start timing from now (the time since the last lap is not charged to any phase)."""
        self._sync()
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        """Charge the time since the last lap (or reset) to ``phase``."""
        self._sync()
        now = time.perf_counter()
        self.seconds[phase] += now - self._last
        self._last = now

    def _sync(self) -> None:
        if self.device_type == "cuda":
            torch.cuda.synchronize()


def time_summary(seconds: dict, wall_s: float, samples: int) -> dict:
    """Phase seconds -> ``{"wall_s", "samples", "samples_per_s", "<phase>_s", "<phase>_share", "other_*"}``.

    ``samples_per_s`` is over the training phases only (data + forward + backward), as the budget counts them."""
    train_s = sum(seconds[p] for p in PHASES if p != "evaluation")
    out = {"wall_s": wall_s, "samples": samples, "samples_per_s": samples / train_s if train_s else None}
    for phase in PHASES:
        out[f"{phase}_s"] = seconds[phase]
        out[f"{phase}_share"] = seconds[phase] / wall_s if wall_s else None
    other = max(0.0, wall_s - sum(seconds.values()))
    out["other_s"], out["other_share"] = other, (other / wall_s if wall_s else None)
    return out


def format_times(t: dict) -> str:
    """One log line: samples/s and the share of wall time per phase."""
    shares = ", ".join(f"{p} {100 * (t[f'{p}_share'] or 0):.0f}%" for p in (*PHASES, "other"))
    rate = f"{t['samples_per_s']:.1f}" if t["samples_per_s"] else "-"
    return f"{rate} samples/s; time: {shares}"


def update_policy(run, batch: dict, lr: float, timer: PhaseTimer | None = None, progress: float = 1.0) -> float:
    """One optimisation step on ``batch`` at learning rate ``lr`` (autocast as ``run.amp_dtype`` says), with the
    task's loss at ``progress`` (fraction of the run done); the loss.

    With ``timer``, the copy to the device is charged to ``data``, the loss to ``forward``, the rest to ``backward``.
    """
    for group in run.optimiser.param_groups:
        group["lr"] = lr
    batch = to_device(batch, run.device, run.task.channels_last)
    if timer:
        timer.lap("data")
    dtype = run.amp_dtype
    with torch.autocast(device_type=run.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        loss = run.task.loss(run.net, batch, progress)
    if timer:
        timer.lap("forward")
    run.optimiser.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.optimiser)
    run.scaler.update()
    run.step += 1
    value = float(loss.detach())
    if timer:
        timer.lap("backward")
    return value


def train_epoch(run, loader, epoch: int, total_steps: int, clock: Clock, lr_at) -> tuple[dict, bool, PhaseTimer]:
    """One pass over ``loader`` (cut short by the time budget); returns the history entry, whether time ran out,
    and the epoch's phase timer (``lr_at(progress)`` is the learning rate at that fraction of the run)."""
    from tqdm.auto import tqdm

    cfg = run.cfg
    run.net.train()
    timer = PhaseTimer(run.device.type)
    t_epoch, loss_sum, n_batches, n_samples, out_of_time = time.monotonic(), 0.0, 0, 0, False
    desc = f"{run.task.name} epoch {epoch + 1}/{cfg.epochs}"
    bar = tqdm(loader, desc=desc, disable=cfg.quiet or not run.dist.main, leave=False)
    timer.reset()
    for batch in bar:
        n = len(next(iter(batch.values())))
        progress = clock.progress(run.step, total_steps)
        loss_sum += update_policy(run, batch, lr_at(progress), timer, progress)
        n_batches += 1
        n_samples += n
        clock.seen += n * run.dist.world
        bar.set_postfix_str(f"loss {loss_sum / n_batches:.4f}{run.val_text}")
        if clock.out_of_time():
            out_of_time = True
            break
        timer.reset()  # the bar's bookkeeping is not charged to waiting for data
    bar.close()
    seconds = time.monotonic() - t_epoch
    clock.train_seconds += seconds
    entry = {
        "epoch": epoch + 1,
        "step": run.step,
        "train_loss": loss_sum / max(n_batches, 1),
        "lr": run.optimiser.param_groups[0]["lr"],
        "seconds": seconds,
        "samples": n_samples,
    }
    return entry, out_of_time, timer


def run_times(history: list[dict]) -> dict | None:
    """The whole run's :func:`time_summary`: the per-epoch phase seconds, walls and samples summed."""
    timed = [h["time"] for h in history if "time" in h]
    if not timed:
        return None
    seconds = {p: sum(t[f"{p}_s"] for t in timed) for p in PHASES}
    return time_summary(seconds, sum(t["wall_s"] for t in timed), sum(t["samples"] for t in timed))
