"""Losses: BCE + Dice for masks; for rotations, scores on an SO(3) grid and geodesic distance, both minimised over
the part's symmetry group."""

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


def part_loss(part_logits, parts):
    """Cross-entropy of every pixel's part class: ``part_logits`` (B, P + 1, H, W), ``parts`` (B, H, W) int64."""
    return F.cross_entropy(part_logits, parts)


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


def grid_rotation_loss(logits, grid, R_gt, sym, sigma_rad: float, geodesic_weight: float = 0.0):
    """Cross-entropy of grid scores against a symmetry-aware soft target, plus an optional geodesic term.

    The target puts ``exp(-d^2 / 2 sigma^2)`` (normalised) on each grid rotation, with ``d`` its geodesic distance
    to the nearest symmetric equivalent of the label, so every equivalent pose is an equally right answer. The
    geodesic term (weighted by ``geodesic_weight``) scores the refined rotation ``grid.decode(logits)`` with
    :func:`symmetric_geodesic`.
    """
    dtype = grid.rotations.dtype  # float32 in training, also under mixed precision
    logits, R_gt, sym = logits.to(dtype), R_gt.to(dtype), sym.to(dtype)
    d = grid.angles_to(R_gt, sym)
    target = torch.softmax(-(d**2) / (2 * sigma_rad**2), dim=1)
    loss = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    if geodesic_weight:
        loss = loss + geodesic_weight * symmetric_geodesic(grid.decode(logits), R_gt, sym).mean()
    return loss
