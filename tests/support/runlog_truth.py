"""Simulated run logs for tests, and the comparison of the labels an import derived from a log's actions with the
renderer's own poses (``ground_truth.jsonl``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from legodata.core.rotations import geodesic_angle, quat_wxyz_to_matrix
from legodata.parts.catalogue import get_part
from legodata.runlog.silhouette import SilhouetteRenderer
from legodata.runlog.simulate import SIM_DIR, SimConfig, simulate_run
from legodata.store.store import Store


def simulate(out: Path, episodes: int = 4, seed: int = 3, **kw) -> Path:
    """A simulated run log at ``out``, rendered by the numpy stand-in (no Blender)."""
    cfg = SimConfig(out=str(out), episodes=episodes, seed=seed, resolution=kw.pop("resolution", 48), **kw)
    simulate_run(cfg, SilhouetteRenderer(out / SIM_DIR))
    return out


def deg(a, b) -> float:
    return float(np.degrees(geodesic_angle(np.asarray(a), np.asarray(b))))


def compare(log_dir: str | Path, store: str | Path) -> dict:
    """Errors of every derived label against ground_truth.jsonl: worst values, by episode mode."""
    gt = {}
    for line in (Path(log_dir) / "ground_truth.jsonl").read_text().splitlines():
        d = json.loads(line)
        gt[d["observation"]] = d
    worst = {"assemble": {}, "disassemble": {}}
    counts = {"assemble": 0, "disassemble": 0, "targets": 0, "instances": 0}

    def note(mode, key, value):
        worst[mode][key] = max(worst[mode].get(key, 0.0), value)

    for rec in Store(store).iter_records():
        m = rec.meta
        g = gt[m["observation"]]
        mode = m["mode"]
        counts[mode] += 1
        part = g["parts"][0]
        sym = get_part(part["part_id"]).symmetry.sampled()
        R_true = np.asarray(part["R_m2c"])
        assert m["track"] == "p1" and m["part_id"] == part["part_id"]
        # the instance: current pose in the camera frame
        (inst,) = [i for i in rec.instances if i.instance_id == 1]
        counts["instances"] += 1
        note(mode, "R_m2c_deg", deg(inst.R_m2c, R_true))
        note(mode, "t_m2c_m", float(np.linalg.norm(np.asarray(inst.t_m2c) - np.asarray(part["t_m2c"]))))
        note(mode, "quat_vs_R_deg", deg(quat_wxyz_to_matrix(np.asarray(inst.quat_m2c_wxyz)), inst.R_m2c))
        assert inst.px_count_visib == g["visible_px"]
        # the rotation to target, applied to the true current pose, must reach the true target (up to symmetry)
        T = quat_wxyz_to_matrix(np.asarray(m["rotation_to_target_wxyz"]))
        if m["rotation_to_target_from"] == "actions":
            n = gt[m["target_observation"]]["parts"][0]
            R_w2c = np.asarray(g["R_w2c"])
            R_target_true = R_w2c @ np.asarray(n["R_m2w"])
        else:
            R_target_true = np.asarray(g["R_w2c"]) @ np.asarray(
                json_goal(m["goal_pose_in_world"]) if m["goal_pose_in_world"] else np.eye(3)
            )
        counts["targets"] += 1
        err = min(deg(T @ R_true, R_target_true @ S) for S in sym)
        note(mode, "rotation_to_target_deg", err)
        # the smallest equivalent is no larger than the rotation the actions applied
        applied = quat_wxyz_to_matrix(np.asarray(m["rotation_applied_to_target_wxyz"]))
        assert deg(np.eye(3), T) <= deg(np.eye(3), applied) + 1e-6
        R_target = np.asarray(m["R_target_m2c"])
        note(mode, "R_target_m2c_deg", min(deg(R_target, R_target_true @ S) for S in sym))
    return {"worst": worst, "counts": counts}


def json_goal(pose: dict) -> np.ndarray:
    return quat_wxyz_to_matrix(np.asarray(pose["quat_wxyz"]))
