"""Test-time in-plane rotation averaging for the rotation model (absolute mode).

A crop turned in-plane by ``a`` shows the part at ``Rz(a) R`` (:mod:`legodata.train.rotation_labels`). Turning by
quarter turns is exact on the pixel grid (``torch.rot90``), so the model scores each of the four turned crops; the
score of grid rotation ``G_j`` in the unturned frame is read at the grid rotation nearest ``Rz(a) G_j`` in each
turned one, and the log-probabilities are summed before decoding. Symmetric parts keep all their modes: every
equivalent pose collects the evidence of all four looks.
"""

from __future__ import annotations

import logging

import numpy as np

from legodata.train.losses import torch
from legodata.train.rotation_labels import rz

logger = logging.getLogger(__name__)

QUARTER_TURNS = (0, 1, 2, 3)  # torch.rot90 k over dims (H, W): k quarter turns counter-clockwise as displayed


def turn_angle(k: int) -> float:
    """The :func:`rotate_inplane` angle (radians, clockwise as displayed) of ``torch.rot90(x, k, dims=(-2, -1))``."""
    return -k * np.pi / 2


def turned_indices(rotations: np.ndarray, k: int) -> np.ndarray:
    """For each grid rotation ``G_j`` (N, 3, 3) the index of the grid rotation nearest ``Rz(a_k) G_j``."""
    turned = rz(turn_angle(k)) @ rotations
    out = np.empty(len(rotations), np.int64)
    for start in range(0, len(rotations), 512):  # (512, N) traces at a time
        trace = np.einsum("bij,nij->bn", turned[start : start + 512], rotations)
        out[start : start + 512] = trace.argmax(axis=1)
    return out


class InplaneAverager:
    """Scores of a :class:`~legodata.train.models.RotationNet` averaged over quarter turns of the input crop."""

    def __init__(self, model, turns=QUARTER_TURNS) -> None:
        self.model = getattr(model, "module", model)
        grid = self.model.grid
        rotations = grid.rotations.double().cpu().numpy()
        self.turns = tuple(turns)
        self.index = {k: torch.from_numpy(turned_indices(rotations, k)).to(grid.rotations.device) for k in self.turns}

    @torch.no_grad()
    def logits(self, x, part):
        """Summed log-probabilities (B, N) over the turns, in the frame of the unturned crop."""
        total = None
        for k in self.turns:
            lp = torch.log_softmax(self.model(torch.rot90(x, k, dims=(-2, -1)), part).float(), dim=1)
            lp = lp[:, self.index[k]]
            total = lp if total is None else total + lp
        return total

    @torch.no_grad()
    def rotation(self, x, part):
        """Rotations (B, 3, 3), decoded from the averaged scores."""
        return self.model.grid.decode(self.logits(x, part))
