"""Losses: BCE + Dice for masks; geodesic distance minimised over the part's symmetry group for rotations."""

from __future__ import annotations

from legodata.errors import require

torch = require("torch", "train")
F = torch.nn.functional

_EPS = 1e-6


def bce_dice_loss(logits, target, smooth: float = 1.0):
    """Mean binary cross-entropy + mean (1 - soft Dice) per sample; ``logits`` and ``target`` are (B, 1, H, W)."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    dice = (2 * (prob * t).sum(1) + smooth) / (prob.sum(1) + t.sum(1) + smooth)
    return bce + (1 - dice).mean()


def symmetric_geodesic(R_pred, R_gt, sym):
    """Angle (radians) between ``R_pred`` and the closest of ``R_gt @ S`` for S in ``sym``.

    ``R_pred``, ``R_gt``: (B, 3, 3); ``sym``: (B, G, 3, 3) model-frame symmetries (padding with identities is
    harmless). Returns (B,). The cosine is clamped just inside [-1, 1] so the gradient stays finite.
    """
    candidates = R_gt[:, None] @ sym  # (B, G, 3, 3)
    trace = (R_pred[:, None] * candidates).sum(dim=(-2, -1))  # tr(R_pred^T C)
    cos = ((trace - 1) / 2).clamp(-1 + _EPS, 1 - _EPS)
    return torch.acos(cos).min(dim=1).values


def geodesic_loss(R_pred, R_gt, sym):
    return symmetric_geodesic(R_pred.float(), R_gt.float(), sym.float()).mean()
