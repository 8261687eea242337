"""Two checks Label Studio cannot do: the part's mesh at the annotated pose against the annotated mask, and
agreement between annotators of one image. Pure numpy.

- Projected IoU: the silhouette of the mesh at ``(R_m2c, t_m2c)`` (pixel centres, as the renderer's masks) against
  the painted visible mask. An unoccluded part labelled well scores near 1; occlusion lowers it honestly (the mask is
  visible pixels, the silhouette is not), so a low value is a flag for a person to look, not a rejection.
- Agreement: for two annotations of the same part in the same photo, the symmetry-aware rotation angle (degrees)
  and the IoU of their masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from legodata.annotate.projection import projected_silhouette
from legodata.core.mesh import Mesh
from legodata.core.rotations import symmetric_geodesic_angle

LOW_IOU = 0.5  # projected-mesh IoU below this is flagged
DISAGREE_DEG = 10.0  # two annotators further apart than this are flagged
DISAGREE_IOU = 0.8


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else 1.0


def projected_iou(mesh: Mesh, K, R, t, mask: np.ndarray, dist=None) -> float:
    """IoU of the mesh's projected silhouette and ``mask``."""
    h, w = np.asarray(mask).shape
    return iou(projected_silhouette(mesh, K, R, t, w, h, dist), mask)


@dataclass(frozen=True)
class Agreement:
    record_a: str
    record_b: str
    angle_deg: float
    mask_iou: float

    @property
    def flagged(self) -> bool:
        return self.angle_deg > DISAGREE_DEG or self.mask_iou < DISAGREE_IOU

    def to_json(self) -> dict:
        return {
            "records": [self.record_a, self.record_b],
            "angle_deg": round(self.angle_deg, 3),
            "mask_iou": round(self.mask_iou, 4),
            "flagged": self.flagged,
        }


def agreement(record_a: str, R_a, mask_a, record_b: str, R_b, mask_b, symmetries: np.ndarray) -> Agreement:
    """How far two labels of one part in one photo are apart (symmetric rotation angle, mask IoU)."""
    angle = float(np.degrees(symmetric_geodesic_angle(np.asarray(R_a), np.asarray(R_b), np.asarray(symmetries))))
    return Agreement(record_a, record_b, angle, iou(mask_a, mask_b))
