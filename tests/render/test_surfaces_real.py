"""The worker's z-buffer masks and depth against the former exact Cycles data pass, in a real Blender scene that
also holds non-part objects: a distractor in front of a part (an occluder, label 0), one hidden from rendering and
one invisible to camera rays (neither may show)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from support.raycast import boundary_band

if importlib.util.find_spec("bpy") is None or importlib.util.find_spec("blenderproc") is None:
    pytest.skip("needs the render extra: pip install 'legodata[render]'", allow_module_level=True)

SCRIPT = r"""
import json, sys
from pathlib import Path
import numpy as np
from legodata_render.bootstrap import load_blenderproc
bproc = load_blenderproc()
bproc.init()
import bpy
from legodata_render import passes, scene_builder, settings, surfaces
from legodata.core.spec import load_spec

spec_path, root, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
spec = load_spec(spec_path)
passes.setup_compositor()
built = scene_builder.build_scene(spec, root)
settings.apply_render_settings(bproc, spec.render)

def cube(name, size, location, **props):
    bpy.ops.mesh.primitive_cube_add(size=size, location=location)
    obj = bpy.context.active_object
    obj.name = name
    for key, value in props.items():
        setattr(obj, key, value)
    return obj

cube("distractor", 0.012, (0.008, 0.0, 0.03), pass_index=0)  # over part 1: hides some of it
cube("hidden", 0.2, (0.0, 0.0, 0.06), hide_render=True)  # would cover the whole view
cube("no_camera", 0.2, (0.0, 0.0, 0.07), visible_camera=False)
views = list(spec.views)
passes.set_cameras(bproc, views)
scene = surfaces.scene_triangles()
files = passes.render_data(out, len(views))
result = {}
for view, exr in zip(views, files):
    result[f"cycles_mask_{view.view_id}"], result[f"cycles_depth_{view.view_id}"] = passes.decode_data_exr(exr)
    result[f"z_mask_{view.view_id}"], result[f"z_depth_{view.view_id}"] = surfaces.view_maps(scene, view)
np.savez(out / "maps.npz", **result)
import os
os._exit(0)
"""


@pytest.mark.slow
def test_zbuffer_equals_the_cycles_data_pass_with_occluders_and_invisible_objects(tmp_path):
    from test_worker_smoke import BOXES, make_spec

    spec = make_spec(tmp_path / "store")
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(spec.to_json())
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(spec_path), str(tmp_path / "store"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    maps = np.load(out / "maps.npz")
    hidden_part = 0
    for view in spec.views:
        cycles, zbuf = maps[f"cycles_mask_{view.view_id}"], maps[f"z_mask_{view.view_id}"]
        assert set(np.unique(zbuf).tolist()) == {0, *BOXES}
        # the same owner at every pixel off the edges (both sample pixel centres)
        assert not ((cycles != zbuf) & ~boundary_band(cycles)).any()
        assert (cycles != zbuf).sum() <= 3
        same = (cycles == zbuf) & ~boundary_band(cycles)
        dz = np.abs(maps[f"cycles_depth_{view.view_id}"][same].astype(int) - maps[f"z_depth_{view.view_id}"][same])
        assert dz.max() <= 2  # 0.2 mm: the pass's float32 Z against the plane hit in float64
        assert (maps[f"z_depth_{view.view_id}"] > 0).all()  # table or distractor everywhere: never the big cubes
        hidden_part += int(((zbuf == 0) & (maps[f"z_depth_{view.view_id}"] < 950)).sum())
    assert hidden_part > 20  # the distractor (top at 0.036 m, under 0.095 m from the cameras) covers pixels as label 0
