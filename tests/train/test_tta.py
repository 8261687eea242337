"""Test-time in-plane averaging: the quarter-turn convention and the grid index maps."""

import numpy as np
import pytest

from legodata.train.rotation_labels import rotate_inplane, rz
from legodata.train.tta import InplaneAverager, turn_angle, turned_indices

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rot90_is_rotate_inplane_by_turn_angle(k):
    image = np.random.default_rng(k).integers(0, 255, size=(16, 16, 3), dtype=np.uint8)
    turned = torch.rot90(torch.from_numpy(image).movedim(-1, 0), k, dims=(-2, -1)).movedim(0, -1).numpy()
    np.testing.assert_array_equal(turned, rotate_inplane(image, turn_angle(k)))  # exact on the pixel grid


def test_turned_indices_point_at_the_turned_grid_rotation():
    from legodata.geometry.so3_grid import super_fibonacci_rotations

    grid = super_fibonacci_rotations(512)
    assert (turned_indices(grid, 0) == np.arange(len(grid))).all()
    idx = turned_indices(grid, 1)
    want = rz(turn_angle(1)) @ grid
    angle = np.degrees(np.arccos(np.clip((np.einsum("nij,nij->n", want, grid[idx]) - 1) / 2, -1, 1)))
    assert np.median(angle) < 20  # the nearest of 512 rotations (median spacing ~ 16 deg)
    assert len(np.unique(idx)) > 0.6 * len(grid)  # nearly a permutation


class _LinearScorer(torch.nn.Module):
    """Scores that depend strongly on every input pixel (an untrained RotationNet's barely do)."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        from legodata.train.models import RotationGrid

        self.grid = RotationGrid(bins)
        self.linear = torch.nn.Linear(4 * 16 * 16, bins)

    def forward(self, x, part):
        return 20 * self.linear(x.flatten(1))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_averaged_scores_of_a_turned_crop_are_the_turned_scores(k):
    """Averaged score of G_j for a crop ~ averaged score of Rz(a_k) G_j for the crop turned by a_k (the same four
    looks, read through the nearest-neighbour maps): correlated for the right turn only."""
    torch.manual_seed(k)
    avg = InplaneAverager(_LinearScorer(2048))
    x, part = torch.randn(1, 4, 16, 16), torch.zeros(1, dtype=torch.long)
    base = avg.logits(x, part)[0].numpy()
    turned = avg.logits(torch.rot90(x, k, dims=(-2, -1)), part)[0]
    corr = [np.corrcoef(base, turned[avg.index[j]].numpy())[0, 1] for j in range(4)]
    others = [c for j, c in enumerate(corr) if j != k]
    assert corr[k] > 0.25 and corr[k] > max(others) + 0.2, corr
