"""train-mask --query image: the query is a reference image of the part (its crop from another scene); real
training steps on the published cuboid dataset."""

import json

import numpy as np
import pytest
from support.cuboids import COLOUR_CODES, colour_rgb255
from typer.testing import CliRunner

from legodata.errors import LegodataError
from legodata.train.loop import TrainConfig, prepare, train
from legodata.train.references import masked_crop, pick_reference, reference_choices
from legodata.train.tasks import get_task

torch = pytest.importorskip("torch")


def _cfg(dataset, out, **kw):
    base = dict(epochs=2, batch_size=8, image_size=32, lr=2e-3, quiet=True, base=8, query="image", precision="fp32")
    return TrainConfig(task="mask", dataset=str(dataset), out=str(out), **{**base, **kw})


@pytest.fixture(scope="module")
def overfit_image_run(published, tmp_path_factory):
    """train-mask --query image on 8 training scenes until it has learnt them."""
    run = tmp_path_factory.mktemp("imgq") / "run"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(_cfg(published.out, run, epochs=60, batch_size=4, lr=1e-2, limit=8))
    finally:
        torch.set_num_threads(before)
    return run, result


def test_masked_crop_keeps_only_the_part_on_black():
    image = np.full((40, 60, 3), 200, np.uint8)
    image[10:20, 30:50] = (10, 120, 250)
    mask = np.zeros((40, 60), bool)
    mask[10:20, 30:50] = True
    crop = masked_crop(image, mask, size=24, margin=0.0)
    assert crop.shape == (24, 24, 3)
    lit = crop.any(axis=2)
    assert lit[6:18].all() and not lit[:4].any() and not lit[-4:].any()  # a 20x10 box centred in a 21 px square
    assert (crop[lit] == (10, 120, 250)).all(axis=1).mean() > 0.6  # the part (its edge rows blend with black)
    assert crop[..., 0].max() <= 10  # nothing of the grey (200) background around the part
    assert not masked_crop(image, np.zeros_like(mask)).any()


def test_reference_is_the_same_part_and_colour_from_another_scene():
    part, colour, scene = np.array([0, 0, 1, 0, 1]), np.array([2, 2, 2, 3, 2]), np.array([0, 1, 1, 2, 2])
    choices = reference_choices(part, colour, scene)
    assert [c.tolist() for c in choices] == [[1], [0], [4], [3], [2]]  # query 3 is alone: its own crop
    rng = np.random.default_rng(0)
    assert pick_reference(np.array([5, 6, 7]), 0, None) == pick_reference(np.array([5, 6, 7]), 0, None)
    assert {pick_reference(np.array([5, 6, 7]), 0, rng) for _ in range(50)} == {5, 6, 7}


def test_samples_reference_crops_show_the_queried_colour(published, tmp_path):
    vocab, samples = prepare(get_task("mask", query="image"), _cfg(published.out, tmp_path, image_size=64), ("train",))
    s = samples["train"]
    assert s.ref_crops is None  # made on first use: an id-query run never pays for them
    s.reference(0)
    assert s.ref_crops.shape == (len(s), 32, 32, 3)
    palette = np.stack([colour_rgb255(c) for c in COLOUR_CODES])
    other_scene = 0
    for q in range(len(s)):
        r = s.ref_choices[q][0]
        assert s.part[r] == s.part[q] and s.colour[r] == s.colour[q]
        other_scene += s.scene[r] != s.scene[q]
        ref = s.reference(q).reshape(-1, 3).astype(float)
        lit = ref[ref.sum(1) > 100] - 20  # the part's faces: shaded copies of its colour, + 20 (cuboids.py)
        assert len(lit) > 20
        cos = (lit / np.linalg.norm(lit, axis=1, keepdims=True)) @ (
            palette / np.linalg.norm(palette, axis=1)[:, None]
        ).T
        nearest = np.argmax(cos.mean(0))
        assert COLOUR_CODES[nearest] == vocab.colour_codes[s.colour[q] - 1]
    assert other_scene > 0.8 * len(s)


def test_image_query_overfits_its_training_images(published, overfit_image_run):
    from legodata.train.evaluate import evaluate_run

    run, result = overfit_image_run
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["query"] == "image" and config["train"]["query"] == "image"
    on_train = evaluate_run(run, str(published.out), split="train", checkpoint="last", device="cpu", limit=8)
    print(f"image query, 8 training scenes: IoU {on_train['iou']:.3f} on them, {result['test']['iou']:.3f} on test")
    assert on_train["iou"] > 0.5, on_train
    assert on_train["iou"] > result["test"]["iou"]  # it learnt its training images, references from other scenes


def test_mask_predictor_takes_the_reference_as_training_did(published, overfit_image_run, tmp_path):
    from legodata.train.predict import MaskPredictor

    run, _ = overfit_image_run
    predictor = MaskPredictor(run, checkpoint="last")
    task = get_task("mask", query="image")
    _, samples = prepare(task, _cfg(published.out, tmp_path, limit=8), ("train",))
    s = samples["train"]
    want = task.predict(predictor.model, s, np.arange(len(s)), predictor.device, 8)
    for q in range(len(s)):
        image = s.images[s.scene[q]]  # already at the model's size: no resizing on either path
        code = predictor.vocab.colour_codes[s.colour[q] - 1]
        got = predictor.predict(image, s.part_names[s.part[q]], code, reference=s.reference(q))
        np.testing.assert_array_equal(got, want[q])
    with pytest.raises(LegodataError, match="reference image"):
        predictor.predict(image, s.part_names[s.part[0]], code)


def test_image_query_model_needs_a_reference(overfit_image_run):
    from legodata.train.evaluate import load_run

    _, model, _, _ = load_run(overfit_image_run[0], checkpoint="last")
    x = torch.zeros(1, 3, 32, 32)
    idx = torch.zeros(1, dtype=torch.long)
    with pytest.raises(LegodataError, match="reference image"):
        model(x, idx, idx, torch.zeros(1, 3))


def test_query_flag_errors_are_one_line(published, tmp_path):
    with pytest.raises(LegodataError, match="--query 'name'"):
        _cfg(published.out, tmp_path, query="name").validate()
    with pytest.raises(LegodataError, match="drop --streaming"):
        _cfg(published.out, tmp_path, streaming=True).validate()
    with pytest.raises(LegodataError, match="train-mask only"):
        TrainConfig(task="rot", dataset="d", out="o", query="image").validate()
    from legodata.cli import app

    result = CliRunner().invoke(app, ["train-mask", str(published.out), "--out", str(tmp_path / "r"), "--query", "px"])
    assert isinstance(result.exception, LegodataError) and "--query 'px'" in str(result.exception)  # main(): 1 line


def test_cli_trains_an_image_query_run(published, tmp_path):
    from legodata.cli import app

    out = tmp_path / "run"
    args = ["train-mask", str(published.out), "--out", str(out), "--query", "image", "--epochs", "1", "--limit", "4"]
    result = CliRunner().invoke(app, [*args, "--image-size", "32", "--batch-size", "4", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["model"]["query"] == "image"
    assert "test: IoU" in result.output
