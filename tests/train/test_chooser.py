"""The second look: the chooser's crops are the publisher's square crop of each instance, it learns the parts on real
steps, its rule keeps the pieces of the queried part, and a ``--second-look`` run saves, reports and reloads it."""

import json

import numpy as np
import pytest

from legodata.errors import LegodataError
from legodata.train import chooser
from legodata.train.loop import TrainConfig, prepare
from legodata.train.tasks import get_task, task_of_run, task_options

torch = pytest.importorskip("torch")


def _train_samples(published, tmp_path):
    cfg = TrainConfig(task="mask", dataset=str(published.out), out=str(tmp_path), image_size=64, quiet=True)
    vocab, samples = prepare(get_task("mask"), cfg, splits=("train",))
    return vocab, samples["train"]


def test_instance_crops_centre_each_visible_instance_with_its_part(published, tmp_path):
    vocab, s = _train_samples(published, tmp_path)
    x, y = chooser.instance_crops(s)
    visible = [(q, i) for q in range(len(s)) for i in s.instance_ids[q] if (s.labels[s.scene[q]] == i).sum() >= 4]
    assert x.shape == (len(visible), 4, chooser.CROP, chooser.CROP) and len(visible) > 20
    np.testing.assert_array_equal(y.numpy(), [s.part[q] for q, _ in visible])
    for k in range(len(x)):
        m = x[k, 3].numpy() > 0
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        # the publisher's box: the longer side of the visible box plus 10% on each side, centred on it
        assert chooser.CROP / 1.2 - 3 <= extent <= chooser.CROP / 1.2 + 3
        assert abs((rows[0] + rows[-1]) / 2 - (chooser.CROP - 1) / 2) <= 2
        assert abs((cols[0] + cols[-1]) / 2 - (chooser.CROP - 1) / 2) <= 2
        assert (x[k, :3][:, ~torch.from_numpy(m)] == 0).all()  # masked like the rotation model's input


def test_chooser_learns_the_parts_on_real_steps(published, tmp_path):
    vocab, s = _train_samples(published, tmp_path)
    x, y = chooser.instance_crops(s)
    n = len(vocab.part_names)
    torch.manual_seed(0)
    before = chooser.build_chooser(n).eval()
    model, report = chooser.train_chooser(x, y, n, "cpu", seconds=None, epochs=80)
    assert report.epochs == 80 and report.train_crops == len(x) and report.crops_per_s > 0

    def accuracy(m):
        return float((chooser.part_probabilities(m, x, "cpu").argmax(1) == y.numpy()).mean())

    assert accuracy(model) >= 0.9 and accuracy(model) > accuracy(before) + 0.2


def test_part_probabilities_average_over_the_squares_symmetries():
    torch.manual_seed(0)
    model = chooser.build_chooser(5).eval()
    with torch.no_grad():
        model[-1].weight.mul_(300)  # sharp answers, so that a turn of the input changes them
    ramp = torch.linspace(0, 4, chooser.CROP)
    x = (ramp[None, :, None] * torch.rand(3, 4, 1, 1)).expand(3, 4, chooser.CROP, chooser.CROP).contiguous()
    p = chooser.part_probabilities(model, x, "cpu")
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    views = (torch.rot90(x, 1, (2, 3)), torch.flip(x, (3,)), torch.flip(x, (2,)))
    for view in views:
        np.testing.assert_allclose(chooser.part_probabilities(model, view, "cpu"), p, atol=1e-5)
    with torch.no_grad():  # the network alone answers differently for a turned crop
        assert not np.allclose(torch.softmax(model(x), 1), torch.softmax(model(views[0]), 1), atol=1e-3)


class _BySize(torch.nn.Module):
    """A fixed stand-in for a trained chooser (the rule under test is what ``choose`` does with its answers): part 0
    with probability ``confidence`` for crops whose piece fills the crop most, part 1 with it otherwise, 0.05 for
    the other of the two, the rest to a third part."""

    def __init__(self, confidence: float) -> None:
        super().__init__()
        self.confidence = confidence

    def forward(self, x):
        c, rest = self.confidence, 0.95 - self.confidence
        big = torch.tensor([c, 0.05, rest]).log()
        small = torch.tensor([0.05, c, rest]).log()
        is_big = (x[:, 3].flatten(1).mean(1) > 0.3)[:, None]
        return torch.where(is_big, big, small)


def _two_pieces():
    image = np.full((64, 64, 3), 120, np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[5:25, 5:25] = True  # a square: fills its crop
    mask[40:42, 30:60] = True  # a thin bar: fills little of its crop
    return image, mask


def test_choose_keeps_the_pieces_it_takes_for_the_queried_part():
    image, mask = _two_pieces()
    square = np.zeros_like(mask)
    square[5:25, 5:25] = True
    sure = _BySize(0.9)
    np.testing.assert_array_equal(chooser.choose(mask, image, 0, sure, "cpu"), square)
    np.testing.assert_array_equal(chooser.choose(mask, image, 1, sure, "cpu"), mask & ~square)
    one = np.zeros_like(mask)
    one[40:42, 30:60] = True
    np.testing.assert_array_equal(chooser.choose(one, image, 0, sure, "cpu"), one)  # a single piece stays
    # neither piece reaches KEEP for part 0 when the chooser is unsure: the likeliest one stays
    unsure = _BySize(chooser.KEEP - 0.05)
    np.testing.assert_array_equal(chooser.choose(mask, image, 0, unsure, "cpu"), square)


def test_choose_finds_the_queried_part_among_the_pieces_of_the_colour_mask():
    image, both = _two_pieces()
    square, bar = np.zeros_like(both), np.zeros_like(both)
    square[5:25, 5:25], bar[40:42, 30:60] = True, True
    sure = _BySize(0.9)
    # the query's mask holds only the bar (another part of the colour); the colour head's mask holds both
    np.testing.assert_array_equal(chooser.choose(bar, image, 0, sure, "cpu", same_colour=both), square)
    np.testing.assert_array_equal(chooser.choose(bar, image, 1, sure, "cpu", same_colour=both), bar)
    # the colour head missed the square: the query's own mask still offers its pieces
    np.testing.assert_array_equal(chooser.choose(square, image, 0, sure, "cpu", same_colour=bar), square)


class _Recording(_BySize):
    """:class:`_BySize` that keeps the crops it was shown."""

    def forward(self, x):
        self.seen = x
        return super().forward(x)


def test_choose_cuts_its_crops_from_a_larger_source_image():
    image, mask = _two_pieces()
    source = np.full((128, 128, 3), 200, np.uint8)  # the same scene at twice the size (told apart by its grey)
    square = np.zeros_like(mask)
    square[5:25, 5:25] = True
    sure = _Recording(0.9)
    chosen = chooser.choose(mask, image, 0, sure, "cpu", source=source)
    assert chosen.shape == mask.shape
    np.testing.assert_array_equal(chosen, square)
    inside = sure.seen[:, 3] > 0
    np.testing.assert_allclose(sure.seen[:, 0][inside], 200 / 127.5 - 1, atol=1e-3)  # cut from the source
    seen_from_image = chooser.choose(mask, image, 0, _Recording(0.9), "cpu")
    np.testing.assert_array_equal(seen_from_image, chosen)


def test_colour_targets_are_every_instance_of_the_queried_colour(published, tmp_path):
    from legodata.train.data import make_mask_dataset

    _, s = _train_samples(published, tmp_path)
    ids = s.colour_instance_ids()
    ds = make_mask_dataset(s, references=False, colours=True)
    shared = 0
    for q in range(len(s)):
        others = [j for j in range(len(s)) if s.scene[j] == s.scene[q] and s.colour[j] == s.colour[q]]
        assert sorted(ids[q]) == sorted(i for j in others for i in s.instance_ids[j])
        shared += len(others) > 1
        expected = np.isin(s.labels[s.scene[q]], ids[q])
        np.testing.assert_array_equal(ds[q]["colour_target"][0].numpy() > 0, expected)
        assert (expected | ~s.target(q)).all()  # the query's own instances are among them
    assert shared  # the fixture has scenes with two parts of one colour


def test_cli_second_look_run_saves_reports_and_reloads_its_chooser(published, tmp_path):
    from typer.testing import CliRunner

    from legodata.cli import app
    from legodata.train.predict import MaskPredictor

    out = tmp_path / "run"
    args = ["train-mask", str(published.out), "--out", str(out), "--second-look", "--epochs", "1"]
    result = CliRunner().invoke(app, [*args, "--batch-size", "8", "--image-size", "64", "--quiet"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    look = metrics["second_look"]
    assert look["epochs"] == 30 and look["train_crops"] > 20 and 0 <= look["test_without"]["iou"] <= 1
    assert (out / "chooser.pt").is_file()
    saved = (out / "chooser.pt").stat().st_mtime_ns
    result = CliRunner().invoke(app, [*args, "--batch-size", "8", "--image-size", "64", "--quiet", "--resume"])
    assert result.exit_code == 0, result.output
    assert (out / "chooser.pt").stat().st_mtime_ns == saved  # a resumed run keeps its chooser
    assert json.loads((out / "metrics.json").read_text())["second_look"]["train_crops"] == look["train_crops"]
    result = CliRunner().invoke(app, ["evaluate", str(out), str(published.out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "eval-test.json").read_text())["iou"] == pytest.approx(metrics["test"]["iou"])

    predictor = MaskPredictor(out)
    assert predictor.task.chooser is not None
    vocab, s = _train_samples(published, tmp_path)
    image = s.images[s.scene[0]]
    part, colour = s.part_names[s.part[0]], vocab.colour_codes[s.colour[0]]
    chosen = predictor.predict(image, part, colour)
    assert predictor.model_config["colour_head"] and predictor.task.colour_head
    pool = (predictor.probabilities(image, part, colour) > 0.5) | (
        predictor.colour_probabilities(image, part, colour) > 0.5
    )
    assert not (chosen & ~pool).any()  # only pieces of the query's or the colour head's mask

    (out / "chooser.pt").unlink()
    with pytest.raises(LegodataError, match="chooser.pt does not exist"):
        MaskPredictor(out)


@pytest.mark.parametrize(
    ("settings", "says"), [({"query": "image"}, "--query id only"), ({"streaming": True}, "drop --streaming")]
)
def test_second_look_refuses_what_it_cannot_do(settings, says):
    cfg = TrainConfig(task="mask", dataset="d", out="o", second_look=True, **settings)
    with pytest.raises(LegodataError, match=f"--second-look .*{says}"):
        cfg.validate()


def test_colour_head_follows_the_second_look_unless_set():
    def options(**settings):
        cfg = TrainConfig(task="mask", dataset="d", out="o", **settings)
        cfg.validate()
        return task_options(cfg)["colour_head"]

    assert options(second_look=True) and not options() and not options(second_look=True, colour_head=False)
    assert not task_of_run("mask", {"second_look": True}).colour_head  # a run from before the colour head
    with pytest.raises(LegodataError, match="colour head is for train-mask"):
        TrainConfig(task="rot", dataset="d", out="o", colour_head=True).validate()
