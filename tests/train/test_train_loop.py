"""Real training steps on a dataset written by the real publisher (``legodata.publish.publish`` of a cuboid store):
samples are the store's pixels and poses, loss goes down, an overfit model predicts its training images, resume
continues exactly, DDP equals one process, errors are clear."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.cuboids import PART_NAMES
from support.training_steps import losses_over_steps

from legodata.errors import LegodataError
from legodata.geometry import crops
from legodata.train import data, metrics
from legodata.train.loop import TrainConfig, pick_device, prepare, train
from legodata.train.models import build_model
from legodata.train.tasks import get_task

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
CROP = 32  # publish_cuboids' crop size
MIN_PX = 20  # publish_cuboids' min_px


def _cfg(task, dataset, out, **kw):
    base = dict(epochs=2, batch_size=8, image_size=32 if task == "rot" else 64, lr=2e-3, quiet=True, base=8)
    return TrainConfig(task=task, dataset=str(dataset), out=str(out), **{**base, **kw})


def _split_records(published, split):
    """The store's records in the published split ``split``, in store order (as the publisher writes rows)."""
    ids = data.open_dataset(str(published.out), "scenes")[split]["record_id"]
    by_id = {r.record_id: r for r in published.store.iter_records()}
    return [by_id[i] for i in ids]


def _store_image(published, rec):
    rgb = cv2.imread(str(published.store.root / rec.image_path), cv2.IMREAD_COLOR)[:, :, ::-1]
    return np.ascontiguousarray(rgb), cv2.imread(str(published.store.root / rec.mask_path), cv2.IMREAD_UNCHANGED)


@pytest.fixture
def one_thread():
    """Training tests run in one torch thread: two threads on 2 shared cores spend most of their time waiting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("task_name", ["mask", "rot"])
def test_loss_decreases_over_a_few_steps(published, task_name, tmp_path, one_thread):
    task = get_task(task_name)
    cfg = _cfg(task_name, published.out, tmp_path)
    vocab, samples = prepare(task, cfg, splits=("train",))
    torch.manual_seed(0)
    model = build_model(task.model_config(vocab, 8))
    ds = task.torch_dataset(samples["train"], train=False, seed=0, augment=False)
    items = [ds[i] for i in range(8)]
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    losses = losses_over_steps(task, model, batch)
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_mask_samples_are_the_store_pixels_and_instances(published, tmp_path):
    vocab, samples = prepare(get_task("mask"), _cfg("mask", published.out, tmp_path), splits=("train",))
    assert vocab.part_names == PART_NAMES  # the catalogue's order, through the publisher's ClassLabel
    records = _split_records(published, "train")
    s = samples["train"]
    assert s.record_ids == [r.record_id for r in records] and s.images.shape[1:] == (64, 64, 3)
    assert vocab.colour_codes == sorted({i.colour_code for r in records for i in r.instances if i.px_count_visib})
    queries = 0
    for n, rec in enumerate(records):
        image, mask = _store_image(published, rec)
        np.testing.assert_array_equal(s.images[n], image)  # RGB, not BGR
        np.testing.assert_array_equal(s.labels[n], mask)
        expected = {}
        for inst in rec.instances:
            if inst.px_count_visib:
                expected.setdefault((inst.part_id, inst.colour_code), set()).add(inst.instance_id)
        got = {}
        for q in np.flatnonzero(s.scene == n):
            key = (s.part_names[s.part[q]], vocab.colour_codes[s.colour[q] - 1])
            got[key] = set(s.instance_ids[q])
            np.testing.assert_array_equal(s.target(q), np.isin(mask, list(got[key])))
            np.testing.assert_allclose(s.colour_rgb[q], data.colour_rgb(key[1]))
        assert got == expected, rec.record_id
        queries += len(got)
    assert queries == len(s)


def test_rotation_samples_are_the_store_crops_poses_and_symmetries(published, tmp_path):
    vocab, samples = prepare(get_task("rot"), _cfg("rot", published.out, tmp_path), splits=("train",))
    catalogue = published.store.read_manifest()["catalogue"]
    r = samples["train"]
    expected = [
        (rec, i) for rec in _split_records(published, "train") for i in rec.instances if i.px_count_visib >= MIN_PX
    ]
    assert len(r) == len(expected) > 8
    for k, (rec, inst) in enumerate(expected):
        image, mask = _store_image(published, rec)
        box = crops.crop_box(inst.bbox_visib, 0.1)
        np.testing.assert_array_equal(r.images[k], crops.crop_image(image, box, CROP))
        np.testing.assert_array_equal(r.masks[k], crops.crop_mask(mask, inst.instance_id, box, CROP) > 0)
        assert r.part_names[r.part[k]] == inst.part_id
        np.testing.assert_allclose(r.R_m2c[k], inst.R_m2c, atol=1e-12)
        ray = data.crop_ray(rec.K, *box)
        np.testing.assert_allclose(r.R_allo[k], ray.T @ np.asarray(inst.R_m2c), atol=1e-9)
        group = np.asarray(catalogue[inst.part_id]["symmetry"]["rotations"], float)
        np.testing.assert_allclose(r.sym[k, : len(group)], group, atol=1e-9)
    assert {len(catalogue[p]["symmetry"]["rotations"]) for p in PART_NAMES} == {1, 2}
    # the in-plane augmentation turns the label with the image
    ds = data.make_rotation_dataset(r, augment=True, seed=7)
    ds.set_epoch(3)
    item = ds[2]
    angle = np.random.default_rng([7, 3, 2]).uniform(-np.pi, np.pi)
    assert np.allclose(item["R"].numpy(), data.rz(angle) @ r.R_allo[2], atol=1e-6)
    assert item["x"].shape == (4, 32, 32)


def test_resume_gives_the_same_continuation(published, tmp_path, one_thread):
    full = train(_cfg("rot", published.out, tmp_path / "full", epochs=3, limit=12))
    train(_cfg("rot", published.out, tmp_path / "cut", epochs=1, limit=12))
    resumed = train(_cfg("rot", published.out, tmp_path / "cut", epochs=3, limit=12, resume=True))
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 3
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    losses = lambda r: [h["train_loss"] for h in r["history"]]  # noqa: E731
    assert losses(full) == losses(resumed)
    assert full["test"]["median_deg"] == resumed["test"]["median_deg"]


@pytest.fixture(scope="module")
def overfit_mask_run(published, tmp_path_factory):
    """train-mask on 4 training scenes until it has learnt them (lr 1e-2, 25 epochs of 32 px)."""
    run = tmp_path_factory.mktemp("mask") / "run"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(_cfg("mask", published.out, run, epochs=25, batch_size=4, image_size=32, lr=1e-2, limit=4))
    finally:
        torch.set_num_threads(before)
    return run, result


def test_overfit_mask_model_predicts_its_training_images(published, overfit_mask_run):
    from legodata.train.predict import MaskPredictor

    run, _ = overfit_mask_run
    predictor = MaskPredictor(run, checkpoint="last")
    ious = []
    for rec in _split_records(published, "train")[:4]:
        image, mask = _store_image(published, rec)
        queries = {}
        for inst in rec.instances:
            if inst.px_count_visib:
                queries.setdefault((inst.part_id, inst.colour_code), []).append(inst.instance_id)
        for (part_id, colour), ids in queries.items():
            pred = predictor.predict(image, part_id, colour)
            assert pred.shape == mask.shape and pred.dtype == bool
            ious.append(metrics.iou(pred, np.isin(mask, ids)))
    assert len(ious) >= 8 and np.mean(ious) > 0.5, np.round(ious, 2)
    # the masked observation keeps the predicted pixels and blacks out the rest
    masked = predictor.masked(image, part_id, colour)
    np.testing.assert_array_equal(masked[pred], image[pred])
    assert not masked[~pred].any()


def test_mask_run_dir_outputs_and_evaluate(published, overfit_mask_run, tmp_path):
    from legodata.train.evaluate import evaluate_run

    run, result = overfit_mask_run
    for name in ("best.pt", "last.pt", "config.json", "metrics.json", "curves.png", "masked_test.png"):
        assert (run / name).is_file(), name
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["test"] == result["test"] and saved["epochs_done"] == 25
    n_test = sum(
        len({(i.part_id, i.colour_code) for i in rec.instances if i.px_count_visib})
        for rec in _split_records(published, "test")
    )
    assert saved["test"]["n"] == n_test and set(saved["test"]["per_part"]) <= set(PART_NAMES)
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["epochs"] == 25 and config["model"]["part_names"] == PART_NAMES
    again = evaluate_run(run, str(published.out), split="test", device="cpu")
    assert again["iou"] == pytest.approx(result["test"]["iou"]) and again["n"] == n_test
    assert json.loads((run / "eval-test.json").read_text())["iou"] == pytest.approx(again["iou"])
    # the last checkpoint has learnt the training split: far better there than the test split
    on_train = evaluate_run(run, str(published.out), split="train", checkpoint="last", device="cpu", limit=4)
    assert on_train["iou"] > 0.5 and on_train["iou"] > again["iou"]
    with pytest.raises(LegodataError, match="already holds a run"):
        train(_cfg("mask", published.out, run))
    with pytest.raises(LegodataError, match="other settings"):
        train(_cfg("mask", published.out, run, image_size=64, resume=True, epochs=30))


def test_cli_evaluate_prints_and_writes_the_split_metrics(published, overfit_mask_run):
    from typer.testing import CliRunner

    from legodata.cli import app

    run, _ = overfit_mask_run
    args = ["evaluate", str(run), str(published.out), "--split", "validation", "--limit", "4", "--device", "cpu"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    saved = json.loads((run / "eval-validation.json").read_text())
    assert saved["split"] == "validation" and saved["checkpoint"] == "best" and saved["task"] == "mask"
    best = torch.load(run / "best.pt", weights_only=False)
    assert saved["iou"] == pytest.approx(best["history"][best["epoch"] - 1]["validation"]["iou"])
    lines = r.output.strip().splitlines()
    assert lines[0] == f"mask validation: IoU {saved['iou']:.3f} ({saved['n']} queries, {saved['misses']} below 0.5)"
    per_part = {ln.split()[0]: ln for ln in lines[1:]}
    assert set(per_part) == set(saved["per_part"])
    for name, m in saved["per_part"].items():
        assert f"n={m['n']}" in per_part[name] and f"iou={m['iou']:.3f}" in per_part[name]


def test_rotation_predictor_sees_what_the_trainer_saw(published, tmp_path, one_thread):
    """predict_instance crops a full image itself; on a store image it must give exactly the rotation the trained
    network gives for the published crop of that instance, turned back from the crop's ray to the camera."""
    from legodata.train.predict import RotationPredictor

    rot_run = tmp_path / "rot"
    train(_cfg("rot", published.out, rot_run, epochs=1, limit=8))
    predictor = RotationPredictor(rot_run)
    rec = next(r for r in _split_records(published, "test") if any(i.px_count_visib >= MIN_PX for i in r.instances))
    inst = next(i for i in rec.instances if i.px_count_visib >= MIN_PX)
    image, mask = _store_image(published, rec)
    p = predictor.predict_instance(image, mask == inst.instance_id, inst.part_id, rec.K, crop_size=CROP)
    assert np.allclose(p.R_m2c.T @ p.R_m2c, np.eye(3), atol=1e-5) and np.linalg.det(p.R_m2c) > 0
    assert p.quat_wxyz[0] >= 0 and 0.0 <= p.confidence <= 1.0

    task = get_task("rot")
    _, samples = prepare(task, _cfg("rot", published.out, tmp_path / "x"), splits=("test",))
    test = samples["test"]
    k = next(
        k
        for k in range(len(test))
        if np.allclose(test.R_m2c[k], inst.R_m2c) and test.part_names[test.part[k]] == inst.part_id
    )
    allo = task.predict_allo(predictor.model, test, predictor.device, 8)[k]
    np.testing.assert_allclose(p.R_m2c, test.R_ray[k] @ allo, atol=1e-5)

    with pytest.raises(LegodataError, match="is a 'rot' run"):
        from legodata.train.predict import MaskPredictor

        MaskPredictor(rot_run)
    with pytest.raises(LegodataError, match="not one the model was trained on"):
        predictor.predict_instance(image, mask == inst.instance_id, "9999", rec.K)
    with pytest.raises(LegodataError, match="does not match the model"):  # a checkpoint of the other model
        train(_cfg("mask", published.out, tmp_path / "m2", weights=str(rot_run / "best.pt")))


def test_device_auto_picks_cpu_here():
    if torch.cuda.is_available():  # pragma: no cover - no GPU on these machines
        pytest.skip("a GPU is present")
    assert pick_device("auto").type == "cpu"
    with pytest.raises(LegodataError, match="no CUDA"):
        pick_device("cuda")


def test_dataset_errors_name_what_to_fix(published, tmp_path):
    import shutil

    import datasets

    with pytest.raises(LegodataError, match="no such folder"):
        data.open_dataset(str(tmp_path / "nope"), "parts")
    only_scenes = tmp_path / "only_scenes"
    (only_scenes / "data").mkdir(parents=True)
    shutil.copytree(published.out / "data" / "scenes", only_scenes / "data" / "scenes")
    card = (published.out / "README.md").read_text()
    assert "- config_name: parts" in card
    (only_scenes / "README.md").write_text(card.split("- config_name: parts")[0] + "---\n")
    with pytest.raises(LegodataError, match="no config 'parts'"):
        data.open_dataset(str(only_scenes), "parts")

    ds = datasets.load_dataset(str(published.out), "parts")
    no_sym = tmp_path / "no_sym"
    for split in ds:
        (no_sym / "data" / "parts").mkdir(parents=True, exist_ok=True)
        ds[split].remove_columns("symmetry_rotations").to_parquet(str(no_sym / "data" / "parts" / f"{split}-0.parquet"))
    (no_sym / "README.md").write_text(
        "---\nconfigs:\n- config_name: parts\n  data_files:\n"
        + "".join(f"  - split: {s}\n    path: data/parts/{s}-*.parquet\n" for s in ds)
        + "---\n"
    )
    with pytest.raises(LegodataError, match="missing column 'symmetry_rotations'"):
        train(_cfg("rot", no_sym, tmp_path / "r"))


@pytest.mark.parametrize(
    "env_extra", [{"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}]
)
def test_cli_hub_id_offline_is_one_line(tmp_path, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")} | env_extra
    r = subprocess.run(
        [sys.executable, "-m", "legodata.cli", "train-rot", "someone/not-a-dataset", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Hub" in lines[0] and "someone/not-a-dataset" in lines[0], r.stderr


def _state(run_dir: Path) -> dict:
    return torch.load(run_dir / "last.pt", weights_only=False)["model"]


def _difference(a: dict, b: dict) -> tuple[float, float]:
    """(|a - b| / |b| over all float tensors, fraction of their elements that differ by more than 1e-5)."""
    assert a.keys() == b.keys()
    keys = [k for k in a if a[k].is_floating_point()]
    diff = torch.cat([(a[k].double() - b[k].double()).flatten() for k in keys])
    norm = torch.cat([b[k].double().flatten() for k in keys]).norm()
    return float(diff.norm() / norm), float((diff.abs() > 1e-5).double().mean())


@pytest.mark.slow
def test_ddp_two_processes_equal_one_process_with_the_same_global_batch(published, tmp_path, one_thread):
    """torchrun with 2 CPU processes of batch 4 takes the same steps as one process of batch 8: the same weights,
    BatchNorm statistics included (each process sees half of every global batch)."""
    settings = dict(epochs=2, image_size=32, limit=16, lr=1e-3, seed=0, device="cpu", precision="fp32")  # exact
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "legodata.cli", "train-rot"]
    cmd += [str(published.out), "--out", str(tmp_path / "ddp"), "--batch-size", "4", "--quiet", *flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert ddp["world_size"] == 2 and ddp["epochs_done"] == 2 and ddp["test"]["n"] > 0
    assert ddp["history"][-1]["step"] == 4  # 16 crops, 8 per step over both processes

    one = train(TrainConfig(task="rot", dataset=str(published.out), out=str(tmp_path / "one"), batch_size=8,
                            quiet=True, **settings))  # fmt: skip
    train(TrainConfig(task="rot", dataset=str(published.out), out=str(tmp_path / "b4"), batch_size=4, quiet=True,
                      **settings))  # fmt: skip
    assert one["world_size"] == 1 and one["history"][-1]["step"] == 4
    # Float rounding differs (sums over two processes), and Adam turns a rounding difference in a near-zero
    # gradient into a step of up to lr: a few elements move apart by ~1e-4, the rest agree to 1e-5.
    same, same_moved = _difference(_state(tmp_path / "ddp"), _state(tmp_path / "one"))
    other, other_moved = _difference(_state(tmp_path / "b4"), _state(tmp_path / "one"))
    assert other > 1e-2 and other_moved > 0.5  # the comparison tells another batching apart
    assert same < 1e-3 and same_moved < 0.01, f"DDP differs from one process: {same:.2e} ({same_moved:.2%} moved)"
    assert ddp["test"]["median_deg"] == pytest.approx(one["test"]["median_deg"], abs=0.01)


def test_torch_stays_out_of_everything_but_training(tmp_path):
    """With torch unimportable, the CLI starts and every non-training command runs; training names the extra."""
    code = """
import contextlib, io, json, sys
sys.modules["torch"] = None
import legodata.cli, legodata.train, legodata.publish, legodata.export, legodata.train.data
from legodata.cli import main
for argv in (["--help"], ["colours"], ["parts"], ["train-rot", "--help"], ["evaluate", "--help"],
             ["train-rot", "x", "--out", "y"], ["evaluate", "run", "x"]):
    sys.argv = ["legodata", *argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
    print(json.dumps([argv, code, bool(out.getvalue().strip()), err.getvalue().strip()]))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    results = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(results) == 7
    for argv, exit_code, printed, err in results[:5]:
        assert exit_code == 0 and printed, (argv, err)
    for argv, exit_code, _, err in results[5:]:
        assert exit_code == 2 and 'pip install "legodata[train]"' in err and len(err.splitlines()) == 1, (argv, err)
