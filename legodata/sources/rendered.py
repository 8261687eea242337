"""What the sources of rendered scenes (``render``, ``assembly``) share: a view's instances from the worker's mask and
the parts' final poses, and the record of a view whose files the worker wrote as ``rgb/``, ``mask/``, ``depth/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.core.records import Instance, Record
from legodata.core.spec import CameraView
from legodata.core.units import DEPTH_SCALE_M
from legodata.scene.ground_truth import view_instances


def view_file(view: CameraView) -> str:
    """The file name of ``view``'s images in each of the worker's ``rgb/``, ``mask/`` and ``depth/``."""
    return f"{view.view_id:04d}.png"


def rendered_instances(out_dir: Path, view: CameraView, parts: Sequence[tuple], what: str = "") -> tuple[Instance, ...]:
    """The instances of ``view`` from the worker's instance mask in ``out_dir/mask/`` and ``parts`` (instance id,
    part id, colour code, mesh, final R_m2w, final t_m2w). ``what`` names the scene in the error (``"step 2 "``)."""
    mask = cv2.imread(str(out_dir / "mask" / view_file(view)), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.dtype != np.uint16 or mask.shape != (view.height, view.width):
        raise RuntimeError(f"worker wrote no valid uint16 mask for {what}view {view.view_id}")
    return view_instances(parts, np.asarray(view.K), np.asarray(view.R_w2c), np.asarray(view.t_w2c), mask)


def view_record(
    record_id: str, source: str, group_id: str, rel: str, view: CameraView, instances, meta: dict[str, Any]
) -> Record:
    """The record of ``view`` whose images are ``rel/rgb/``, ``rel/mask/`` and ``rel/depth/`` in the store."""
    name = view_file(view)
    return Record(
        record_id=record_id,
        source=source,
        group_id=group_id,
        image_path=f"{rel}/rgb/{name}",
        mask_path=f"{rel}/mask/{name}",
        depth_path=f"{rel}/depth/{name}",
        depth_scale_m=DEPTH_SCALE_M,
        width=view.width,
        height=view.height,
        K=view.K,
        instances=instances,
        meta=meta,
    )
