"""Label Studio annotation without a server: camera files, keypoints, PnP, brush RLE, configs, export validation."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from support.ldraw_files import ldraw_dir  # noqa: F401

from legodata.annotate import configs, credentials, rle
from legodata.annotate.camera_info import load_camera_info, write_ros_camera_info
from legodata.annotate.candidates import axis_aligned_candidates
from legodata.annotate.convert import Context, Converted, Rejected, convert_annotation
from legodata.annotate.keypoints import catalogue_keypoints, keypoint_array, part_keypoints
from legodata.annotate.pnp import (
    canonical_pose,
    mesh_centroid,
    percent_from_pixel,
    pixel_from_percent,
    project_points,
    solve_keypoints,
)
from legodata.annotate.push import _brush_result, _choice_result, keypoint_result
from legodata.core.rotations import random_rotations, symmetric_geodesic_angle
from legodata.errors import LegodataError
from legodata.parts.catalogue import get_part, part_ids
from legodata.scene.ground_truth import silhouette

K = np.array([[320.0, 0.0, 159.5], [0.0, 320.0, 119.5], [0.0, 0.0, 1.0]])
W, H = 320, 240


# --- camera files ---------------------------------------------------------------------------------------------------


def test_opencv_filestorage_and_ros_camera_info(tmp_path):
    fs = cv2.FileStorage(str(tmp_path / "cv.yaml"), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 640)
    fs.write("image_height", 480)
    fs.write("camera_matrix", np.array([[500.0, 0, 319.5], [0, 510, 239.5], [0, 0, 1]]))
    fs.write("distortion_coefficients", np.array([[0.1, -0.05, 0, 0, 0.01]]))
    fs.release()
    cv = load_camera_info(tmp_path / "cv.yaml")
    assert (cv.width, cv.height) == (640, 480) and cv.K[1, 1] == 510 and cv.has_distortion
    write_ros_camera_info(tmp_path / "ost.yaml", cv.K, 640, 480, cv.dist)
    ros = load_camera_info(tmp_path / "ost.yaml")
    assert np.allclose(ros.K, cv.K) and np.allclose(ros.dist, cv.dist) and ros.distortion_model == "plumb_bob"
    (tmp_path / "msg.yaml").write_text(
        "header: {frame_id: cam}\nheight: 480\nwidth: 640\ndistortion_model: plumb_bob\n"
        "d: [0.0, 0.0, 0.0, 0.0, 0.0]\nk: [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]\n"
    )
    msg = load_camera_info(tmp_path / "msg.yaml")
    assert msg.K[0, 2] == 320 and not msg.has_distortion
    half = msg.for_image(320, 240)  # a photo saved at half size: pixel centres stay at integers
    assert half.K[0, 0] == 250 and half.K[0, 2] == pytest.approx(0.5 * 320.5 - 0.5)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("image_width: 640\nimage_height: 480\n", "has no camera matrix"),
        ("image_width: 640\ncamera_matrix: {rows: 3, cols: 3, data: [1,0,0,0,1,0,0,0,1]}\n", "no image height"),
        (
            "image_width: 64\nimage_height: 48\ncamera_matrix: {rows: 3, cols: 3, data: [1, 2, 3]}\n",
            "key camera_matrix",
        ),
        ("width: 64\nheight: 48\nK: [1,0,0,0,1,0,0,0,1]\ndistortion_model: equidistant\n", "key distortion_model"),
        ("a: [unclosed\n", "not valid YAML"),
    ],
)
def test_camera_file_errors_are_one_line_naming_file_and_key(tmp_path, text, problem):
    path = tmp_path / "cam.yaml"
    path.write_text(text)
    with pytest.raises(LegodataError) as err:
        load_camera_info(path)
    assert str(path) in str(err.value) and problem in str(err.value) and "\n" not in str(err.value)


def test_photo_of_another_aspect_ratio_is_refused(tmp_path):
    write_ros_camera_info(tmp_path / "c.yaml", K, W, H)
    with pytest.raises(LegodataError, match="another aspect ratio"):
        load_camera_info(tmp_path / "c.yaml").for_image(300, 300, "p.png")


# --- keypoints and PnP ----------------------------------------------------------------------------------------------


def test_keypoints_come_from_the_geometry():
    counts = {pid: len(catalogue_keypoints(pid)) for pid in part_ids()}
    # a box has 8 body corners; studs add their top centres; the tile has none
    assert counts["3001"] == 8 + 8 and counts["3005"] == 8 + 1 and counts["3069b"] == 8
    assert counts["3039"] == 10 + 2  # the slope's body has 10 hull corners
    kps = catalogue_keypoints("3001")
    assert [k.number for k in kps] == list(range(1, 17))
    assert len({k.name for k in kps}) == len(kps)
    assert kps[0].name == "corner top -x -z" and kps[-1].name == "stud x4 z2"
    studs = keypoint_array(kps)[8:]
    assert np.allclose(studs[:, 1], -4 * 0.0004)  # stud tops at -4 LDU (LDraw -Y up)
    again = part_keypoints(get_part("3001").mesh)
    assert again == kps


def test_pnp_recovers_the_pose_and_the_pixel_convention():
    rng = np.random.default_rng(3)
    P = keypoint_array(catalogue_keypoints("3039"))
    for _ in range(20):
        R, t = random_rotations(rng, 1)[0], np.array([0.005, -0.003, 0.08])
        uv = project_points(P, K, R, t)
        res = solve_keypoints(P[:6], uv[:6], K)
        assert np.degrees(symmetric_geodesic_angle(res.R_m2c, R, np.eye(3)[None])) < 1e-4
        assert np.allclose(res.t_m2c, t, atol=1e-7) and res.rms_px < 1e-6
    # a click in the middle of pixel (0, 0) is Label Studio's (0.5/W, 0.5/H) percent
    assert pixel_from_percent(*percent_from_pixel(0.0, 0.0, W, H), W, H) == pytest.approx((0.0, 0.0))
    assert percent_from_pixel(0.0, 0.0, W, H) == pytest.approx((50 / W, 50 / H))
    with pytest.raises(ValueError, match="at least 4"):
        solve_keypoints(P[:3], uv[:3], K)
    with pytest.raises(ValueError, match="one line"):
        studs = keypoint_array(catalogue_keypoints("3010"))[8:]  # 4 studs in a row
        solve_keypoints(studs, project_points(studs, K, R, t), K)


def test_symmetric_labellings_give_the_same_record():
    part = get_part("3003")  # 2x2 brick: 4 quarter turns about -Y
    sym = part.symmetry.sampled()
    c = mesh_centroid(part.mesh.vertices, part.mesh.faces)
    rng = np.random.default_rng(0)
    R, t = random_rotations(rng, 1)[0], np.array([0.0, 0.01, 0.1])
    poses = []
    for S, T in zip(part.symmetry.rotations, part.symmetry.translations):
        # the annotator numbered the keypoints of an equivalent pose: (R S, R T + t)
        R2, t2 = R @ S, R @ T + t
        assert (
            np.array_equal(silhouette(part.mesh, K, R2, t2, W, H), silhouette(part.mesh, K, R, t, W, H))
            or np.abs(silhouette(part.mesh, K, R2, t2, W, H) ^ silhouette(part.mesh, K, R, t, W, H)).sum() < 3
        )
        poses.append(canonical_pose(R2, t2, sym, c))
    for Rc, tc, _ in poses:
        assert np.allclose(Rc, poses[0][0], atol=1e-9) and np.allclose(tc, poses[0][1], atol=1e-9)


def test_axis_aligned_candidates_drop_symmetric_duplicates():
    assert len(axis_aligned_candidates()) == 24
    assert len(axis_aligned_candidates(get_part("3001").symmetry.sampled())) == 12
    assert len(axis_aligned_candidates(get_part("3003").symmetry.sampled())) == 6
    assert len(axis_aligned_candidates(get_part("3039").symmetry.sampled())) == 24


# --- brush RLE ------------------------------------------------------------------------------------------------------


def test_rle_is_label_studio_sdks_bit_for_bit():
    brush = pytest.importorskip("label_studio_sdk.converter.brush")
    rng = np.random.default_rng(1)
    for i in range(25):
        h, w = (int(x) for x in rng.integers(1, 70, 2))
        m = rng.random((h, w)) > 0.5 if i % 3 == 0 else np.zeros((h, w), bool)
        if i % 3:
            y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
            m[y : y + int(rng.integers(1, h + 1)), x : x + int(rng.integers(1, w + 1))] = True
        ours = rle.encode_mask(m)
        assert ours == brush.mask2rle(m.astype(np.uint8) * 255)
        assert np.array_equal(rle.decode_mask(ours, w, h), m)
        assert np.array_equal(rle.decode(ours), brush.decode_rle(ours))
    big = np.zeros((400, 400), bool)  # runs longer than 2**16 values
    assert rle.encode_mask(big) == brush.mask2rle(big.astype(np.uint8))
    with pytest.raises(ValueError, match="needs"):
        rle.decode(rle.encode_mask(big), expected=10)


# --- configs and validation of exports ------------------------------------------------------------------------------


def test_configs_ship_in_the_package_and_fill_in():
    for kind in configs.KINDS:
        xml = configs.build_config(kind, [("3001", "Brick 2 x 4"), ("3039", "Slope & <45>")], 16)
        ET.fromstring(xml)  # valid XML, names escaped
        assert "{{" not in xml
    parsed = configs.parse_config(configs.build_config("rotation", [("3001", "Brick 2 x 4")], 16))
    assert set(parsed.controls) == {"keypoints", "mask", "part", "candidate"}
    assert parsed.controls["keypoints"].values == frozenset(str(k) for k in range(1, 17))
    assert "3001" in parsed.controls["part"].values
    meta = configs.project_meta(configs.project_description("rotation", ["3001"], 16, None), "p")
    assert meta["parts"] == ["3001"] and meta["n_keypoints"] == 16
    with pytest.raises(LegodataError, match="not made by"):
        configs.project_meta("a project of someone else", "p")


def _ctx(kind="rotation"):
    xml = configs.build_config(kind, [("3001", "Brick 2 x 4"), ("3003", "Brick 2 x 2")], 16)
    return Context(kind, configs.parse_config(xml), ("3001", "3003"), project_id=7, project="p")


def _task(tmp_path, part_id="3001", seed=0, **lego):
    rng = np.random.default_rng(seed)
    R = random_rotations(rng, 1)[0]
    t = np.array([0.004, -0.002, 0.12])
    photo = tmp_path / "photo.png"
    mask = silhouette(get_part(part_id).mesh, K, R, t, W, H)
    cv2.imwrite(str(photo), np.dstack([mask * 200] * 3).astype(np.uint8))
    data = {
        "legodata": {
            "key": "k1", "part_id": part_id, "colour_code": 4, "K": K.tolist(), "dist": [], "width": W,
            "height": H, "photo": str(photo), "group": "g1",
            "candidates_R": axis_aligned_candidates(get_part(part_id).symmetry.sampled()).tolist(),
            **lego,
        },
        "candidate_choices": [{"value": str(k)} for k in range(1, 13)],
    }  # fmt: skip
    return {"id": 11, "data": data}, R, t, mask


def _keypoint_results(part_id, R, t, numbers):
    uv = project_points(keypoint_array(catalogue_keypoints(part_id)), K, R, t)
    return [keypoint_result(n, *uv[n - 1], W, H) for n in numbers]


def test_a_good_annotation_becomes_a_record(tmp_path):
    task, R, t, mask = _task(tmp_path)
    ann = {"id": 5, "completed_by": 1, "lead_time": 12.5, "updated_at": "2026-11-30T10:00:00Z",
           "result": _keypoint_results("3001", R, t, [1, 2, 3, 4, 9, 12]) + [_brush_result(mask, W, H)]}  # fmt: skip
    out = convert_annotation(task, ann, _ctx())
    assert isinstance(out, Converted), out
    rec = out.record
    assert rec.source == "label_studio" and rec.record_id == "ls7-5" and rec.group_id == "g1"
    assert rec.meta["annotator"] == "1" and rec.meta["lead_time_s"] == 12.5 and rec.meta["method"] == "keypoints"
    assert rec.meta["reprojection_error_px"] < 1e-3 and rec.meta["iou_projected"] > 0.99
    inst = rec.instances[0]
    sym = get_part("3001").symmetry.sampled()
    assert np.degrees(symmetric_geodesic_angle(np.asarray(inst.R_m2c), R, sym)) < 1e-3
    assert np.array_equal(out.mask, mask) and inst.px_count_visib == mask.sum()
    from legodata.scene.ground_truth import bbox_of

    assert inst.bbox_visib == bbox_of(mask) and inst.bbox_obj == bbox_of(mask) and inst.visib_fract == 1.0


def test_a_chosen_orientation_placed_by_the_mask(tmp_path):
    task, R, t, mask = _task(tmp_path, seed=4)
    cands = np.asarray(task["data"]["legodata"]["candidates_R"])
    # the annotator picks the candidate closest to the truth (seen along the ray through the part)
    from legodata.annotate.candidates import ray_rotation

    ys, xs = np.nonzero(mask)
    allo = ray_rotation(K, xs.mean(), ys.mean()).T @ R
    sym = get_part("3001").symmetry.sampled()
    best = int(np.argmin(symmetric_geodesic_angle(cands, allo, sym))) + 1
    ann = {"id": 6, "result": [_choice_result("candidate", str(best)), _brush_result(mask, W, H)]}
    out = convert_annotation(task, ann, _ctx())
    assert isinstance(out, Converted), out
    err = np.degrees(symmetric_geodesic_angle(np.asarray(out.record.instances[0].R_m2c), R, sym))
    assert out.record.meta["method"] == "choice" and err < 63  # 24 axis-aligned cells: within 62.8 degrees
    # 3 keypoints refine the choice
    ann["result"] += _keypoint_results("3001", R, t, [1, 4, 12])
    refined = convert_annotation(task, ann, _ctx())
    assert refined.record.meta["method"] == "choice+keypoints"
    assert np.degrees(symmetric_geodesic_angle(np.asarray(refined.record.instances[0].R_m2c), R, sym)) < 1.0


def _small_mask_without_size():
    """A brush result that does not say its size, whose RLE holds a 9x9 mask."""
    r = _brush_result(np.ones((9, 9), bool), 9, 9)
    del r["original_width"], r["original_height"]
    return r


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda res: res[:3], "3 keypoints placed (at least 4 are needed) and no orientation chosen"),
        (lambda res: res + [{**res[0], "value": {**res[0]["value"], "keypointlabels": ["99"]}}], "unknown label '99'"),
        (lambda res: [{**r, "from_name": "bogus"} if i == 0 else r for i, r in enumerate(res)], "names no control"),
        (lambda res: res + [_brush_result(np.ones((H + 10, W), bool), W, H + 10)], "made on an image 320x250"),
        (lambda res: res + [_small_mask_without_size()], "does not fit"),
        (lambda res: res + [res[0]], "keypoint 1 is placed twice"),
        (lambda res: res + [{**res[0], "value": {**res[0]["value"], "x": 130.0}}], "outside the image"),
        (lambda res: res + [_choice_result("candidate", "20")], "unknown label '20' (the task offers 12)"),
        (lambda res: res + [_choice_result("part", "3039")], "unknown label '3039'"),
        (lambda res: [{**r, "to_name": "reference"} for r in res], "to_name 'reference'"),
    ],
)  # fmt: skip
def test_bad_annotations_are_rejected_with_a_reason(tmp_path, edit, reason):
    task, R, t, mask = _task(tmp_path)
    good = _keypoint_results("3001", R, t, [1, 2, 3, 4, 9, 12])
    out = convert_annotation(task, {"id": 9, "result": edit(good)}, _ctx())
    assert isinstance(out, Rejected) and reason in out.reason, out
    assert out.annotation_id == 9 and out.annotation["result"]


def test_misnumbered_keypoints_are_rejected_by_reprojection_error(tmp_path):
    task, R, t, _ = _task(tmp_path)
    res = _keypoint_results("3001", R, t, [1, 2, 3, 4, 9, 12])
    res[1]["value"]["keypointlabels"], res[2]["value"]["keypointlabels"] = ["3"], ["2"]  # two corners swapped
    out = convert_annotation(task, {"id": 9, "result": res}, _ctx())
    assert isinstance(out, Rejected) and "fit no single pose" in out.reason


def test_skipped_and_foreign_tasks_are_rejected(tmp_path):
    task, *_ = _task(tmp_path)
    assert "skipped" in convert_annotation(task, {"id": 1, "was_cancelled": True, "result": []}, _ctx()).reason
    assert "not made by" in convert_annotation({"id": 2, "data": {}}, {"id": 3, "result": []}, _ctx()).reason


def test_review_and_mask_projects(tmp_path):
    task, R, t, mask = _task(tmp_path, pose={"R_m2c": np.eye(3).tolist(), "t_m2c": [0.0, 0.0, 0.12]})
    lego = task["data"]["legodata"]
    lego["pose"] = {"R_m2c": R.tolist(), "t_m2c": t.tolist()}
    ok = convert_annotation(task, {"id": 1, "result": [_choice_result("verdict", "pose and mask are right")]},
                            _ctx("review"))  # fmt: skip
    assert isinstance(ok, Converted) and ok.record.meta["mask_source"] == "projected"
    no = convert_annotation(task, {"id": 2, "result": [_choice_result("verdict", "pose is wrong")]}, _ctx("review"))
    assert isinstance(no, Rejected) and "the reviewer said: pose is wrong" in no.reason
    painted = convert_annotation(task, {"id": 3, "result": [_brush_result(mask, W, H)]}, _ctx("mask"))
    assert isinstance(painted, Converted) and np.array_equal(painted.mask, mask)
    assert "no mask painted" in convert_annotation(task, {"id": 4, "result": []}, _ctx("mask")).reason


# --- credentials and the server's environment -------------------------------------------------------------------------


def test_credentials_are_private_and_env_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    with pytest.raises(LegodataError, match="annotate serve"):
        credentials.resolve()
    creds = credentials.generate("http://127.0.0.1:8080")
    path = credentials.save(creds)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert creds.token not in repr(creds) and creds.password not in repr(creds)
    assert credentials.resolve().token == creds.token
    assert credentials.resolve("http://localhost:8080").token == creds.token
    with pytest.raises(LegodataError, match="LABEL_STUDIO_API_KEY"):
        credentials.resolve("http://elsewhere:8080")
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://elsewhere:8080")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "their-token")
    r = credentials.resolve()
    assert (r.url, r.token) == ("http://elsewhere:8080", "their-token")
    assert json.loads(path.read_text())["token"] == creds.token


def test_server_env_strips_what_leaks_into_label_studio(monkeypatch):
    from legodata.annotate import server

    for k in ("PORT", "HOST", "USERNAME", "DEBUG", "LABEL_STUDIO_PORT", "HEARTEX_X"):
        monkeypatch.setenv(k, "1")
    env = server._clean_env()
    assert not {"PORT", "HOST", "USERNAME", "DEBUG", "LABEL_STUDIO_PORT", "HEARTEX_X"} & set(env)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not server.port_free(port)
        with pytest.raises(LegodataError, match=f"port {port} on 127.0.0.1 is busy"):
            server.start_server(port, "/nonexistent", credentials.generate("x"), executable="/bin/false")


def test_the_package_carries_the_configs_of_the_annotate_folder():
    from importlib import resources
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "annotate"
    for kind in configs.KINDS:
        shipped = (resources.files("legodata.annotate") / "configs" / f"{kind}.xml").read_text()
        assert shipped == (root / f"{kind}.xml").read_text()


def test_photos_without_a_camera_file_are_refused_before_any_server_is_asked(tmp_path):
    from legodata.annotate.push import push

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(LegodataError, match="pass --camera CAMERA.yaml"):
        push(tmp_path, "any", client=object())


def test_annotation_checks_project_parts_as_the_ground_truth_does():
    from legodata.annotate.checks import projected_silhouette

    rng = np.random.default_rng(5)
    for i in range(40):
        part = get_part(part_ids()[i % len(part_ids())])
        R, t = random_rotations(rng, 1)[0], np.array([*rng.normal(0, 0.01, 2), rng.uniform(0.05, 0.15)])
        assert np.array_equal(projected_silhouette(part.mesh, K, R, t, W, H), silhouette(part.mesh, K, R, t, W, H))


def test_keypoints_and_part_choices_of_an_ldraw_part(ldraw_dir):  # noqa: F811
    kps = catalogue_keypoints("9999", str(ldraw_dir))  # a 20 x 24 x 40 LDU box without studs
    assert len(kps) == 8 and all(k.kind == "corner" for k in kps)
    ldu = keypoint_array(kps) / 0.0004
    assert np.allclose(np.sort(np.unique(np.round(ldu[:, 0]))), [-10, 10]) and set(np.round(ldu[:, 1])) == {0, 24}
    part = get_part("9999", str(ldraw_dir))
    xml = configs.build_config("rotation", [("9999", part.info.name)], len(kps))
    assert 'alias="9999"' in xml and "Test Box" in xml


def test_a_stale_server_record_never_signals_another_program(tmp_path, monkeypatch):
    import subprocess

    from legodata.annotate import server

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    other = subprocess.Popen(["sleep", "30"])  # alive, but not Label Studio
    try:
        server.state_path().parent.mkdir(parents=True)
        server.state_path().write_text(json.dumps({"pid": other.pid, "url": "http://127.0.0.1:1", "port": 1}))
        assert server.running() is None and server.stop() is None
        assert other.poll() is None and not server.state_path().exists()
    finally:
        other.kill()
        other.wait()
