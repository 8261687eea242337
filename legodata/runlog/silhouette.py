"""A stand-in for the Blender render worker: flat colours, exact silhouettes, depth, in numpy.

:class:`SilhouetteRenderer` has the :class:`~legodata.core.protocol.Renderer` interface, so ``simulate-run`` (and
its tests and benchmarks) can run without Blender; real runs use the Blender worker.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from legodata.core.protocol import WORKER_RESULT, RenderAnswer, Renderer
from legodata.core.spec import load_spec
from legodata.core.units import DEPTH_SCALE_M


class SilhouetteRenderer(Renderer):
    """A stand-in renderer in numpy: flat colours, exact silhouettes, painter's order by depth. For tests and
    benchmarks without Blender; real runs use the Blender worker."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def render(self, spec_path: Path, out_dir: Path) -> RenderAnswer:
        from legodata.core.mesh import read_ply
        from legodata.scene.ground_truth import pose_m2c, silhouette

        spec = load_spec(spec_path)
        out_dir = Path(out_dir)
        for sub in ("rgb", "mask", "depth"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
        for view in spec.views:
            h, w = view.height, view.width
            rgb = np.zeros((h, w, 3), np.uint8)
            rgb[:] = (np.asarray(spec.table.rgb[::-1]) * 255).astype(np.uint8)
            mask = np.zeros((h, w), np.uint16)
            depth = np.zeros((h, w), np.uint16)
            layers = []
            for p in spec.parts:
                mesh = read_ply(self.root / p.mesh_path)
                R, t = pose_m2c(
                    np.asarray(p.R_m2w), np.asarray(p.t_m2w), np.asarray(view.R_w2c), np.asarray(view.t_w2c)
                )
                sil = silhouette(mesh, np.asarray(view.K), R, t, w, h)
                layers.append((float(t[2]), p, sil))
            for z, p, sil in sorted(layers, key=lambda x: -x[0]):  # far first
                rgb[sil] = (np.asarray(p.rgb[::-1]) * 255).astype(np.uint8)
                mask[sil] = p.instance_id
                depth[sil] = int(min(65535, z / DEPTH_SCALE_M))
            name = f"{view.view_id:04d}.png"
            cv2.imwrite(str(out_dir / "rgb" / name), rgb)
            cv2.imwrite(str(out_dir / "mask" / name), mask)
            cv2.imwrite(str(out_dir / "depth" / name), depth)
        (out_dir / WORKER_RESULT).write_text(
            json.dumps(
                {"parts": [{"instance_id": p.instance_id, "R_m2w": p.R_m2w, "t_m2w": p.t_m2w} for p in spec.parts]}
            )
        )
        return RenderAnswer(ok=True, out=str(out_dir))

    def close(self, kill: bool = False) -> None:
        pass
