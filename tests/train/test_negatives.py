import numpy as np
import pytest

from legodata.train.negatives import SAME_COLOUR_SHARE, negative_query, query_table

torch = pytest.importorskip("torch")


def _table():
    # scene 0 holds (part 0, colour 1) and (part 1, colour 1); scene 1 holds (part 2, colour 2)
    scene = np.array([0, 0, 1])
    part = np.array([0, 1, 2])
    colour = np.array([1, 1, 2])
    rgb = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1]], np.float32)
    return query_table(scene, part, colour, rgb, n_parts=3)


def test_negatives_are_absent_from_the_scene_and_mostly_same_colour():
    table = _table()
    rng = np.random.default_rng(0)
    draws = [negative_query(table, 0, 0, 1, rng) for _ in range(600)]
    assert all(d is not None and (d[0], d[1]) not in table.present[0] for d in draws)
    same_colour = sum(d[1] == 1 for d in draws) / len(draws)
    assert abs(same_colour - SAME_COLOUR_SHARE) < 0.07
    assert {(d[0], d[1]) for d in draws} == {(2, 1), (0, 2)}  # the other shape in red, the same shape in blue
    np.testing.assert_array_equal(next(d[2] for d in draws if d[1] == 2), [0, 0, 1])


def test_no_negative_when_every_candidate_is_present():
    scene, part, colour = np.zeros(2, int), np.array([0, 1]), np.array([1, 1])
    table = query_table(scene, part, colour, np.zeros((2, 3), np.float32), n_parts=2)
    assert negative_query(table, 0, 0, 1, np.random.default_rng(0)) is None


def test_training_queries_swap_a_share_for_empty_targets(published, tmp_path):
    from legodata.train.loop import TrainConfig, prepare
    from legodata.train.tasks import get_task

    cfg = TrainConfig(task="mask", dataset=str(published.out), out=str(tmp_path / "run"), image_size=64)
    task = get_task("mask", negatives=0.5)
    _, samples = prepare(task, cfg, ("train",))
    s = samples["train"]
    train_ds = task.torch_dataset(s, train=True, seed=0, augment=True)
    items = [train_ds[q] for q in range(len(s))]
    swapped = [q for q, it in enumerate(items) if it["part"] != s.part[q] or it["colour"] != s.colour[q]]
    assert 0.3 < len(swapped) / len(s) < 0.7
    for q in swapped:
        assert items[q]["target"].sum() == 0
        assert (int(items[q]["part"]), int(items[q]["colour"])) not in train_ds.table.present[int(s.scene[q])]
    kept = [q for q in range(len(s)) if q not in swapped]
    assert all(items[q]["target"].sum() > 0 for q in kept)
    again = task.torch_dataset(s, train=True, seed=0, augment=True)
    assert all(torch.equal(again[q]["part"], items[q]["part"]) for q in range(len(s)))  # fixed per (seed, epoch, q)
    evaluation = task.torch_dataset(s, train=False, seed=0, augment=True)
    assert all(evaluation[q]["target"].sum() > 0 for q in range(len(s)))  # never in validation or test
