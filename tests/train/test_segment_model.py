"""The segmenting mask model: scene maps, its answer to a query, and that it learns its training scenes."""

import json

import numpy as np
import pytest

from legodata.train.config import TrainConfig
from legodata.train.scene_maps import scene_maps
from legodata.train.segment_model import MaskSegNet, segment_loss

torch = pytest.importorskip("torch")


def test_scene_maps_give_every_pixel_its_instance_part_and_colour():
    labels = np.array([[0, 1, 1], [2, 2, 0], [3, 0, 0]])
    part_map, colour_map = scene_maps(labels, {1: (0, 2), 2: (1, 2), 3: (0, 1)}, n_parts=2)
    np.testing.assert_array_equal(part_map, [[2, 0, 0], [1, 1, 2], [0, 2, 2]])
    np.testing.assert_array_equal(colour_map, [[0, 2, 2], [2, 2, 0], [1, 0, 0]])


def test_query_answer_is_the_likeliest_part_and_the_likeliest_colour():
    torch.manual_seed(0)
    model = MaskSegNet(n_parts=3, colour_rgb=[[1, 0, 0], [0, 0, 1]], base=8, depth=2).eval()
    torch.nn.init.normal_(model.query.no_colour)
    torch.nn.init.normal_(model.query.background)
    model.part_bias.data.zero_()  # no background prior: every class wins somewhere
    model.no_colour_bias.data.zero_()
    image = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        part_logits, colour_logits = model(image)
        assert part_logits.shape == (2, 4, 16, 16) and colour_logits.shape == (2, 3, 16, 16)
        part, colour = torch.tensor([1, 2]), torch.tensor([2, 1])
        answer = model(image, part, colour, model.colour_table[colour - 1])
    likeliest_part = part_logits.argmax(dim=1) == part[:, None, None]
    likeliest_colour = colour_logits.argmax(dim=1) == colour[:, None, None]
    assert likeliest_part.any() and likeliest_colour.any() and (likeliest_part & likeliest_colour).any()
    np.testing.assert_array_equal((answer[:, 0] > 0).numpy(), (likeliest_part & likeliest_colour).numpy())


def test_loss_is_low_only_for_the_right_maps():
    part_map = torch.tensor([[[0, 1], [2, 2]]])  # 2 parts + background (2)
    colour_map = torch.tensor([[[1, 2], [0, 0]]])
    right_parts = torch.nn.functional.one_hot(part_map, 3).movedim(-1, 1).float() * 20 - 10
    right_colours = torch.nn.functional.one_hot(colour_map, 3).movedim(-1, 1).float() * 20 - 10
    good = segment_loss(right_parts, right_colours, part_map, colour_map)
    swapped = segment_loss(right_parts[:, [1, 0, 2]], right_colours, part_map, colour_map)
    assert good < 0.01 < swapped


def test_segment_run_learns_its_training_scenes(published, tmp_path):
    from legodata.train.evaluate import evaluate_run
    from legodata.train.loop import train

    torch.set_num_threads(1)
    run = tmp_path / "run"
    cfg = TrainConfig(
        task="mask", dataset=str(published.out), out=str(run), epochs=100, batch_size=4, image_size=32, lr=1e-2,
        limit=4, quiet=True, base=8, precision="fp32",
    )  # fmt: skip
    train(cfg)
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["arch"] == "segment" and config["train"]["arch"] == "segment"
    on_train = evaluate_run(run, str(published.out), split="train", checkpoint="last", device="cpu", limit=4)
    assert on_train["iou"] > 0.7, on_train
