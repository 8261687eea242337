"""Where a training run's time goes: per-epoch and whole-run phase times in metrics.json, from real runs."""

import json

import pytest

from legodata.train.epoch import PHASES, PhaseTimer, time_summary
from legodata.train.loop import TrainConfig, train

torch = pytest.importorskip("torch")


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_time_summary_shares_and_rate():
    t = time_summary({"data": 1.0, "forward": 2.0, "backward": 3.0, "evaluation": 2.0}, wall_s=10.0, samples=60)
    assert t["samples_per_s"] == pytest.approx(10.0)  # 60 samples over the 6 s of training phases
    assert t["forward_share"] == pytest.approx(0.2) and t["other_s"] == pytest.approx(2.0)
    assert sum(t[f"{p}_share"] for p in (*PHASES, "other")) == pytest.approx(1.0)


def test_phase_timer_charges_each_lap_to_its_phase():
    timer = PhaseTimer()
    timer.reset()
    sum(range(200_000))
    timer.lap("forward")
    assert timer.seconds["forward"] > 0 and timer.seconds["data"] == 0.0


@pytest.mark.parametrize(("task", "workers"), [("mask", 0), ("rot", 1)])
def test_run_writes_its_time_breakdown(published, tmp_path, one_thread, task, workers, caplog):
    cfg = TrainConfig(
        task=task, dataset=str(published.out), out=str(tmp_path / "run"), epochs=2, batch_size=8,
        image_size=64 if task == "mask" else 32, base=8, quiet=True, workers=workers,
    )  # fmt: skip
    with caplog.at_level("INFO", logger="legodata.train.loop"):
        result = train(cfg)
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["time"] == result["time"]
    for entry in result["history"]:
        t = entry["time"]
        for phase in PHASES:  # every phase ran (validation exists) and took time
            assert t[f"{phase}_s"] > 0, (phase, t)
        assert 0 <= t["other_s"] < t["wall_s"]
        assert sum(t[f"{p}_share"] for p in (*PHASES, "other")) == pytest.approx(1.0)
        assert t["samples"] == entry["samples"] > 0
    whole = result["time"]
    assert whole["samples"] == sum(h["samples"] for h in result["history"])
    assert whole["forward_s"] == pytest.approx(sum(h["time"]["forward_s"] for h in result["history"]))
    assert whole["samples_per_s"] > 0
    lines = [r.getMessage() for r in caplog.records if "samples/s; time:" in r.getMessage()]
    assert len(lines) == 2 and "data " in lines[0] and "evaluation " in lines[0]
