"""The mask model's part head: its target is the samples' own part of every pixel, it trains on real steps, and
a run with it reloads as it was trained."""

import numpy as np
import pytest
from support.training_steps import losses_over_steps

from legodata.errors import LegodataError
from legodata.train.loop import TrainConfig, prepare
from legodata.train.models import build_model
from legodata.train.tasks import get_task, task_of_run

torch = pytest.importorskip("torch")


def _samples(published, tmp_path):
    cfg = TrainConfig(task="mask", dataset=str(published.out), out=str(tmp_path), image_size=64, quiet=True)
    vocab, samples = prepare(get_task("mask"), cfg, splits=("train",))
    return vocab, samples["train"]


def _batch(items: list[dict]) -> dict:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def test_part_maps_give_every_query_pixel_its_part_and_nothing_else(published, tmp_path):
    _, s = _samples(published, tmp_path)
    maps = s.part_maps()
    covered = np.zeros(maps.shape, bool)
    for q in range(len(s)):
        target = s.target(q)
        assert (maps[s.scene[q]][target] == s.part[q] + 1).all()
        covered[s.scene[q]] |= target
    assert (maps[~covered] == 0).all() and covered.any()


def test_part_head_trains_and_its_run_reloads_as_it_was_trained(published, tmp_path):
    vocab, s = _samples(published, tmp_path)
    task = get_task("mask", part_head=True)
    config = task.model_config(vocab, 8)
    reloaded = task_of_run("mask", config)
    assert reloaded.part_head and not task_of_run("mask", get_task("mask").model_config(vocab, 8)).part_head
    torch.manual_seed(0)
    model = build_model(config)
    ds = task.torch_dataset(s, train=True, seed=0, augment=True)
    batch = _batch([ds[i] for i in range(4)])
    losses = losses_over_steps(task, model, batch)
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    np.testing.assert_array_equal(batch["parts"].numpy(), s.part_maps()[s.scene[:4]])  # each query's image
    plain = build_model(get_task("mask").model_config(vocab, 8))
    with pytest.raises(LegodataError, match="no part head"):
        plain(batch["image"], batch["part"], batch["colour"], batch["colour_rgb"], with_parts=True)


def test_part_and_colour_heads_train_together_and_reload(published, tmp_path):
    vocab, s = _samples(published, tmp_path)
    task = get_task("mask", part_head=True, second_look=True, colour_head=True)
    config = task.model_config(vocab, 8)
    reloaded = task_of_run("mask", config)
    assert reloaded.part_head and reloaded.colour_head and reloaded.second_look
    torch.manual_seed(0)
    model = build_model(config)
    ds = task.torch_dataset(s, train=True, seed=0, augment=True)
    batch = _batch([ds[i] for i in range(4)])
    query = (batch["image"], batch["part"], batch["colour"], batch["colour_rgb"])
    mask, parts, colour = model(*query, with_parts=True, with_colour=True)
    assert mask.shape == colour.shape == (4, 1, 64, 64) and parts.shape == (4, len(vocab.part_names) + 1, 64, 64)
    losses = losses_over_steps(task, model, batch)
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    with pytest.raises(LegodataError, match="no colour head"):
        build_model(get_task("mask").model_config(vocab, 8))(*query, with_colour=True)


def test_cli_part_head_run_trains_and_predicts(published, tmp_path):
    from typer.testing import CliRunner

    from legodata.cli import app
    from legodata.train.checkpoint import read_checkpoint
    from legodata.train.predict import MaskPredictor

    out = tmp_path / "run"
    args = ["train-mask", str(published.out), "--out", str(out), "--part-head", "--epochs", "1", "--batch-size", "8"]
    result = CliRunner().invoke(app, [*args, "--image-size", "64", "--quiet"])
    assert result.exit_code == 0, result.output
    assert read_checkpoint(out / "best.pt")["model_config"]["part_head"] is True
    image = np.zeros((64, 64, 3), np.uint8)
    part, colour = published_query(published)
    assert MaskPredictor(out).predict(image, part, colour).shape == (64, 64)


def published_query(published) -> tuple[str, int]:
    """A (part id, colour code) present in the published store."""
    rec = next(iter(published.store.iter_records()))
    inst = next(i for i in rec.instances if i.px_count_visib)
    return inst.part_id, inst.colour_code
