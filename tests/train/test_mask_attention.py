"""The mask model's query attention: it starts as the plain FiLM U-Net, learns to use the image, round-trips."""

import json

import pytest

from legodata.train.config import TrainConfig
from legodata.train.loop import train
from legodata.train.models import MaskUNet, build_model

torch = pytest.importorskip("torch")


def _inputs(batch: int = 3, size: int = 64):
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(batch, 3, size, size, generator=g),
        torch.tensor([0, 1, 2][:batch]),
        torch.tensor([1, 0, 2][:batch]),
        torch.rand(batch, 3, generator=g),
    )


def test_attending_model_starts_as_the_film_model():
    torch.manual_seed(0)
    film = MaskUNet(n_parts=3, n_colours=2, base=8).eval()
    attend = MaskUNet(n_parts=3, n_colours=2, base=8, attend=True).eval()
    missing, unexpected = attend.load_state_dict(film.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("attention.", "pixel_embedding.", "match.")) for k in missing)
    with torch.no_grad():
        assert torch.allclose(attend(*_inputs()), film(*_inputs()), atol=1e-6)


def test_refined_query_depends_on_the_image_once_trained():
    torch.manual_seed(0)
    model = MaskUNet(n_parts=3, n_colours=2, base=8, attend=True)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    image, part, colour, rgb = _inputs()
    for _ in range(3):  # zero-initialised FiLM, match and output layers open the path step by step
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(image, part, colour, rgb), (image[:, :1] > 0).float()
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert model.attention.attend[0].in_proj_weight.grad.abs().sum() > 0
    model.eval()
    cond = model.query(part[:1], colour[:1], rgb[:1]).expand(2, -1)
    with torch.no_grad():
        features = [torch.randn(2, c, s, s) for c, s in ((32, 16), (64, 8), (128, 4))]
        refined = model.attention(features, cond)
    assert not torch.allclose(refined[0], refined[1])  # same query, two images: two answers
    assert refined.shape == cond.shape


def test_attending_run_saves_its_model_and_evaluate_rebuilds_it(published, tmp_path):
    from legodata.train.evaluate import evaluate_run

    torch.set_num_threads(1)
    run = tmp_path / "run"
    cfg = TrainConfig(
        task="mask", dataset=str(published.out), out=str(run), epochs=2, batch_size=4, image_size=64, base=8,
        quiet=True, query_attention=True,
    )  # fmt: skip
    result = train(cfg)
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["attend"] is True and config["train"]["query_attention"] is True
    assert isinstance(build_model(config["model"]).attention, torch.nn.Module)
    again = evaluate_run(run, str(published.out), split="test", checkpoint="best")
    assert again["iou"] == pytest.approx(result["test"]["iou"])
