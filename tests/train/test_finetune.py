"""``--weights`` across datasets whose vocabularies differ: rows mapped by name, real training steps from them."""

import json
import logging

import pytest
import support.cuboids as cuboids

from legodata.errors import LegodataError
from legodata.train.finetune import initial_weights, map_rows
from legodata.train.loop import TrainConfig, prepare, train
from legodata.train.models import build_model
from legodata.train.tasks import get_task

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def other_vocab(tmp_path_factory):
    """A second published dataset: only the slope 3039, in red, yellow and green (the first: 3001 and 3039 in blue,
    red and yellow)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cuboids, "PART_NAMES", ["3039"])
        mp.setattr(cuboids, "COLOUR_CODES", (4, 14, 2))
        return cuboids.publish_cuboids(tmp_path_factory.mktemp("other"), seed=3)


@pytest.fixture(scope="module")
def source_runs(published, tmp_path_factory):
    """A short mask run and a short rotation run on the first dataset."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("source")
    runs = {}
    for task, size, epochs in (("mask", 64, 6), ("rot", 32, 2)):
        cfg = TrainConfig(
            task=task, dataset=str(published.out), out=str(root / task), epochs=epochs, batch_size=8,
            image_size=size, base=8, lr=3e-3, quiet=True, part_head=task == "mask",
        )  # fmt: skip
        train(cfg)
        runs[task] = root / task / "best.pt"
    return runs


def _cfg(task, dataset, out, **kw):
    size = 64 if task == "mask" else 32
    return TrainConfig(
        task=task, dataset=str(dataset), out=str(out), epochs=1, batch_size=8, image_size=size, base=8, lr=1e-3,
        quiet=True, **kw,
    )  # fmt: skip


def test_map_rows_keeps_shared_names_and_the_reserved_row():
    source = torch.arange(4.0)[:, None].repeat(1, 2)  # row 0 reserved, then colours 1, 4, 14
    target = torch.full((4, 2), -1.0)
    kept, new, dropped = map_rows(target, source, [4, 2, 14], [1, 4, 14], offset=1)
    assert (kept, new, dropped) == ([4, 14], [2], [1])
    assert target[:, 0].tolist() == [0.0, 2.0, -1.0, 3.0]


def test_mask_weights_map_parts_and_colours_by_name(published, other_vocab, source_runs, tmp_path, caplog):
    task = get_task("mask", part_head=True)
    vocab, _ = prepare(task, _cfg("mask", other_vocab, tmp_path), splits=())
    assert vocab.part_names == ["3039"] and vocab.colour_codes == [2, 4, 14]
    config = {**task.model_config(vocab, 8), "image_size": 64}
    torch.manual_seed(0)
    fresh = build_model(config).state_dict()
    model = build_model(config)
    model.load_state_dict(fresh)
    ckpt = torch.load(source_runs["mask"], weights_only=False)
    src, src_config = ckpt["model"], ckpt["model_config"]
    assert src_config["part_names"] == ["3001", "3039"] and src_config["colour_codes"] == [1, 4, 14]
    with caplog.at_level(logging.INFO, logger="legodata.train.finetune"):
        report = initial_weights(model, config, str(source_runs["mask"]))
    got = model.state_dict()
    assert torch.equal(got["query.part.weight"][0], src["query.part.weight"][1])  # 3039 was row 1
    colour = got["query.colour.weight"]
    assert torch.equal(colour[0], src["query.colour.weight"][0])  # unknown colour
    assert torch.equal(colour[1], fresh["query.colour.weight"][1])  # green: new, fresh row
    assert torch.equal(colour[2:], src["query.colour.weight"][2:])  # red, yellow: rows 2, 3 in both
    for key in ("part_head.weight", "part_head.bias"):  # row 0 background, then one row per part
        assert torch.equal(got[key], src[key][[0, 2]]), key  # 3039 was the part head's row 2
    assert torch.equal(got["down.0.0.weight"], src["down.0.0.weight"])
    assert report.copied == report.total and not report.fresh
    assert report.new == {"part_names": [], "colour_codes": [2]} and report.dropped["part_names"] == ["3001"]
    line = caplog.records[-1].getMessage()
    assert "1 kept by name" in line and "1 new with fresh rows (2)" in line and "dropped (3001)" in line, line


@pytest.mark.parametrize("task_name", ["mask", "rot"])
def test_fine_tuning_on_another_vocabulary_trains_from_the_mapped_weights(
    other_vocab, source_runs, tmp_path, task_name
):
    torch.set_num_threads(1)
    tuned = train(_cfg(task_name, other_vocab, tmp_path / "tuned", weights=str(source_runs[task_name])))
    scratch = train(_cfg(task_name, other_vocab, tmp_path / "scratch"))
    info = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert info["weights"]["dropped"]["part_names"] == ["3001"] and info["weights"]["kept"]["part_names"] == ["3039"]
    assert "weights" not in json.loads((tmp_path / "scratch" / "config.json").read_text())
    key = "query.part.weight" if task_name == "mask" else "part.weight"
    source = torch.load(source_runs[task_name], weights_only=False)["model"][key][1]  # 3039's row
    after = {n: torch.load(tmp_path / n / "last.pt", weights_only=False)["model"][key][0] for n in ("tuned", "scratch")}
    # one epoch of small steps from 3039's trained row stays near it; the scratch row started elsewhere
    assert (after["tuned"] - source).norm() < 0.5 * (after["scratch"] - source).norm()
    if task_name == "mask":  # the source learnt masks (6 epochs): the same data, seed and steps start ahead
        assert tuned["history"][0]["train_loss"] < scratch["history"][0]["train_loss"], (tuned, scratch)


def test_weights_of_the_other_task_or_width_are_refused(other_vocab, source_runs, tmp_path):
    with pytest.raises(LegodataError, match="'mask' model's checkpoint"):
        train(_cfg("rot", other_vocab, tmp_path / "a", weights=str(source_runs["mask"])))
    with pytest.raises(LegodataError, match="no such file"):
        train(_cfg("rot", other_vocab, tmp_path / "b", weights=str(tmp_path / "missing.pt")))
    wide = TrainConfig(**{**_cfg("mask", other_vocab, tmp_path / "c").to_json(), "base": 16})
    with pytest.raises(LegodataError, match="only .* tensors match"):
        train(TrainConfig(**{**wide.to_json(), "weights": str(source_runs["mask"])}))


def test_fine_tuning_that_does_not_help_ends_with_the_starting_weights(published, source_runs, tmp_path):
    torch.set_num_threads(1)
    # a learning rate far too high: the epoch's steps wreck the weights; no epoch beats the start on validation
    cfg = _cfg("mask", published.out, tmp_path / "wrecked", weights=str(source_runs["mask"]), part_head=True)
    result = train(TrainConfig(**{**cfg.to_json(), "lr": 50.0}))
    start = result["start_validation"]["iou"]
    assert result["history"][0]["validation"]["iou"] <= start
    assert result["best_epoch"] == 0 and result["validation"]["iou"] == pytest.approx(start)
    source = torch.load(source_runs["mask"], weights_only=False)["model"]
    best = torch.load(tmp_path / "wrecked" / "best.pt", weights_only=False)["model"]
    assert all(torch.equal(best[k], v) for k, v in source.items())  # same vocabulary: the weights it started from
    resumed = train(TrainConfig(**{**cfg.to_json(), "lr": 50.0, "epochs": cfg.epochs + 1, "resume": True}))
    assert json.dumps(resumed["start_validation"]) == json.dumps(result["start_validation"])  # in the checkpoint
    scratch = train(_cfg("mask", published.out, tmp_path / "scratch"))
    assert "start_validation" not in scratch and scratch["best_epoch"] == 1  # without --weights: nothing to keep


def test_fine_tuning_defaults_to_a_lower_learning_rate():
    from legodata.train.config import FINETUNE_LR_FACTOR, TASK_DEFAULTS

    for task in ("mask", "rot"):
        default = TASK_DEFAULTS[task].lr
        assert TrainConfig(task=task, dataset="d", out="o").lr == default
        assert TrainConfig(task=task, dataset="d", out="o", weights="w.pt").lr == pytest.approx(
            FINETUNE_LR_FACTOR * default
        )
        assert TrainConfig(task=task, dataset="d", out="o", weights="w.pt", lr=0.01).lr == 0.01  # --lr wins
