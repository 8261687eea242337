"""train-rot --mode relative: the rotation action R_target R_current^T from (observation crop, manual crop), read
from the ``steps`` config of an assembly store published by the real publisher; real training steps."""

import json

import numpy as np
import pytest
from support.assembly_records import assembly_store
from support.training_steps import losses_over_steps

from legodata.errors import LegodataError
from legodata.train import metrics
from legodata.train.loop import TrainConfig, prepare, train
from legodata.train.models import build_model
from legodata.train.relative import RelativeTorchDataset
from legodata.train.rotation_labels import rz
from legodata.train.tasks import get_task, task_of_run

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def steps_published(tmp_path_factory):
    from legodata.publish import publish

    root = tmp_path_factory.mktemp("steps")
    assembly_store(root / "store")
    return publish([root / "store"], root / "hf", split=(1.0, 0.0, 0.0)).out


def _cfg(dataset, out, **kw):
    base = dict(epochs=2, batch_size=4, image_size=32, lr=3e-3, quiet=True, base=8, mode="relative")
    return TrainConfig(task="rot", dataset=str(dataset), out=str(out), **{**base, **kw})


@pytest.fixture(scope="module")
def samples(steps_published, tmp_path_factory):
    task = get_task("rot", mode="relative")
    vocab, out = prepare(task, _cfg(steps_published, tmp_path_factory.mktemp("s")), splits=("train",))
    return vocab, out["train"]


def test_labels_are_the_action_and_symmetry_aware(steps_published, samples):
    vocab, s = samples
    rows = datasets.load_dataset(str(steps_published), "steps", split="train")
    parts = {f"{r['sample_id']}#{k}": p for r in rows for k, p in enumerate(r["parts"], 1)}
    assert vocab.part_names == ["3003", "3020", "3039"] and len(s) == 6  # 2 records x (2 placed + 1 removed)
    assert s.images.shape == (6, 32, 32, 3) and s.manual_images.shape == (6, 32, 32, 3)
    assert s.masks.any(axis=(1, 2)).all() and s.manual_masks.any(axis=(1, 2)).all()
    for i, sid in enumerate(s.sample_ids):
        p = parts[sid]
        cur, tgt = np.asarray(p["R_current_m2c"]), np.asarray(p["R_target_m2c"])
        np.testing.assert_allclose(s.R_allo[i], tgt @ cur.T, atol=1e-9)
        # the published (smallest) action is one of the symmetric equivalents: error 0 against the label
        assert metrics.symmetric_angle_deg(np.asarray(p["R_action_c"])[None], s.R_allo[i : i + 1], s.sym[i : i + 1])[
            0
        ] == pytest.approx(0, abs=1e-4)
    identity = np.tile(np.eye(3), (len(s), 1, 1))
    err = metrics.symmetric_angle_deg(identity, s.R_allo, s.sym)
    names = [s.part_names[k] for k in s.part]
    # the 2x2 brick turned a quarter about its axis needs no turn; the slope needs a half turn
    assert all(e < 1e-3 for e, n in zip(err, names) if n == "3003"), err
    assert all(abs(e - 180) < 1e-3 for e, n in zip(err, names) if n == "3039"), err


def test_inplane_augmentation_turns_the_action_and_its_group(samples):
    _, s = samples
    plain, turned = RelativeTorchDataset(s), RelativeTorchDataset(s, augment=True, seed=5)
    for i in range(len(s)):
        a = turned[i]
        angle = np.random.default_rng([5, 0, i]).uniform(-np.pi, np.pi)
        cur = rz(angle) @ s.R_current[i]  # the observation crop turned: the part's current pose turned with it
        # every candidate A' S' maps the turned current pose onto a symmetric target, R_target S (Rz Rc)^T
        cand = a["R"].double().numpy() @ a["sym"].double().numpy()
        group = np.einsum("ij,gjk,kl->gil", s.R_current[i].T, s.sym[i], s.R_current[i])  # back to the model frame
        want = s.R_target[i] @ group @ cur.T
        np.testing.assert_allclose(cand, want, atol=1e-5)
        assert a["x"].shape == (8, 32, 32) and torch.equal(a["x"][4:], plain[i]["x"][4:])  # the manual is not turned


def test_loss_decreases_over_a_few_steps(samples):
    vocab, s = samples
    task = get_task("rot", mode="relative")
    torch.manual_seed(0)
    model = build_model({**task.model_config(vocab, 8), "image_size": 32})
    ds = task.torch_dataset(s, train=False, seed=0, augment=False)
    batch = {k: torch.stack([ds[i][k] for i in range(len(s))]) for k in ds[0]}
    losses = losses_over_steps(task, model, batch)
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_relative_run_learns_its_training_actions(steps_published, tmp_path):
    torch.set_num_threads(1)
    result = train(_cfg(steps_published, tmp_path / "run", epochs=60, augment=False, batch_size=6))
    info = json.loads((tmp_path / "run" / "config.json").read_text())
    assert info["model"]["mode"] == "relative" and info["model"]["in_channels"] == 8
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    task = task_of_run("rot", ckpt["model_config"])
    assert task.mode == "relative" and task.dataset.name == "steps"
    model = build_model(ckpt["model_config"])
    model.load_state_dict(ckpt["model"])
    vocab, out = prepare(task, _cfg(steps_published, tmp_path), splits=("train",))
    on_train = task.evaluate(model, out["train"], torch.device("cpu"), 8)
    assert result["history"][-1]["train_loss"] < 0.5 * result["history"][0]["train_loss"]
    assert on_train["median_deg"] < 30, on_train  # chance: ~ 100 degrees
    # `legodata evaluate` re-scores the run as a relative run, on the steps config
    from legodata.train.evaluate import evaluate_run

    again = evaluate_run(tmp_path / "run", str(steps_published), split="train", checkpoint="last", device="cpu")
    assert abs(again["median_deg"] - on_train["median_deg"]) < 1e-6, (again, on_train)


def test_mode_errors_are_one_line(published, tmp_path):
    with pytest.raises(LegodataError, match="--mode 'relative'.*train-rot only"):
        TrainConfig(task="mask", dataset="d", out="o", mode="relative").validate()
    with pytest.raises(LegodataError, match="drop --streaming"):
        _cfg("d", tmp_path, streaming=True).validate()
    with pytest.raises(LegodataError, match="no config 'steps'|config 'steps'"):  # a scenes/parts-only dataset
        train(_cfg(published.out, tmp_path / "r"))
