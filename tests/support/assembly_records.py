"""A synthetic assembly record (files and labels) for the publish-row and scorer tests: no rendering."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from legodata.assembly.labels import PartSymmetry, Pose, pose_labels, surface_centroid
from legodata.core.records import EXTRA_PATHS, Instance, Record
from legodata.core.rotations import axis_angle_to_matrix, matrix_to_quat_wxyz
from legodata.parts.catalogue import get_part
from legodata.store.layout import scene_rel
from legodata.store.store import Store

R_W2C = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # looking straight down
T_W2C = np.array([0.0, 0.0, 0.5])
K = ((100.0, 0.0, 31.5), (0.0, 100.0, 31.5), (0.0, 0.0, 1.0))


def _symmetry(pid: str) -> PartSymmetry:
    part = get_part(pid)
    return PartSymmetry(part.symmetry.sampled(10.0), surface_centroid(part.mesh))


def part_block(iid: int, pid: str, colour: int, current: Pose, target: Pose, base, relation, offset, action) -> dict:
    labels = pose_labels(current, target, R_W2C, T_W2C, _symmetry(pid))
    return {
        "instance_id": iid, "part_id": pid, "colour_code": colour, "part_name": pid, "colour_name": str(colour),
        "action": action, "R_target_m2b": np.eye(3).tolist(), "t_target_m2b": [0.0, 0.0, 0.0], **labels,
        "base": base, "relation": relation, "stud_offset": offset, "level": 1, "crosswise": False,
        "sentence": f"{action} {pid}", "px_count_visib": 10, "manual_px_count_visib": 20,
    }  # fmt: skip


def make_record(root: Path, group: str = "m0", step: int = 2, view: int = 0) -> Record:
    """An observation record of step ``step`` with an assembly block (two parts: a 2x2 brick, turned a quarter
    about its axis so that no turn is needed, and a slope that needs a half turn) and a disassembly block."""
    rel = scene_rel(group)
    d = root / rel
    for sub in ("obs", "manual"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    img = np.full((64, 64, 3), 90, np.uint8)
    mask = np.zeros((64, 64), np.uint16)
    mask[10:20, 10:20], mask[30:40, 30:45], mask[50:60, 5:15] = 1, 2, 3
    cv2.imwrite(str(d / f"obs/{step}_{view}.png"), img)
    cv2.imwrite(str(d / f"obs/{step}_{view}_mask.png"), mask)
    for n in (step - 1, step):
        cv2.imwrite(str(d / f"manual/page_{n:03d}.png"), np.full((48, 48, 3), 255, np.uint8))
        page_mask = np.zeros((48, 48), np.uint16)
        page_mask[5:15, 5:15], page_mask[20:30, 20:30], page_mask[30:40, 5:10] = 1, 2, 3
        cv2.imwrite(str(d / f"manual/mask_{n:03d}.png"), page_mask)
    flat = axis_angle_to_matrix([1, 0, 0], np.pi / 2)  # LDraw -Y up -> world Z up
    quarter = axis_angle_to_matrix([0, 0, 1], np.pi / 2)
    half = axis_angle_to_matrix([0, 0, 1], np.pi)
    brick = part_block(
        2, "3003", 4, Pose(quarter @ flat, np.array([0.05, 0, 0])), Pose(flat, np.array([0, 0, 0.01])),
        {"instance_id": 1, "part_id": "3020", "colour_code": 0}, "on", [1, 0], "place",
    )  # fmt: skip
    slope = part_block(
        3, "3039", 14, Pose(half @ flat, np.array([-0.05, 0, 0])), Pose(flat, np.array([0.02, 0, 0.01])),
        {"instance_id": 1, "part_id": "3020", "colour_code": 0}, "on", [2, 1], "place",
    )  # fmt: skip
    base = part_block(
        1, "3020", 0, Pose(flat, np.zeros(3)), Pose(flat, np.array([0.1, 0.1, 0])), None, "table", [0, 0], "remove"
    )
    blocks = {
        "assembly": {"direction": "assembly", "step": step, "parts": [brick, slope], "sentence": "x",
                     "manual_image": f"{rel}/manual/page_{step:03d}.png",
                     "manual_mask": f"{rel}/manual/mask_{step:03d}.png"},
        "disassembly": {"direction": "disassembly", "step": step - 1, "parts": [base], "sentence": "y",
                        "manual_image": f"{rel}/manual/page_{step - 1:03d}.png",
                        "manual_mask": f"{rel}/manual/mask_{step - 1:03d}.png"},
    }  # fmt: skip
    inst = Instance(1, "3020", 0, tuple(map(tuple, R_W2C)), (0.0, 0.0, 0.5), tuple(matrix_to_quat_wxyz(R_W2C)),
                    (10, 10, 10, 10), (10, 10, 10, 10), 100, 100, 1.0)  # fmt: skip
    meta = {"step": step, "n_steps": 3, "view_id": view, "model_name": group, "manual_K": [list(r) for r in K],
            **blocks, EXTRA_PATHS: {"manual_image": blocks["assembly"]["manual_image"]}}  # fmt: skip
    return Record(
        record_id=f"{group}_s{step:03d}_v{view:02d}", source="assembly", group_id=group,
        image_path=f"{rel}/obs/{step}_{view}.png", mask_path=f"{rel}/obs/{step}_{view}_mask.png",
        width=64, height=64, K=K, instances=(inst,), meta=meta,
    )  # fmt: skip


def symmetries() -> dict[str, list]:
    return {pid: get_part(pid).symmetry.sampled(10.0).tolist() for pid in ("3003", "3039", "3020")}


def _instance(like, iid: int, part_id: str, colour: int, box: tuple[int, int, int, int]):
    px = box[2] * box[3]
    return replace(like, instance_id=iid, part_id=part_id, colour_code=colour, bbox_obj=box, bbox_visib=box,
                   px_count_all=px, px_count_visib=px)  # fmt: skip


def assembly_store(root: Path) -> Store:
    """A store of two assembly models (one observation record each) that passes publish validation."""
    store = Store(root)
    catalogue = {
        pid: {
            "name": pid,
            "kind": "brick",
            "mesh_path": f"models/{pid}.ply",
            "symmetry": get_part(pid).symmetry.to_json(),
        }
        for pid in ("3003", "3039", "3020")
    }
    store.create_or_check({"schema_version": 1, "kind": "legodata-store", "source": "assembly", "catalogue": catalogue})
    for group in ("m0", "m1"):
        staging = root.parent / f"staging-{group}"
        rec = make_record(staging, group=group)
        one = rec.instances[0]  # the fixture's mask also shows instances 2 (a 3003) and 3 (a 3039)
        rec = replace(
            rec,
            instances=(
                one,
                _instance(one, 2, "3003", 4, (30, 30, 15, 10)),
                _instance(one, 3, "3039", 14, (5, 50, 10, 10)),
            ),
        )
        store.commit_scene(staging / scene_rel(group), group, [rec])
    return store
