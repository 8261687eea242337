"""``--shared-levels``: the U-Net's unmodulated encoder levels run once per image and give exactly what they give
per query, training batches keep an image's queries together (every query once per epoch, ranks disjoint), and a
run with them trains, reloads and predicts."""

import numpy as np
import pytest

from legodata.errors import LegodataError
from legodata.train.config import TrainConfig
from legodata.train.grouping import SceneGroupedSampler, grouped_order
from legodata.train.models import MaskUNet, build_model
from legodata.train.tasks import get_task, task_of_run

torch = pytest.importorskip("torch")


def _randomised_films(model) -> None:
    """FiLM starts as the identity: random weights, so that a query reaching the wrong row would show."""
    for film in [*model.down_film, *model.up_film]:
        torch.nn.init.normal_(film.proj.weight, std=0.3)
        torch.nn.init.normal_(film.proj.bias, std=0.3)


@pytest.mark.parametrize("levels", [0, 1, 3, 4, 5])
def test_shared_levels_give_what_each_query_alone_gives(levels):
    torch.manual_seed(0)
    model = MaskUNet(4, 3, base=4, shared_levels=levels, part_head=True, colour_head=True)
    _randomised_films(model)
    model.eval()
    images = torch.rand(3, 3, 32, 32)
    scene = torch.tensor([2, 0, 2, 1, 0, 2])  # queries of three images, interleaved
    part, colour = torch.tensor([0, 1, 2, 3, 0, 1]), torch.tensor([1, 2, 3, 0, 1, 2])
    rgb = torch.rand(6, 3)
    with torch.no_grad():
        alone = model(images[scene], part, colour, rgb, with_parts=True, with_colour=True)
        shared = model(images[scene], part, colour, rgb, with_parts=True, with_colour=True, scene=scene)
        one_by_one = torch.cat([model(images[scene[k : k + 1]], part[k : k + 1], colour[k : k + 1], rgb[k : k + 1])
                                for k in range(6)])  # fmt: skip
    for a, b in zip(alone, shared):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone[0], one_by_one, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(alone[0][0], alone[0][2], atol=1e-3)  # two queries of one image differ


def test_shared_levels_are_checked():
    with pytest.raises(LegodataError, match="shared_levels 6"):
        MaskUNet(4, 3, depth=4, shared_levels=6)
    with pytest.raises(LegodataError, match="--shared-levels"):
        TrainConfig(task="mask", dataset="d", out="o", shared_levels=7).validate()
    with pytest.raises(LegodataError, match="--shared-levels"):
        TrainConfig(task="rot", dataset="d", out="o", shared_levels=2).validate()


def test_grouped_order_keeps_each_images_queries_together():
    scenes = np.repeat(np.arange(10), [3, 5, 1, 4, 6, 2, 3, 5, 4, 7])
    order = grouped_order(scenes, world=1, rank=0, shuffle=True, seed=1, epoch=0)
    assert sorted(order.tolist()) == list(range(len(scenes)))  # every query once
    runs = [scenes[order][0]] + [b for a, b in zip(scenes[order], scenes[order][1:]) if a != b]
    assert sorted(runs) == list(range(10))  # each image's queries in one run
    again = grouped_order(scenes, world=1, rank=0, shuffle=True, seed=1, epoch=0)
    np.testing.assert_array_equal(order, again)
    assert not np.array_equal(order, grouped_order(scenes, 1, 0, True, 1, epoch=1))  # reshuffled per epoch
    np.testing.assert_array_equal(grouped_order(scenes, 1, 0, False, 1, 0), np.arange(len(scenes)))


def test_grouped_order_gives_ranks_disjoint_images_and_equal_shares():
    scenes = np.repeat(np.arange(7), [3, 5, 1, 4, 6, 2, 3])
    shares = [grouped_order(scenes, world=2, rank=r, shuffle=True, seed=0, epoch=3) for r in range(2)]
    assert len(shares[0]) == len(shares[1]) == int(np.ceil(len(scenes) / 2))
    assert not set(scenes[shares[0]]) & set(scenes[shares[1]])
    sampler = SceneGroupedSampler(scenes, world=2, rank=1, seed=0)
    sampler.set_epoch(3)
    assert list(sampler) == shares[1].tolist() and len(sampler) == len(shares[1])


def test_cli_shared_levels_run_trains_groups_and_predicts(published, tmp_path):
    from typer.testing import CliRunner

    from legodata.cli import app
    from legodata.train.checkpoint import read_checkpoint
    from legodata.train.predict import MaskPredictor

    out = tmp_path / "run"
    args = ["train-mask", str(published.out), "--out", str(out), "--shared-levels", "4", "--epochs", "1"]
    result = CliRunner().invoke(app, [*args, "--batch-size", "8", "--image-size", "64", "--quiet"])
    assert result.exit_code == 0, result.output
    config = read_checkpoint(out / "best.pt")["model_config"]
    assert config["shared_levels"] == 4 and task_of_run("mask", config).groups_by_scene
    assert build_model(config).shared_levels == 4
    assert not get_task("mask").groups_by_scene and "shared_levels" not in get_task("mask").model_config(
        *_vocab_and_base(config)
    )
    rec = next(iter(published.store.iter_records()))
    inst = next(i for i in rec.instances if i.px_count_visib)
    part, colour = inst.part_id, inst.colour_code
    assert MaskPredictor(out).predict(np.zeros((64, 64, 3), np.uint8), part, colour).shape == (64, 64)


def _vocab_and_base(config):
    from legodata.train.data import Vocab

    return Vocab.from_json(config), config["base"]
