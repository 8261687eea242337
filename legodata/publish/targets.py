"""Per-instance target labels a record may carry beside its current pose: the orientation the part should reach
and the rotation still needed to reach it (camera frame of the image). Robot runs derive them from the logged
actions, assembly steps from the model; rendered scenes have none. ``parts`` rows carry them (``None`` when unknown)
so that a rotation model can learn the action as well as the absolute orientation."""

from __future__ import annotations

from typing import Any

from legodata.core.records import Record

Targets = dict[int, tuple[list[float] | None, list[float] | None]]  # instance id -> (target quat, rotation to it)


def _quat(value: Any) -> list[float] | None:
    return None if value is None else [float(x) for x in value]


def instance_targets(rec: Record) -> Targets:
    """``{instance_id: (quat_target_m2c_wxyz, rotation_to_target_wxyz)}`` for the instances with a target."""
    m = rec.meta
    out: Targets = {}
    if rec.source == "robot_log":
        tracks = m.get("tracks") or [m]
        for t in tracks:
            if t.get("instance_id") is not None:
                out[int(t["instance_id"])] = (
                    _quat(t.get("quat_target_m2c_wxyz")),
                    _quat(t.get("rotation_to_target_wxyz")),
                )
    elif rec.source == "assembly":
        block = m.get("assembly") or {}
        for p in block.get("parts", []):
            out[int(p["instance_id"])] = (_quat(p.get("quat_target_m2c_wxyz")), _quat(p.get("rotation_action_wxyz")))
    return out
