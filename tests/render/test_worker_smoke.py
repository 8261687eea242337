"""Smoke test of the real render worker (Blender via bpy + BlenderProc) through its stdin/stdout protocol."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from legodata.core.mesh import Mesh, write_ply
from legodata.core.spec import CameraView, Light, PlacedPart, RenderSettings, SceneSpec, Surface
from legodata.scene.camera import look_at_w2c

# find_spec, not importorskip: importing bpy/blenderproc into the test process is what the worker exists to avoid.
if importlib.util.find_spec("bpy") is None or importlib.util.find_spec("blenderproc") is None:
    pytest.skip("needs the render extra: pip install 'legodata[render]'", allow_module_level=True)

W = H = 64
K = np.array([[80.0, 0.0, 30.5], [0.0, 76.0, 34.0], [0.0, 0.0, 1.0]])  # fx != fy, off-centre principal point
BOXES = {  # instance_id: (half extents, centre)
    1: ((0.012, 0.012, 0.003), (0.0, 0.0, 0.003)),
    2: ((0.006, 0.006, 0.005), (0.03, -0.02, 0.005)),
}


def box_mesh(sx, sy, sz) -> Mesh:
    v = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)], dtype=float)
    faces = [
        (0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
        (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3),
    ]  # fmt: skip
    return Mesh(v, np.array(faces))


def make_views() -> list[CameraView]:
    eye = np.array([0.005, 0.004, 0.12])
    R_top = np.diag([1.0, -1.0, -1.0])  # looking straight down
    views = [CameraView(0, W, H, K, R_top, -R_top @ eye)]
    R, t = look_at_w2c(np.array([0.04, -0.06, 0.11]), np.array([0.0, 0.0, 0.0]))
    views.append(CameraView(3, W, H, K, R, t))
    return views


def make_spec(root: Path) -> SceneSpec:
    (root / "models").mkdir(parents=True)
    parts = []
    for iid, (half, centre) in BOXES.items():
        write_ply(box_mesh(*half), root / "models" / f"box{iid}.ply")
        parts.append(PlacedPart(iid, f"box{iid}", 4, (0.8, 0.1, 0.1), f"models/box{iid}.ply", np.eye(3), centre))
    spec = SceneSpec(
        scene_id="smoke",
        scene_index=0,
        seed=0,
        orientation="upright",
        physics=False,
        parts=tuple(parts),
        views=tuple(make_views()),
        lights=(Light((0.1, -0.1, 0.3), 15.0, (1.0, 1.0, 1.0), 0.05),),
        table=Surface((0.6, 0.5, 0.4), (0.5, 0.45, 0.35), 40.0, 0.6, 0.5),
        background_rgb=(0.3, 0.4, 0.5),
        background_strength=0.7,
        render=RenderSettings(samples=4, denoiser=False, max_bounces=2, device="cpu", threads=2, adaptive_threshold=0),
    )
    # through JSON, as the job runner does (numpy arrays -> lists)
    return SceneSpec.from_dict(json.loads(json.dumps(asdict(spec), default=lambda o: o.tolist())))


def expected_front_depth(view: CameraView, half, centre) -> tuple[tuple[int, int], float]:
    """Pixel of the projected box centre, and the camera-z depth where that pixel's centre ray meets the
    box's top face (the face the cameras see there)."""
    R, t = np.asarray(view.R_w2c), np.asarray(view.t_w2c)
    c = R @ np.asarray(centre) + t
    u, v = (K @ c)[:2] / c[2]
    px, py = int(round(u)), int(round(v))
    ray_cam = np.linalg.inv(K) @ np.array([px, py, 1.0])  # camera z = 1
    origin_w, ray_w = -R.T @ t, R.T @ ray_cam
    top = centre[2] + half[2]
    s = (top - origin_w[2]) / ray_w[2]
    hit = origin_w + s * ray_w
    assert np.all(np.abs(hit[:2] - np.asarray(centre[:2])) < np.asarray(half[:2])), "test geometry: ray misses top"
    return (px, py), float(s)  # ray_cam has z = 1, so s is the camera-z depth


@pytest.mark.slow
def test_worker_protocol_and_outputs(tmp_path):
    spec = make_spec(tmp_path / "store")
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(spec.to_json())
    out = tmp_path / "out"
    requests = json.dumps({"spec": str(spec_path), "out": str(out)}) + "\n"
    requests += json.dumps({"spec": str(tmp_path / "missing.json"), "out": str(tmp_path / "out2")}) + "\n"
    proc = subprocess.run(
        [sys.executable, "-m", "legodata_render.worker", "--root", str(tmp_path / "store")],
        input=requests,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, f"protocol stream must hold only answers, got {proc.stdout[:2000]!r}"
    ok, bad = (json.loads(line) for line in lines)
    assert ok["ok"] is True and ok["out"] == str(out), ok
    assert set(ok["timing_s"]) >= {"build", "physics", "render", "write"}
    assert bad["ok"] is False and "missing.json" in bad["error"] and "\n" not in bad["error"]

    worker = json.loads((out / "worker.json").read_text())
    assert worker["blender_version"].startswith("4.2")
    poses = {p["instance_id"]: p for p in worker["parts"]}
    assert set(poses) == set(BOXES)
    for iid, (_, centre) in BOXES.items():
        np.testing.assert_allclose(poses[iid]["R_m2w"], np.eye(3), atol=1e-6)
        np.testing.assert_allclose(poses[iid]["t_m2w"], centre, atol=1e-6)

    for view in spec.views:
        name = f"{view.view_id:04d}.png"
        rgb = cv2.imread(str(out / "rgb" / name), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(out / "mask" / name), cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(str(out / "depth" / name), cv2.IMREAD_UNCHANGED)
        assert rgb.dtype == np.uint8 and rgb.shape == (H, W, 3)
        assert mask.dtype == np.uint16 and mask.shape == (H, W)
        assert depth.dtype == np.uint16 and depth.shape == (H, W)
        assert set(np.unique(mask).tolist()) <= {0, *BOXES}
        assert 0 in mask  # table / background
        for iid, (half, centre) in BOXES.items():
            (px, py), z = expected_front_depth(view, half, centre)
            assert mask[py, px] == iid, f"view {view.view_id}: pixel ({px},{py}) is {mask[py, px]}, not {iid}"
            assert abs(depth[py, px] * 1e-4 - z) < 1e-3, f"view {view.view_id}: depth {depth[py, px]} vs {z}"
    # the table is visible too, and gets a depth
    assert (depth[mask == 0] > 0).any()
