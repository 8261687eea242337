"""The rotation model's two heads, mixed precision and the new training flags."""

import json

import numpy as np
import pytest

from legodata.errors import LegodataError
from legodata.train.config import TrainConfig
from legodata.train.loop import autocast_dtype, train
from legodata.train.models import RotationNet, build_model

torch = pytest.importorskip("torch")


def test_harmonic_scores_are_band_limited_on_the_grid():
    from legodata.geometry.so3_harmonics import grid_basis

    model = RotationNet(n_parts=2, base=8, bins=1024, head="harmonic", degree=3).eval()
    with torch.no_grad():
        scores = model(torch.randn(3, 4, 32, 32), torch.tensor([0, 1, 0])).double().numpy()
    basis = grid_basis(1024, 3)
    rest = scores - (scores @ basis) @ basis.T  # nothing outside the degree-3 functions
    assert np.abs(rest).max() < 1e-4 * np.abs(scores).max()
    assert scores.shape == (3, 1024)


def test_model_config_rebuilds_the_head_and_old_configs_stay_grid():
    vocab = {"part_names": ["a", "b"], "colour_codes": []}
    harmonic = build_model({"kind": "rot", "base": 8, "bins": 512, "head": "harmonic", "degree": 2, **vocab})
    grid = build_model({"kind": "rot", "base": 8, "bins": 512, **vocab})  # a run from before the harmonic head
    assert harmonic.head[-1].coefficients.out_features == 35
    assert isinstance(grid.head[-1], torch.nn.Linear) and grid.head[-1].out_features == 512
    with pytest.raises(LegodataError, match="head 'fourier'"):
        build_model({"kind": "rot", "head": "fourier", **vocab})


def test_autocast_dtype():
    cpu = torch.device("cpu")
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", cpu) in (None, torch.bfloat16)
    assert autocast_dtype("auto", torch.device("cuda")) is torch.float16


@pytest.mark.parametrize(
    ("settings", "flag"),
    [
        ({"head": "fourier"}, "--head"),
        ({"precision": "fp16"}, "--precision"),
        ({"train_limit": 0}, "--train-limit"),
        ({"train_limit": 10, "streaming": True}, "--train-limit"),
    ],
)
def test_bad_new_flags_are_one_line_errors(settings, flag):
    with pytest.raises(LegodataError, match=flag) as err:
        TrainConfig(task="rot", dataset="d", out="o", **settings).validate()
    assert "\n" not in str(err.value)


def test_harmonic_run_saves_its_head_and_evaluate_rebuilds_it(published, tmp_path):
    from legodata.train.evaluate import evaluate_run

    torch.set_num_threads(1)
    run = tmp_path / "run"
    cfg = TrainConfig(
        task="rot", dataset=str(published.out), out=str(run), epochs=2, batch_size=16, image_size=32, base=8,
        quiet=True, train_limit=24,
    )  # fmt: skip
    result = train(cfg)
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["head"] == "harmonic" and config["model"]["degree"] == 6
    assert config["train"]["train_limit"] == 24 and config["data"]["train_samples_per_epoch"] == 24
    again = evaluate_run(run, str(published.out), split="test", checkpoint="best")
    assert again["median_deg"] == pytest.approx(result["test"]["median_deg"])


def test_target_width_narrows_over_the_first_half_for_the_harmonic_head_only():
    from legodata.train.tasks import RotationTask

    harmonic, grid = RotationTask(head="harmonic"), RotationTask(head="grid")
    widths = []
    for progress in (0.0, 0.25, 0.5, 0.9, 1.0):
        widths.append(harmonic.sigma_at(progress))
        assert grid.sigma_at(progress) == pytest.approx(8.0)
    assert widths[0] == pytest.approx(30.0) and widths[2:] == pytest.approx([8.0, 8.0, 8.0])
    assert widths[0] > widths[1] > widths[2]


def test_fine_tuning_keeps_the_final_width_from_the_start():
    from legodata.train.data import Vocab
    from legodata.train.tasks import RotationTask, task_options

    cfg = TrainConfig(task="rot", dataset="d", out="o", weights="source/best.pt")
    assert task_options(cfg)["finetune"] is True
    task = RotationTask(**task_options(cfg))
    assert [task.sigma_at(p) for p in (0.0, 0.3, 1.0)] == pytest.approx([8.0, 8.0, 8.0])
    assert task.model_config(Vocab(["3001"]), None)["sigma_start_deg"] == 8.0
    assert task_options(TrainConfig(task="rot", dataset="d", out="o"))["finetune"] is False
