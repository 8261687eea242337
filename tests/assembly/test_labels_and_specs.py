"""Step labels (symmetry-aware rotation action) and the scene specs of an assembly."""

import json

import numpy as np
import pytest
from support.assembly_models import three_step_ldr

from legodata.assembly.labels import PartSymmetry, Pose, pose_labels, rotation_angle, smallest_action, surface_centroid
from legodata.assembly.specs import (
    ModelScene,
    PartLook,
    StepsSettings,
    callout_keys,
    callout_spec,
    make_workspace,
    manual_spec,
    observation_spec,
)
from legodata.assembly.steps import load_assembly
from legodata.core.rotations import axis_angle_to_matrix, random_rotations
from legodata.core.spec import RenderSettings, SceneSpec
from legodata.parts.catalogue import get_part
from legodata.scene.sampler import PartGeometry, SamplerConfig, sample_scene, scene_rng

RENDER = RenderSettings(samples=4, denoiser=False, max_bounces=2, device="cpu", threads=0, adaptive_threshold=0.0)


def symmetry(pid: str) -> PartSymmetry:
    part = get_part(pid)
    return PartSymmetry(part.symmetry.sampled(5.0), surface_centroid(part.mesh))


def test_smallest_action_uses_the_part_symmetry():
    sym = symmetry("3003")  # 2x2 brick: 4 quarter turns about its vertical axis
    R_c = random_rotations(np.random.default_rng(0), 1)[0]
    turn = axis_angle_to_matrix([0, 1, 0], np.pi / 2)  # a quarter turn about the LDraw up axis (model frame)
    A, k = smallest_action(R_c, R_c @ turn, sym.rotations)
    assert rotation_angle(A) < 1e-9 and k > 0  # it already looks right: no turn needed
    sym1 = symmetry("3039")  # the slope has no symmetry: the same move needs a quarter turn
    A, _ = smallest_action(R_c, R_c @ turn, sym1.rotations)
    assert np.degrees(rotation_angle(A)) == pytest.approx(90.0)


def test_pose_labels_are_consistent():
    rng = np.random.default_rng(3)
    R1, R2, Rc = random_rotations(rng, 3)
    current, target = Pose(R1, np.array([0.1, 0.0, 0.01])), Pose(R2, np.array([0.0, 0.02, 0.03]))
    t_w2c = np.array([0.01, -0.02, 0.4])
    sym = symmetry("3001")
    lab = pose_labels(current, target, Rc, t_w2c, sym)
    A = np.asarray(lab["R_action_c"])
    assert np.allclose(A @ np.asarray(lab["R_current_m2c"]), lab["R_target_equiv_m2c"], atol=1e-9)
    assert np.allclose(lab["R_target_m2c"], Rc @ R2) and np.allclose(lab["t_target_m2c"], Rc @ target.t + t_w2c)
    # the symmetric equivalent of the target pose puts the part's surface where the target pose does
    mesh = get_part("3001").mesh
    a = mesh.vertices @ np.asarray(lab["R_target_m2c"]).T + lab["t_target_m2c"]
    b = mesh.vertices @ np.asarray(lab["R_target_equiv_m2c"]).T + lab["t_target_equiv_m2c"]
    assert np.allclose(np.sort(a, axis=0), np.sort(b, axis=0), atol=1e-6)
    assert lab["rotation_action_deg"] <= np.degrees(rotation_angle(Rc @ R2 @ (Rc @ R1).T)) + 1e-9
    assert lab["quat_current_m2c_wxyz"][0] >= 0


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "three_steps.ldr"
    path.write_text(three_step_ldr())
    a = load_assembly(path)
    looks = {pid: PartLook(f"models/{pid}.ply", get_part(pid).mesh.vertices) for pid in [*a.part_keys(), "3005"]}
    rgb = {c: (0.5, 0.5, 0.5) for c in (0, 1, 4, 14, 15)}
    s = StepsSettings(resolution=64, manual_resolution=96, callout_resolution=32, distractors=(2, 2))
    ws = make_workspace(np.random.default_rng([0, 0, 1]), a, looks, s, [("3005", 15)])
    return a, looks, ModelScene(ws, looks, rgb, RENDER, "m", 0), ws


def test_observation_specs_hold_the_build_fixed_and_the_new_parts_loose(model):
    a, looks, m, ws = model
    for n in range(1, a.n_steps + 2):
        spec = observation_spec(np.random.default_rng(n), a, n, m)
        ids = [p.instance_id for p in spec.parts]
        assert list(spec.fixed_parts) == [i + 1 for i in a.built_before(n)]
        loose = [i for i in ids if i not in spec.fixed_parts]
        assert loose == [i + 1 for i in a.step_parts(n)] + [5, 6]  # the step's parts, then the 2 distractors
        assert not set(spec.fixed_parts) & {i + 1 for i in a.step_parts(n)}  # the build never holds step n
        assert spec.physics
        for p in spec.parts:
            v = looks[p.part_id].vertices @ np.asarray(p.R_m2w).T + np.asarray(p.t_m2w)
            if p.instance_id in spec.fixed_parts:  # the build as in the file, turned Z-up, on the table
                k = p.instance_id - 1
                assert np.allclose(p.R_m2w, ws.R_b2w @ a.parts[k].R)
                assert v[:, 2].min() >= -1e-9
            else:  # loose parts start just above the table, outside the build's circle, inside the reach
                assert 0.0 < v[:, 2].min() < 0.05
                assert np.linalg.norm(v[:, :2], axis=1).min() > ws.build_radius
                assert np.linalg.norm(v[:, :2], axis=1).max() < ws.reach * 1.5
    # the finished model rests on the table: its lowest point at z = 0
    final = observation_spec(np.random.default_rng(9), a, a.n_steps + 1, m)
    build = [p for p in final.parts if p.instance_id <= 4]
    z = np.concatenate([looks[p.part_id].vertices @ np.asarray(p.R_m2w).T + p.t_m2w for p in build])
    assert z[:, 2].min() == pytest.approx(0.0, abs=1e-12)


def test_manual_and_callout_specs(model):
    a, looks, m, ws = model
    for n in range(1, a.n_steps + 1):
        spec = manual_spec(a, n, m)
        assert spec.style == "manual" and not spec.physics and spec.lights == ()
        assert [p.instance_id for p in spec.parts] == [i + 1 for i, p in enumerate(a.parts) if p.step <= n]
        assert spec.views == (ws.manual_view,) and spec.background_rgb == (1.0, 1.0, 1.0)
    callout = callout_spec(a, m, 32)
    assert len(callout.views) == len(callout_keys(a)) == 4
    for view, part in zip(callout.views, callout.parts):  # each thumbnail camera sees its own part in the middle
        c = np.asarray(view.R_w2c) @ (np.asarray(part.t_m2w) + np.asarray(part.R_m2w) @ looks[part.part_id].centre)
        c += np.asarray(view.t_w2c)
        uv = (np.asarray(view.K) @ c)[:2] / c[2]
        assert np.allclose(uv, [15.5, 15.5], atol=4.0)


def test_specs_are_reproducible_and_plain_spec_json_is_unchanged(model):
    a, looks, m, ws = model
    one = observation_spec(np.random.default_rng([1, 2]), a, 2, m)
    two = observation_spec(np.random.default_rng([1, 2]), a, 2, m)
    assert one.to_json() == two.to_json()
    back = SceneSpec.from_dict(json.loads(one.to_json()))
    assert back.fixed_parts == one.fixed_parts and back.to_json() == one.to_json()
    manual = manual_spec(a, 1, m)
    assert SceneSpec.from_dict(json.loads(manual.to_json())).style == "manual"
    # a plain render spec carries neither new field, so its JSON is what it was before they existed
    cfg = SamplerConfig(part_ids=("3003",), colours=((4, (0.7, 0.0, 0.0)),), views=1, width=32, height=32)
    geometry = {"3003": PartGeometry("3003", get_part("3003").mesh.vertices, "models/3003.ply")}
    plain = sample_scene(scene_rng(0, 0), cfg, geometry, RENDER, 0, 0)
    d = json.loads(plain.to_json())
    assert "style" not in d and "fixed_parts" not in d and "domain" not in d
    from dataclasses import asdict

    legacy = {k: v for k, v in asdict(plain).items() if k not in ("style", "fixed_parts", "domain")}
    assert plain.to_json() == json.dumps(legacy, sort_keys=True, indent=1)
