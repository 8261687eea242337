"""``legodata evaluate RUN STORE``: a run scored on a local store gives the numbers it gets on the published folder of
that store (the store is published with the run's training-dataset settings), ``--split all`` scores every split, and
records without a mask are counted and reported, never dropped silently."""

import json
import shutil

import cv2
import numpy as np
import pytest
from support.cuboids import PART_NAMES
from support.publish_stores import make_manifest
from typer.testing import CliRunner

from legodata.cli import app
from legodata.core.records import Record
from legodata.errors import LegodataError
from legodata.evaluate_store import evaluate_store, store_counts
from legodata.store.store import Store
from legodata.train.evaluate import evaluate_run
from legodata.train.loop import TrainConfig, train

torch = pytest.importorskip("torch")
KEYS = {"mask": ("iou", "n"), "rot": ("median_deg", "acc15", "acc30", "n")}


@pytest.fixture(scope="module")
def runs(published, tmp_path_factory):
    """A mask run and a rotation run of a few real training steps on the published cuboid store."""
    root = tmp_path_factory.mktemp("evaluate")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for task, size in (("mask", 32), ("rot", 32)):
            cfg = TrainConfig(
                task=task, dataset=str(published.out), out=str(root / task), epochs=2, batch_size=8,
                image_size=size, lr=2e-3, quiet=True, base=8, limit=8,
            )  # fmt: skip
            train(cfg)
    finally:
        torch.set_num_threads(before)
    return {"mask": root / "mask", "rot": root / "rot"}


def _same(a: dict, b: dict, task: str) -> None:
    for k in KEYS[task]:
        assert a[k] == pytest.approx(b[k]), k
    assert set(a["per_part"]) == set(b["per_part"])
    for name, m in a["per_part"].items():
        assert m == pytest.approx(b["per_part"][name], nan_ok=True), name


@pytest.mark.parametrize("task", ["mask", "rot"])
def test_store_scores_as_its_published_folder(published, runs, task):
    run = runs[task]
    on_dataset = evaluate_run(run, str(published.out), split="test", device="cpu")
    on_store = evaluate_store(run, str(published.store.root), split="test", device="cpu")
    assert on_dataset["n"] > 0
    _same(on_store, on_dataset, task)
    info = on_store["store"]
    assert "publish.json" in info["settings_from"]
    assert info["published_with"]["crop_size"] == 32 and info["published_with"]["min_px"] == 20
    saved = json.loads((run / f"eval-{published.store.root.name}-test.json").read_text())
    assert saved["n"] == on_store["n"] and saved["store"]["records"] == info["records"]
    assert json.loads((run / "eval-test.json").read_text())["n"] == on_dataset["n"]  # not overwritten

    # all: every split of the store at once = the splits of the published folder together
    everything = evaluate_store(run, str(published.store.root), device="cpu")
    assert everything["split"] == "all"
    per_split = [evaluate_run(run, str(published.out), split=s, device="cpu") for s in ("train", "validation", "test")]
    assert everything["n"] == sum(r["n"] for r in per_split)
    if task == "mask":
        weighted = sum(r["iou"] * r["n"] for r in per_split) / everything["n"]
        assert everything["iou"] == pytest.approx(weighted)
    records = list(published.store.iter_records())
    need = 1 if task == "mask" else 20
    left_out = sum(1 for r in records for i in r.instances if i.px_count_visib < need)
    assert everything["store"]["instances_not_scored"] == left_out
    assert everything["store"]["instances"] == sum(len(r.instances) for r in records)


def _add_maskless_record(store: Store, scene_id: str) -> None:
    """A scene whose one record has a photo and no mask (nothing labelled on it)."""
    tmp = store.new_tmp_dir(scene_id)
    (tmp / "rgb").mkdir()
    cv2.imwrite(str(tmp / "rgb" / "0000.png"), np.full((64, 64, 3), 90, np.uint8))
    K = ((80.0, 0.0, 31.5), (0.0, 80.0, 31.5), (0.0, 0.0, 1.0))
    rel = store.scene_rel(scene_id)
    rec = Record(
        record_id=f"{scene_id}_0000", source="render", group_id=scene_id, image_path=f"{rel}/rgb/0000.png",
        mask_path=None, width=64, height=64, K=K, instances=(), meta={"scene_id": scene_id, "view_id": 0},
    )  # fmt: skip
    store.commit_scene(tmp, scene_id, [rec])


def test_records_without_a_mask_are_reported(published, runs, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(published.store.root, root)
    store = Store(root)
    _add_maskless_record(store, "000900")
    store.rebuild_index()
    n = len(list(published.store.iter_records()))
    counts = store_counts(root, "mask", 1)
    assert counts["records"] == n + 1 and counts["records_without_mask"] == 1

    r = CliRunner().invoke(app, ["evaluate", str(runs["mask"]), str(root), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert f"store {root}: {n + 1} records, 1 without a mask (not scored)" in r.stdout
    assert "1 records have no mask" in r.stderr
    saved = json.loads((runs["mask"] / "eval-store-all.json").read_text())
    assert saved["store"]["records_without_mask"] == 1
    original = evaluate_store(runs["mask"], str(published.store.root), device="cpu")
    _same(saved, original, "mask")  # the photo without a mask changes no score

    only = tmp_path / "only"
    bare = Store(only)
    bare.create_or_check(make_manifest(tuple(PART_NAMES), 0))
    _add_maskless_record(bare, "000001")
    bare.rebuild_index()
    with pytest.raises(LegodataError, match="none of its 1 records has a mask"):
        evaluate_store(runs["mask"], str(only), device="cpu")
    with pytest.raises(LegodataError, match="--split 'everything'"):
        evaluate_store(runs["mask"], str(root), split="everything", device="cpu")
    with pytest.raises(LegodataError, match="is a store, not a published dataset"):
        evaluate_run(runs["mask"], str(root), device="cpu")
    with pytest.raises(LegodataError, match="not a legodata store"):
        evaluate_store(runs["mask"], str(published.out), device="cpu")
