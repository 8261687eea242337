"""Labels of hand-made logs: the documented example (every event kind, a wrist camera's video frame), a camera
without a pose, and frame conversions."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from legodata.core.rotations import axis_angle_to_matrix, geodesic_angle, matrix_to_quat_wxyz, quat_wxyz_to_matrix
from legodata.jobs.import_log import run_import
from legodata.runlog import example_lines
from legodata.store.store import Store


def Rx(deg):
    return axis_angle_to_matrix([1, 0, 0], np.radians(deg))


def Rz(deg):
    return axis_angle_to_matrix([0, 0, 1], np.radians(deg))


def q(R):
    return [float(x) for x in matrix_to_quat_wxyz(R)]


def close(a, b, tol_deg=1e-6):
    return float(np.degrees(geodesic_angle(np.asarray(a), np.asarray(b)))) < tol_deg


def write_files(root: Path, lines: list[str], video_frames: int = 0) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "log.jsonl").write_text("\n".join(lines) + "\n")
    header = json.loads(lines[0])
    size = {c["name"]: (c["width"], c["height"]) for c in header["cameras"]}
    for line in lines[1:]:
        d = json.loads(line)
        if d["type"] != "observation":
            continue
        w, h = size[d["camera"]]
        if "image" in d:
            (root / d["image"]).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / d["image"]), np.full((h, w, 3), 90, np.uint8))
        if "mask" in d:
            (root / d["mask"]).parent.mkdir(parents=True, exist_ok=True)
            mask = np.zeros((h, w), np.uint16)
            mask[h // 3 : h // 2, w // 3 : w // 2] = 1
            cv2.imwrite(str(root / d["mask"]), mask)
        if "video" in d and video_frames:
            _video(root / d["video"]["path"], video_frames, w, h)


def _video(path: Path, frames: int, w: int, h: int) -> None:
    av = pytest.importorskip("av")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for k in range(frames):
            img = np.zeros((h, w, 3), np.uint8)
            img[:, :, 1] = k % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def by_obs(store: Path) -> dict[str, object]:
    return {r.record_id: r for r in Store(store).iter_records()}


def test_the_documented_example(tmp_path):
    pytest.importorskip("av")
    lines = example_lines()
    write_files(tmp_path / "log", lines, video_frames=245)
    s = run_import(tmp_path / "log", tmp_path / "store")
    assert s.problems == 0, (tmp_path / "store" / "quarantine.jsonl").read_text()
    recs = by_obs(tmp_path / "store")
    assert len(recs) == 6
    C = Rx(180)  # cam0 looks straight down
    A1w = C @ Rx(90) @ C.T  # logged in cam0's frame
    Rg1 = A1w @ Rx(180)  # the gripper after it
    A2w = Rg1 @ Rz(45) @ Rg1.T  # logged in the gripper frame
    o1 = recs["run7-ep001_o1"].meta
    assert o1["rotation_to_target_from"] == "actions" and o1["target_observation"] == "o4"
    assert o1["steps_to_target"] == 2 and o1["target_judged_by"] == "sensor"
    applied = quat_wxyz_to_matrix(np.asarray(o1["rotation_applied_to_target_wxyz"]))
    assert close(applied, C.T @ A2w @ A1w @ C)
    # the 2x4 brick's half turn about its vertical axis makes a smaller rotation reach an equivalent target
    reduced = quat_wxyz_to_matrix(np.asarray(o1["rotation_to_target_wxyz"]))
    assert o1["symmetry_reduced"] and geodesic_angle(np.eye(3), reduced) <= geodesic_angle(np.eye(3), applied) + 1e-9
    assert o1["action"] == "pick up the red 2x4 brick" and o1["verb"] == "pick" and o1["part_id"] == "3001"
    (inst,) = recs["run7-ep001_o1"].instances
    assert close(inst.R_m2c, C.T) and np.allclose(inst.t_m2c, C.T @ (np.array([0.05, 0.02, 0.0096]) - [0, 0, 0.5]))
    assert inst.px_count_visib == 40 * 54 and inst.px_count_all > 0
    # held: position from the gripper pose and the grasp offset at pick; orientation from the actions agrees
    o2 = recs["run7-ep001_o2"]
    assert o2.meta["held"] and o2.meta["pose_check_deg"] < 1e-4
    assert np.allclose(o2.meta["current_pose_in_world"]["t_m"], [0.0, 0.0, 0.1048])
    o3 = recs["run7-ep001_o3"].meta
    assert close(quat_wxyz_to_matrix(np.asarray(o3["action_rotation_wxyz"])), C.T @ A2w @ C)
    assert o3["judged_correct"] is False and o3["judged_by"] == "human"
    # the wrist camera's video frame, with its own pose; the judged observation needs no rotation
    o4 = recs["run7-ep001_o4"]
    assert o4.meta["video_frame"] == 240 and o4.image_path.endswith(".png")
    frame = cv2.imread(str(tmp_path / "store" / o4.image_path))
    assert frame.shape == (240, 320, 3) and abs(int(frame[..., 1].mean()) - 240) <= 4
    assert close(quat_wxyz_to_matrix(np.asarray(o4.meta["rotation_to_target_wxyz"])), np.eye(3))
    assert close(o4.meta["R_m2c"], Rx(180).T @ A2w @ A1w)
    # disassembly by hand: the goal is the pose at pick, the current one after place
    d2 = recs["run7-ep002_o2"].meta
    assert d2["mode"] == "disassemble" and d2["source_kind"] == "human" and d2["rotation_to_target_from"] == "goal_pose"
    R_goal = A2w @ A1w
    R_now = quat_wxyz_to_matrix(np.array([0.5, 0.5, 0.5, 0.5]))
    T = quat_wxyz_to_matrix(np.asarray(d2["rotation_to_target_wxyz"]))
    from legodata.parts.catalogue import get_part

    sym = get_part("3001").symmetry.rotations
    assert min(geodesic_angle(C.T @ T @ C @ R_now, R_goal @ S) for S in sym) < 1e-7
    assert not d2["label_notes"] and recs["run7-ep002_o2"].instances


def test_a_camera_without_a_pose(tmp_path):
    """All rotations logged in the frame of one uncalibrated camera: composed directly, no absolute pose."""
    head = {
        "type": "header",
        "format": "legodata-log",
        "version": 1,
        "robot": {"name": "bench"},
        "world_frame": "bench",
        "cameras": [{"name": "c", "K": [[100, 0, 31.5], [0, 100, 23.5], [0, 0, 1]], "width": 64, "height": 48}],
        "catalogue": {"kind": "builtin", "part_ids": ["3039", "3003"]},
    }
    A1, A2 = Rx(30), Rz(-50)
    ev = [
        head,
        {"type": "episode_start", "episode": "e1", "mode": "assemble", "source_kind": "tool"},
        {"type": "observation", "episode": "e1", "id": "a", "t": 0, "camera": "c", "image": "i/a.png"},
        {
            "type": "vlm",
            "episode": "e1",
            "track": "p",
            "part_id": "3039",
            "colour_code": 1,
            "action": {"text": "turn it", "verb": "rotate"},
        },
        {"type": "rotate", "episode": "e1", "track": "p", "quat_wxyz": q(A1), "frame": "camera", "camera": "c"},
        {"type": "observation", "episode": "e1", "id": "b", "t": 1, "camera": "c", "image": "i/b.png"},
        {"type": "rotate", "episode": "e1", "track": "p", "quat_wxyz": q(A2), "frame": "camera", "camera": "c"},
        {"type": "observation", "episode": "e1", "id": "c", "t": 2, "camera": "c", "image": "i/c.png"},
        {"type": "judgement", "episode": "e1", "t": 3, "track": "p", "correct": True, "by": "human"},
        {"type": "episode_end", "episode": "e1", "outcome": "success"},
        {"type": "episode_start", "episode": "e2", "mode": "assemble", "source_kind": "robot"},
        {"type": "observation", "episode": "e2", "id": "a", "t": 0, "camera": "c", "image": "i/a.png"},
        {"type": "rotate", "episode": "e2", "track": "p", "quat_wxyz": q(A1), "frame": "world"},
        {"type": "observation", "episode": "e2", "id": "b", "t": 1, "camera": "c", "image": "i/b.png"},
        {"type": "judgement", "episode": "e2", "t": 3, "track": "p", "correct": True, "by": "vlm"},
        {"type": "episode_end", "episode": "e2", "outcome": "success"},
    ]
    write_files(tmp_path / "log", [json.dumps(e) for e in ev])
    s = run_import(tmp_path / "log", tmp_path / "store")
    assert s.problems == 0
    recs = by_obs(tmp_path / "store")
    a = recs["e1_a"].meta
    assert close(quat_wxyz_to_matrix(np.asarray(a["rotation_to_target_wxyz"])), A2 @ A1)
    assert not a["symmetry_reduced"] and a["R_m2c"] is None and not recs["e1_a"].instances
    assert any("not reduced by symmetry" in n for n in a["label_notes"])
    assert a["source_kind"] == "tool" and a["part_id"] == "3039"
    assert close(quat_wxyz_to_matrix(np.asarray(recs["e1_b"].meta["rotation_to_target_wxyz"])), A2)
    # a world-frame rotation cannot be expressed in a camera whose pose is unknown
    e2 = recs["e2_a"].meta
    assert e2["rotation_to_target_wxyz"] is None
    assert any("camera c has no pose" in n for n in e2["label_notes"])
    assert recs["e2_b"].meta["rotation_to_target_wxyz"] == [1.0, 0.0, 0.0, 0.0]
