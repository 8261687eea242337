"""The mask model's part head and late conditioning: part maps and by-image batches are the samples' own
targets, sharing one U-Net pass per image changes no query's output, and both train on real steps."""

import numpy as np
import pytest

from legodata.errors import LegodataError
from legodata.train import data
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


def test_scene_items_hold_every_query_of_their_image(published, tmp_path):
    _, s = _samples(published, tmp_path)
    ds = data.MaskSceneDataset(s, parts=True)
    assert len(ds) == len(s.images) and ds.slots == max(np.bincount(s.scene))
    seen = 0
    for n in range(len(ds)):
        item = ds[n]
        qs = np.flatnonzero(s.scene == n)
        valid = item["valid"].numpy()
        assert valid.sum() == len(qs) and valid[: len(qs)].all()
        np.testing.assert_array_equal(item["part"][: len(qs)].numpy(), s.part[qs])
        np.testing.assert_array_equal(item["colour"][: len(qs)].numpy(), s.colour[qs])
        for slot, q in enumerate(qs):
            np.testing.assert_array_equal(item["target"][slot].numpy().astype(bool), s.target(q))
        assert not item["target"][len(qs) :].any()
        np.testing.assert_array_equal(item["parts"].numpy(), s.part_maps()[n])
        seen += len(qs)
    assert seen == len(s)


def test_late_model_shares_one_pass_per_image_without_changing_any_query(published, tmp_path):
    vocab, s = _samples(published, tmp_path)
    task = get_task("mask", condition="late", part_head=True)
    torch.manual_seed(0)
    model = build_model(task.model_config(vocab, 8)).eval()
    per_query = _batch([data.make_mask_dataset(s, references=False)[q] for q in range(6)])
    images = torch.stack([data.image_tensor(im) for im in s.images[: s.scene[5] + 1]])
    query_image = torch.from_numpy(s.scene[:6])
    with torch.no_grad():
        shared, parts = model(
            images,
            per_query["part"],
            per_query["colour"],
            per_query["colour_rgb"],
            with_parts=True,
            query_image=query_image,
        )
        alone = model(per_query["image"], per_query["part"], per_query["colour"], per_query["colour_rgb"])
    torch.testing.assert_close(shared, alone, atol=1e-5, rtol=1e-4)
    assert parts.shape == (len(images), len(vocab.part_names) + 1, 64, 64)


def test_by_image_loss_is_the_loss_of_the_same_queries_one_by_one(published, tmp_path):
    vocab, s = _samples(published, tmp_path)
    task = get_task("mask", condition="late")
    torch.manual_seed(0)
    model = build_model(task.model_config(vocab, 8)).eval()
    scenes = task.torch_dataset(s, train=True, seed=0, augment=True)
    assert isinstance(scenes, data.MaskSceneDataset)
    n_images = 3
    queries = np.flatnonzero(s.scene < n_images)
    with torch.no_grad():
        by_image = task.loss(model, _batch([scenes[n] for n in range(n_images)]))
        one_by_one = task.loss(model, _batch([data.make_mask_dataset(s, references=False)[q] for q in queries]))
    torch.testing.assert_close(by_image, one_by_one, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("condition", ["film", "late"])
def test_part_head_trains_and_its_run_reloads_as_it_was_trained(published, tmp_path, condition):
    torch.set_num_threads(1)
    vocab, s = _samples(published, tmp_path)
    task = get_task("mask", condition=condition, part_head=True)
    config = task.model_config(vocab, 8)
    reloaded = task_of_run("mask", config)
    assert (reloaded.condition, reloaded.part_head) == (condition, True)
    torch.manual_seed(0)
    model = build_model(config)
    ds = task.torch_dataset(s, train=True, seed=0, augment=True)
    batch = _batch([ds[i] for i in range(4)])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = task.loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    plain = build_model(get_task("mask", condition=condition).model_config(vocab, 8))
    with pytest.raises(LegodataError, match="no part head"):
        plain(
            batch["image"],
            batch["part"][:, 0] if batch["part"].dim() == 2 else batch["part"],
            torch.zeros(4, dtype=torch.long),
            torch.zeros(4, 3),
            with_parts=True,
        )


def test_unknown_condition_is_one_line():
    with pytest.raises(LegodataError, match="condition 'deep'"):
        build_model({"kind": "mask", "part_names": ["a"], "colour_codes": [1], "condition": "deep"})
