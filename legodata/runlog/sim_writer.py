"""What ``simulate-run`` writes: the ``legodata-log`` lines of each event, the observation files, and the renderer's
own poses in ``ground_truth.jsonl`` (one line per observation) beside the log.

Every event after the header advances the log's clock by a random 0.4-2 s (from the simulator's generator).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from legodata.core.rotations import matrix_to_quat_wxyz
from legodata.core.units import DEPTH_SCALE_M
from legodata.runlog.events import FORMAT_NAME, FORMAT_VERSION
from legodata.runlog.reader import LOG_NAME
from legodata.runlog.sim_world import Placed, SimPart

GROUND_TRUTH = "ground_truth.jsonl"
TRACK = "p1"  # the track of the part being worked on
FILES = ("images", "masks", "depth")  # the observation files' directories in the log


def quat_json(R: np.ndarray) -> list[float]:
    return [float(x) for x in matrix_to_quat_wxyz(R)]


def pose_json(R: np.ndarray, t: np.ndarray) -> dict:
    return {"quat_wxyz": quat_json(R), "t_m": [float(x) for x in t]}


def matrix_json(R) -> list:
    return [[float(x) for x in row] for row in np.asarray(R)]


def _vector_json(t) -> list[float]:
    return [float(x) for x in t]


class LogWriter:
    """``log.jsonl``, ``ground_truth.jsonl`` and the observation files under ``root``."""

    def __init__(self, root: Path, rng: np.random.Generator) -> None:
        self.root = root
        self.rng = rng
        self.t = 0.0
        self.events = 0
        for sub in FILES:
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.log = open(root / LOG_NAME, "w", encoding="utf-8")
        self.gt = open(root / GROUND_TRUTH, "w", encoding="utf-8")

    def _line(self, event: dict) -> None:
        self.log.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.events += 1

    def emit(self, event: dict) -> None:
        """One event; its ``t`` (if it has one) is the clock advanced by a random step."""
        self.t = round(self.t + float(self.rng.uniform(0.4, 2.0)), 3)
        if "t" in event:
            event["t"] = self.t
        self._line(event)

    def flush(self) -> None:
        self.log.flush()
        self.gt.flush()

    def close(self) -> None:
        self.log.close()
        self.gt.close()

    # --- events ----------------------------------------------------------------------------------------------
    def header(self, robot_config: dict, seed: int, cameras: list[dict], resolution: int, part_ids: list) -> None:
        cams = []
        for c in cameras:
            R_c2w = c["R_w2c"].T
            cams.append(
                {
                    "name": c["name"],
                    "K": matrix_json(c["K"]),
                    "width": resolution,
                    "height": resolution,
                    "pose_in_world": pose_json(R_c2w, -R_c2w @ c["t_w2c"]),
                }
            )
        event = {
            "type": "header",
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "robot": {"name": "legodata-sim", "kind": "simulator", "seed": seed, "config": robot_config},
            "world_frame": "table",
            "cameras": cams,
            "catalogue": {"kind": "builtin", "part_ids": part_ids},
        }
        self._line(event)

    def episode_start(self, episode: str, mode: str, part: SimPart) -> None:
        self.emit(
            {
                "type": "episode_start",
                "episode": episode,
                "mode": mode,
                "source_kind": "robot",
                "t": 0.0,
                "model": f"sim/{part.part_id}-upright",
            }
        )

    def episode_end(self, episode: str) -> None:
        self.emit({"type": "episode_end", "episode": episode, "outcome": "success", "t": 0.0})

    def pick(self, episode: str, part: SimPart, code: int, R: np.ndarray, t: np.ndarray, R_g: np.ndarray) -> None:
        """The robot grasps ``part`` (pose R, t) with the gripper (orientation R_g) at the part's centre."""
        self.emit({**self._grasp("pick", episode, part, R, t, R_g), "part_id": part.part_id, "colour_code": code})

    def place(self, episode: str, part: SimPart, R: np.ndarray, t: np.ndarray, R_g: np.ndarray) -> None:
        """The robot lets go of ``part`` at pose R, t."""
        self.emit(self._grasp("place", episode, part, R, t, R_g))

    @staticmethod
    def _grasp(kind: str, episode: str, part: SimPart, R, t, R_g) -> dict:
        return {
            "type": kind,
            "episode": episode,
            "t": 0.0,
            "track": TRACK,
            "pose_in_world": pose_json(R, t),
            "gripper_pose_in_world": pose_json(R_g, R @ part.centre + t),
        }

    def rotate(self, episode: str, A: np.ndarray, frame: str, extra: dict) -> None:
        """The rotation ``A`` as logged in ``frame`` (``extra``: the frame's camera or gripper orientation)."""
        self.emit(
            {"type": "rotate", "episode": episode, "t": 0.0, "track": TRACK, "quat_wxyz": quat_json(A), "frame": frame}
            | extra
        )

    def judgement(self, episode: str, correct: bool, by: str, observation: str) -> None:
        self.emit(
            {
                "type": "judgement",
                "episode": episode,
                "t": 0.0,
                "track": TRACK,
                "correct": correct,
                "by": by,
                "observation": observation,
            }
        )

    def vlm(self, episode: str, obs: str, part: SimPart, code: int, text: str, verb: str, args: dict) -> None:
        self.emit(
            {
                "type": "vlm",
                "episode": episode,
                "t": 0.0,
                "observation": obs,
                "track": TRACK,
                "part_id": part.part_id,
                "colour_code": code,
                "action": {"text": text, "verb": verb, "args": args},
                "model": "scripted",
            }
        )

    # --- observations ----------------------------------------------------------------------------------------
    def keep_render(self, work: Path, obs_id: str) -> np.ndarray:
        """Copy the renderer's view 0 in ``work`` into the log; returns its full instance mask. The log's mask
        marks the tracked part only (instance 1), as a robot's masking of the relevant part would."""
        shutil.copyfile(work / "rgb" / "0000.png", self.root / "images" / f"{obs_id}.png")
        full = cv2.imread(str(work / "mask" / "0000.png"), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(self.root / "masks" / f"{obs_id}.png"), (full == 1).astype(np.uint16))
        shutil.copyfile(work / "depth" / "0000.png", self.root / "depth" / f"{obs_id}.png")
        return full

    def observation(self, episode: str, obs_id: str, camera: str, grip: tuple | None) -> None:
        """The observation event of the files :meth:`keep_render` wrote; ``grip``: (R, t) of the gripper."""
        event = {
            "type": "observation",
            "episode": episode,
            "id": obs_id,
            "t": 0.0,
            "camera": camera,
            "image": f"images/{obs_id}.png",
            "mask": f"masks/{obs_id}.png",
            "depth": f"depth/{obs_id}.png",
            "depth_scale_m": DEPTH_SCALE_M,
            "instances": [{"track": TRACK, "instance_id": 1}],
        }
        if grip is not None:
            event["gripper_pose_in_world"] = pose_json(*grip)
        self.emit(event)

    def ground_truth(
        self, episode: str, obs_id: str, cam: dict, goal: np.ndarray, placed: list[Placed], full: np.ndarray
    ) -> None:
        """The renderer's poses of the observation (``placed[0]`` is the tracked part) and its visible pixels."""
        R_w2c, t_w2c = cam["R_w2c"], cam["t_w2c"]
        parts = [
            {
                "track": TRACK if k == 0 else None,
                "part_id": p.part_id,
                "colour_code": int(c),
                "instance_id": k + 1,
                "R_m2w": matrix_json(Rp),
                "t_m2w": _vector_json(tp),
                "R_m2c": matrix_json(R_w2c @ Rp),
                "t_m2c": _vector_json(R_w2c @ tp + t_w2c),
            }
            for k, (p, c, Rp, tp) in enumerate(placed)
        ]
        gt = {
            "episode": episode,
            "observation": obs_id,
            "camera": cam["name"],
            "R_w2c": matrix_json(R_w2c),
            "t_w2c": _vector_json(t_w2c),
            "goal_R_m2w": matrix_json(goal),
            "parts": parts,
            "visible_px": int((full == 1).sum()),
        }
        self.gt.write(json.dumps(gt, separators=(",", ":")) + "\n")
