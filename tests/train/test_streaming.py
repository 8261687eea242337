"""``--streaming``: training reads a published folder through ``load_dataset(..., streaming=True)`` (an
IterableDataset with a shuffle buffer), its samples are the in-memory path's, epochs are a pass or
``--epoch-samples``, DDP processes split the stream and take the same steps; runs without it are unchanged."""

import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from legodata.errors import LegodataError
from legodata.train import data, streaming
from legodata.train.loop import TrainConfig, prepare, train
from legodata.train.tasks import get_task

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


def _cfg(task, dataset, out, **kw):
    base = dict(epochs=2, batch_size=8, image_size=32 if task == "rot" else 64, lr=2e-3, quiet=True, base=8)
    return TrainConfig(task=task, dataset=str(dataset), out=str(out), **{**base, **kw})


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _in_order(task_name, published, cfg):
    """The in-memory tensors of the train split, and the streamed ones of the same rows in the same order."""
    task = get_task(task_name, **({"part_head": True} if task_name == "mask" else {}))  # masks: with its target
    vocab, samples = prepare(task, cfg, splits=("train",))
    memory = task.torch_dataset(samples["train"], train=False, seed=0, augment=False)
    rows = streaming._raw(data.open_dataset(str(published.out), task.dataset.name, streaming=True)["train"])
    names = (
        data.part_names_of(data.instance_feature(rows.features["instances"])["part_id"])
        if task_name == "mask"
        else data.part_names_of(rows.features["part_id"])
    )
    if task_name == "mask":
        convert = streaming.mask_converter(vocab, names, cfg.image_size, parts=True)
    else:
        convert = streaming.rotation_converter(vocab, names, cfg.image_size, augment=False, has_crop=True)
    streamed = [s for row in rows for s in convert(row, np.random.default_rng(0))]
    return vocab, [memory[i] for i in range(len(memory))], streamed


@pytest.mark.parametrize("task_name", ["mask", "rot"])
def test_streamed_samples_are_the_in_memory_samples(published, tmp_path, task_name):
    cfg = _cfg(task_name, published.out, tmp_path)
    vocab, memory, streamed = _in_order(task_name, published, cfg)
    assert len(streamed) == len(memory) > 0
    for a, b in zip(memory, streamed):
        assert a.keys() == b.keys()
        for k in a:
            if k == "sym":  # in memory: padded with identities to the split's largest group; streamed: per batch
                g = len(b[k])
                assert torch.equal(a[k][:g], b[k]) and torch.equal(a[k][g:], torch.eye(3).expand(len(a[k]) - g, 3, 3))
            else:
                assert torch.equal(a[k].to(b[k].dtype), b[k]), k
    scanned_vocab, count = streaming._scan(get_task(task_name), cfg)
    assert scanned_vocab == vocab  # the column-only scan gives the in-memory vocabulary
    assert count >= len(memory) if task_name == "mask" else count == len(memory)


@pytest.mark.parametrize("task_name", ["mask", "rot"])
def test_streaming_run_trains_through_the_iterable_path(published, tmp_path, task_name, caplog, one_thread):
    caplog.set_level(logging.INFO, logger="legodata.train.streaming")
    cfg = _cfg(task_name, published.out, tmp_path / "run", streaming=True, shuffle_buffer=16, device="auto")
    result = train(cfg)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["streaming"] is True
    assert saved["data"]["kind"] == "StreamDataset"
    per_epoch = saved["data"]["train_samples_per_epoch"]
    assert per_epoch == streaming._scan(get_task(task_name), cfg)[1]  # one pass, as counted
    assert any("streaming" in r.getMessage() and "shuffle buffer 16" in r.getMessage() for r in caplog.records)
    assert result["epochs_done"] == 2
    steps_per_epoch = per_epoch // 8 if per_epoch > 8 else 1  # drop_last as the in-memory loader
    assert result["history"][-1]["step"] == 2 * steps_per_epoch
    assert all(math.isfinite(h["train_loss"]) for h in result["history"])
    key = "iou" if task_name == "mask" else "median_deg"
    assert math.isfinite(result["validation"][key]) and result["test"]["n"] > 0
    assert (tmp_path / "run" / "best.pt").is_file()


def test_epoch_samples_sets_the_epoch_and_the_stream_goes_round(published, tmp_path, one_thread):
    """An epoch of more samples than a pass: the stream is read again; shuffled differently each epoch."""
    cfg = _cfg("rot", published.out, tmp_path / "run", streaming=True, epoch_samples=40, limit=12, epochs=1)
    vocab, samples = streaming.prepare_streaming(get_task("rot"), cfg)
    stream = samples["train"]
    assert len(stream) == 40 and stream.per_process == 40
    ds = streaming.StreamDataset(stream)
    first = [s["R"] for s in ds]
    assert len(first) == 40
    ds.set_epoch(1)
    second = [s["R"] for s in ds]
    assert not all(torch.equal(a, b) for a, b in zip(first, second))  # another shuffle, another augmentation
    result = train(cfg)
    assert result["history"][-1]["step"] == 5  # 40 samples, batch 8


def test_a_run_without_streaming_is_unchanged(published, tmp_path, one_thread):
    cfg = _cfg("rot", published.out, tmp_path / "run", epochs=1, limit=16)
    result = train(cfg)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["streaming"] is False
    assert saved["data"] == {"kind": "RotationTorchDataset", "train_samples_per_epoch": 16}
    assert result["history"][-1]["step"] == 2


def test_cli_streaming_flags(published, tmp_path, one_thread):
    from legodata.cli import app

    out = tmp_path / "run"
    args = ["train-rot", str(published.out), "--out", str(out), "--streaming", "--epoch-samples", "16"]
    args += ["--shuffle-buffer", "8", "--epochs", "1", "--image-size", "32", "--batch-size", "8", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["train"]["epoch_samples"] == 16 and saved["train"]["shuffle_buffer"] == 8
    assert json.loads((out / "metrics.json").read_text())["history"][-1]["step"] == 2
    with pytest.raises(LegodataError, match="--epoch-samples 16: only with --streaming"):
        TrainConfig(task="rot", dataset="d", out="o", epoch_samples=16).validate()


@pytest.mark.slow
def test_ddp_processes_split_the_stream_and_take_the_same_steps(published, tmp_path):
    """torchrun with 2 processes: each reads its part of the stream (split_dataset_by_node) and yields its share
    of --epoch-samples, so both take the same steps and the run ends."""
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "legodata.cli", "train-rot"]
    cmd += [str(published.out), "--out", str(tmp_path / "ddp"), "--streaming", "--epoch-samples", "24"]
    cmd += ["--batch-size", "4", "--epochs", "2", "--image-size", "32", "--device", "cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["epochs_done"] == 2
    assert metrics["history"][-1]["step"] == 6  # 12 samples per process, batch 4, two epochs
    assert all(math.isfinite(h["train_loss"]) for h in metrics["history"])
