"""Images and masked crops as the networks' float tensors (channels first, values in [-1, 1])."""

from __future__ import annotations

import numpy as np

from legodata.errors import require


def image_tensor(rgb: np.ndarray):
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]."""
    torch = require("torch", "train")
    t = torch.from_numpy(np.require(rgb, requirements=["C", "W"])).float().div_(127.5).sub_(1.0)
    return t.movedim(-1, -3)


def rotation_input(rgb: np.ndarray, mask: np.ndarray):
    """Masked crop + mask channel -> float (..., 4, H, W)."""
    torch = require("torch", "train")
    m = torch.from_numpy(np.ascontiguousarray(mask[..., None].astype(np.float32))).movedim(-1, -3)
    return torch.cat([image_tensor(rgb) * m, m], dim=-3)
