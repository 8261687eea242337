"""Real training steps on a tiny published dataset: loss goes down, resume continues exactly, errors are clear."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from train_synth import PART_NAMES, write_synthetic_dataset

from legodata.errors import LegodataError
from legodata.train import data
from legodata.train.loop import TrainConfig, pick_device, prepare, train
from legodata.train.models import build_model
from legodata.train.tasks import get_task

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


def _cfg(task, dataset, out, **kw):
    base = dict(epochs=2, batch_size=8, image_size=32 if task == "rot" else 64, lr=2e-3, quiet=True, base=8)
    return TrainConfig(task=task, dataset=str(dataset), out=str(out), **{**base, **kw})


@pytest.mark.parametrize("task_name", ["mask", "rot"])
def test_loss_decreases_over_a_few_steps(synth_dir, task_name, tmp_path):
    task = get_task(task_name)
    cfg = _cfg(task_name, synth_dir, tmp_path)
    vocab, samples = prepare(task, cfg, splits=("train",))
    torch.manual_seed(0)
    model = build_model(task.model_config(vocab, 8))
    ds = task.torch_dataset(samples["train"], train=False, seed=0, augment=False)
    items = [ds[i] for i in range(8)]
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = task.loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_samples_match_the_dataset(synth_dir, tmp_path):
    vocab, samples = prepare(get_task("mask"), _cfg("mask", synth_dir, tmp_path), splits=("train",))
    assert vocab.part_names == PART_NAMES and vocab.colour_codes == [1, 4, 14]
    s = samples["train"]
    assert s.images.shape[1:] == (64, 64, 3) and len(s) >= 12
    for q in range(len(s)):  # every query's target is the union of its instances, never empty
        assert s.target(q).any()
    vocab, samples = prepare(get_task("rot"), _cfg("rot", synth_dir, tmp_path), splits=("train",))
    r = samples["train"]
    assert r.sym.shape[1] == 2 and np.allclose(np.linalg.det(r.R_allo), 1.0)
    ds = data.make_rotation_dataset(r, augment=True, seed=7)
    ds.set_epoch(3)
    item = ds[2]
    angle = np.random.default_rng([7, 3, 2]).uniform(-np.pi, np.pi)
    assert np.allclose(item["R"].numpy(), data.rz(angle) @ r.R_allo[2], atol=1e-6)
    assert item["x"].shape == (4, 32, 32)


def test_resume_gives_the_same_continuation(synth_dir, tmp_path):
    full = train(_cfg("rot", synth_dir, tmp_path / "full", epochs=3, limit=12))
    train(_cfg("rot", synth_dir, tmp_path / "cut", epochs=1, limit=12))
    resumed = train(_cfg("rot", synth_dir, tmp_path / "cut", epochs=3, limit=12, resume=True))
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 3
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    losses = lambda r: [h["train_loss"] for h in r["history"]]  # noqa: E731
    assert losses(full) == losses(resumed)
    assert full["test"]["median_deg"] == resumed["test"]["median_deg"]


def test_run_dir_outputs_evaluate_and_predict(synth_dir, tmp_path):
    from legodata.train.evaluate import evaluate_run
    from legodata.train.predict import MaskPredictor, RotationPredictor

    run = tmp_path / "mask"
    result = train(_cfg("mask", synth_dir, run, epochs=2))
    for name in ("best.pt", "last.pt", "config.json", "metrics.json", "curves.png", "masked_test.png"):
        assert (run / name).is_file(), name
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["test"]["n"] > 0 and 0 <= saved["test"]["iou"] <= 1
    assert set(saved["test"]["per_part"]) <= set(PART_NAMES)
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 2
    again = evaluate_run(run, str(synth_dir), split="test", device="cpu")
    assert again["iou"] == pytest.approx(result["test"]["iou"])
    assert (run / "eval-test.json").is_file()

    scene = data.open_dataset(str(synth_dir), "scenes")["test"][0]
    image = np.asarray(scene["image"].convert("RGB"))
    inst = scene["instances"][0]
    pred = MaskPredictor(run).predict(image, PART_NAMES[inst["part_id"]], inst["colour_code"])
    assert pred.shape == image.shape[:2] and pred.dtype == bool

    rot_run = tmp_path / "rot"
    train(_cfg("rot", synth_dir, rot_run, epochs=1))
    mask = np.asarray(scene["mask"]) == inst["instance_id"]
    p = RotationPredictor(rot_run).predict_instance(image, mask, PART_NAMES[inst["part_id"]], scene["K"])
    assert np.allclose(p.R_m2c.T @ p.R_m2c, np.eye(3), atol=1e-5) and p.quat_wxyz[0] >= 0
    with pytest.raises(LegodataError, match="is a 'rot' run"):
        MaskPredictor(rot_run)
    with pytest.raises(LegodataError, match="not one the model was trained on"):
        RotationPredictor(rot_run).predict_instance(image, mask, "9999", scene["K"])
    # a checkpoint of the other model: clear mismatch error
    with pytest.raises(LegodataError, match="does not match the model"):
        train(_cfg("mask", synth_dir, tmp_path / "m2", weights=str(rot_run / "best.pt")))
    with pytest.raises(LegodataError, match="already holds a run"):
        train(_cfg("mask", synth_dir, run))
    with pytest.raises(LegodataError, match="other settings"):
        train(_cfg("mask", synth_dir, run, image_size=32, resume=True, epochs=3))


def test_device_auto_picks_cpu_here():
    if torch.cuda.is_available():  # pragma: no cover - no GPU on these machines
        pytest.skip("a GPU is present")
    assert pick_device("auto").type == "cpu"
    with pytest.raises(LegodataError, match="no CUDA"):
        pick_device("cuda")


def test_dataset_errors_name_what_to_fix(synth_dir, tmp_path):
    with pytest.raises(LegodataError, match="no such folder"):
        data.open_dataset(str(tmp_path / "nope"), "parts")
    only_scenes = tmp_path / "only_scenes"
    (only_scenes / "data").mkdir(parents=True)
    import shutil

    shutil.copytree(synth_dir / "data" / "scenes", only_scenes / "data" / "scenes")
    (only_scenes / "README.md").write_text(
        (synth_dir / "README.md").read_text().split("- config_name: parts")[0] + "---\n"
    )
    with pytest.raises(LegodataError, match="no config 'parts'"):
        data.open_dataset(str(only_scenes), "parts")

    import datasets

    ds = datasets.load_dataset(str(synth_dir), "parts")
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


def test_ddp_two_processes_on_cpu(tmp_path):
    published = write_synthetic_dataset(tmp_path / "pub", {"train": 8, "validation": 2, "test": 2}, seed=1)
    torchrun = Path(sys.executable).with_name("torchrun")
    out = tmp_path / "ddp"
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "legodata.cli", "train-rot"]
    cmd += [str(published), "--out", str(out), "--epochs", "2", "--batch-size", "4", "--image-size", "32"]
    cmd += ["--quiet", "--device", "auto"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["epochs_done"] == 2 and metrics["test"]["n"] > 0
    assert (out / "best.pt").is_file() and (out / "curves.png").is_file()


def test_torch_is_lazy_and_a_missing_torch_names_the_extra(tmp_path):
    code = (
        "import sys; import legodata.cli, legodata.train, legodata.train.data, legodata.train.metrics;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    code = (
        "import sys; sys.modules['torch'] = None; sys.argv = ['legodata', 'train-rot', 'x', '--out', 'y'];"
        "from legodata.cli import main; main()"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and 'pip install "legodata[train]"' in r.stderr, r.stderr
