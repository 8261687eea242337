"""The robot_log source: a ``legodata-log`` run log (``legodata simulate-run`` or a real robot) -> records.

One record per observation, grouped by episode (``group_id``). Paths in these records are relative to the log's
root (the job copies the files into the store and rewrites them); a video frame keeps the video's path with
``meta["video_frame"]``. An instance is made for a track when its full pose in the camera frame is known and the
observation has a mask naming the track; every label (also those known without a full pose: the rotation to
target, the target orientation) is in ``meta`` (see :func:`record_meta` and README "Robot runs").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from legodata.core.mesh import Mesh
from legodata.core.records import Instance, Record
from legodata.errors import LegodataError
from legodata.runlog.episode import EpisodeLog, Problem
from legodata.runlog.events import Header, Pose
from legodata.runlog.labels import ObservationLabels, TrackLabels, derive, quat
from legodata.runlog.reader import LogReader
from legodata.scene.ground_truth import instance_of, silhouette

SOURCE = "robot_log"


@dataclass
class EpisodeRecords:
    """The records of one episode (derived on first use of ``records``), with what the store needs to commit it."""

    episode: str
    content_sha256: str
    log_id: str  # sha256 of the header line: which log an episode came from
    first_line: int
    last_line: int
    unfinished: bool
    _make: Callable[[], list[Record]]
    _records: list[Record] | None = None

    @property
    def records(self) -> list[Record]:
        if self._records is None:
            self._records = self._make()
        return self._records


class Catalogue:
    """Part meshes and symmetry groups for a log's header catalogue (built-in, or an LDraw library)."""

    def __init__(self, ldraw_dir: str | Path | None = None) -> None:
        self.ldraw_dir = ldraw_dir

    def part_ids(self, header: Header) -> set[str] | None:
        if header.catalogue.kind == "ldraw" and self.ldraw_dir is None:
            raise LegodataError(
                "the log's header names an LDraw catalogue: give --ldraw-dir (or set LDRAWDIR) to import it"
            )
        if header.catalogue.part_ids is not None:
            return set(header.catalogue.part_ids)
        from legodata.parts.catalogue import part_ids

        return set(part_ids())

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one catalogue per import
    def part(self, part_id: str):
        from legodata.parts.catalogue import get_part

        return get_part(part_id, self.ldraw_dir)

    @functools.lru_cache(maxsize=512)  # noqa: B019
    def symmetry(self, part_id: str) -> np.ndarray | None:
        try:
            return self.part(part_id).symmetry.sampled()
        except (KeyError, LegodataError):
            return None

    def mesh(self, part_id: str) -> Mesh | None:
        try:
            return self.part(part_id).mesh
        except (KeyError, LegodataError):
            return None


def load_robot_log(
    log_dir: str | Path,
    strict: bool = False,
    quarantine: Callable[[Problem], None] | None = None,
    ldraw_dir: str | Path | None = None,
) -> Iterator[Record]:
    """Every record of the log at ``log_dir`` (a directory holding ``log.jsonl``, or the file), episode by episode.

    Bad lines go to ``quarantine`` (a callback taking a :class:`~legodata.runlog.reader.Problem`); with ``strict``
    the first one raises :class:`LegodataError` naming ``file:line`` and the field."""
    for ep in iter_episode_records(log_dir, strict=strict, on_problem=quarantine, catalogue=Catalogue(ldraw_dir)):
        yield from ep.records


def iter_episode_records(
    log_dir: str | Path,
    *,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    catalogue: Catalogue | None = None,
    reader: LogReader | None = None,
) -> Iterator[EpisodeRecords]:
    """The log's episodes as :class:`EpisodeRecords` (memory: the episodes open at once)."""
    catalogue = catalogue or Catalogue()
    reader = reader or LogReader(log_dir, strict=strict, on_problem=on_problem, part_ids=catalogue.part_ids)
    import hashlib

    for ep in reader.episodes():
        header = reader.header
        assert header is not None
        log_id = hashlib.sha256(reader._header_raw).hexdigest()
        yield EpisodeRecords(
            episode=ep.episode,
            content_sha256=ep.content_sha256,
            log_id=log_id,
            first_line=ep.start_line,
            last_line=ep.last_line,
            unfinished=ep.unfinished,
            _make=functools.partial(episode_records, header, ep, reader.root, catalogue),
        )


def episode_records(header: Header, ep: EpisodeLog, root: Path, catalogue: Catalogue) -> list[Record]:
    """One record per observation of ``ep`` (files read from ``root``, the log's directory)."""
    records = []
    for ol in derive(header, ep, catalogue.symmetry):
        records.append(_record(header, ep, ol, root, catalogue))
    return records


def _record(header: Header, ep: EpisodeLog, ol: ObservationLabels, root: Path, catalogue: Catalogue) -> Record:
    obs, cam = ol.observation, ol.camera
    instances = _instances(ol, root, catalogue) if obs.mask is not None and obs.instances else ()
    return Record(
        record_id=f"{ep.episode}_{obs.id}",
        source=SOURCE,
        group_id=ep.episode,
        image_path=obs.image if obs.image is not None else obs.video.path,  # type: ignore[union-attr]
        width=cam.width,
        height=cam.height,
        K=cam.K,  # type: ignore[arg-type]
        instances=instances,
        mask_path=obs.mask,
        depth_path=obs.depth,
        depth_scale_m=obs.depth_scale_m,
        meta=record_meta(header, ep, ol),
    )


def _instances(ol: ObservationLabels, root: Path, catalogue: Catalogue) -> tuple[Instance, ...]:
    obs, cam = ol.observation, ol.camera
    mask = cv2.imread(str(root / obs.mask), cv2.IMREAD_UNCHANGED)  # type: ignore[operator]
    if mask is None or mask.ndim != 2 or mask.shape != (cam.height, cam.width):
        return ()  # publish reports the mask; the labels stay in meta
    K = np.asarray(cam.K)
    out = []
    for lab in ol.tracks.values():
        if lab.instance_id is None or lab.R_m2c is None or lab.t_m2c is None or lab.part_id is None:
            continue
        mesh = catalogue.mesh(lab.part_id)
        if mesh is None:
            continue
        full = silhouette(mesh, K, lab.R_m2c, lab.t_m2c, cam.width, cam.height)
        colour = int(lab.colour_code or 0)
        out.append(
            instance_of(lab.instance_id, lab.part_id, colour, lab.R_m2c, lab.t_m2c, full, mask == lab.instance_id)
        )
    return tuple(out)


def _lists(m) -> list:
    return [[float(x) for x in row] for row in np.asarray(m)]


def _pose_json(p: Pose | None) -> dict | None:
    return None if p is None else p.to_json()


def track_meta(lab: TrackLabels) -> dict[str, Any]:
    """The labels of one track at one observation, JSON-ready (None: unknown, see ``label_notes``)."""

    def q(m):
        return None if m is None else quat(m)

    def mat(m):
        return None if m is None else _lists(m)

    return {
        "track": lab.track,
        "instance_id": lab.instance_id,
        "part_id": lab.part_id,
        "colour_code": lab.colour_code,
        "held": lab.held,
        "rotation_to_target_wxyz": q(lab.rotation_to_target),
        "rotation_applied_to_target_wxyz": q(lab.rotation_applied_to_target),
        "rotation_to_target_from": lab.rotation_to_target_from,
        "symmetry_reduced": lab.symmetry_reduced,
        "target_observation": lab.target_observation,
        "steps_to_target": lab.steps_to_target,
        "target_judged_by": lab.target_judged_by,
        "quat_m2c_wxyz": q(lab.R_m2c),
        "R_m2c": mat(lab.R_m2c),
        "t_m2c": None if lab.t_m2c is None else [float(x) for x in lab.t_m2c],
        "quat_target_m2c_wxyz": q(lab.R_target_m2c),
        "R_target_m2c": mat(lab.R_target_m2c),
        "t_target_m2c": None if lab.t_target_m2c is None else [float(x) for x in lab.t_target_m2c],
        "current_pose_in_world": None
        if lab.R_m2w is None
        else {"quat_wxyz": quat(lab.R_m2w), "t_m": None if lab.t_m2w is None else [float(x) for x in lab.t_m2w]},
        "goal_pose_in_world": _pose_json(lab.goal_pose_in_world),
        "action_rotation_wxyz": q(lab.action_rotation),
        "judged_correct": lab.judged_correct,
        "judged_by": lab.judged_by,
        "pose_check_deg": lab.pose_check_deg,
        "label_notes": list(lab.notes),
    }


def record_meta(header: Header, ep: EpisodeLog, ol: ObservationLabels) -> dict[str, Any]:
    """Episode, observation, VLM action and the focus track's labels at the top level; every track shown in
    ``tracks`` when there are several (or none is the focus)."""
    obs = ol.observation
    meta: dict[str, Any] = {
        "episode": ep.episode,
        "mode": ep.start.mode,
        "source_kind": ep.start.source_kind,
        "outcome": ep.end.outcome if ep.end is not None else "unfinished",
        "model": ep.start.model,
        "manual": ep.start.manual,
        "robot": header.robot.get("name"),
        "world_frame": header.world_frame,
        "observation": obs.id,
        "step": ol.step,
        "t": obs.t,
        "log_line": ol.lineno,
        "camera": obs.camera,
    }
    if ol.camera_pose is not None:
        C = np.asarray(quat_to_matrix(ol.camera_pose.quat_wxyz))
        meta["R_w2c"] = _lists(C.T)
        meta["t_w2c"] = [float(x) for x in -C.T @ np.asarray(ol.camera_pose.t_m)]
    if obs.gripper_pose_in_world is not None:
        meta["gripper_pose_in_world"] = obs.gripper_pose_in_world.to_json()
    if obs.video is not None:
        meta["video_frame"] = obs.video.frame
    vlm = ol.vlm
    meta.update(
        {
            "action": vlm.action.text if vlm else None,
            "verb": vlm.action.verb if vlm else None,
            "action_args": dict(vlm.action.args) if vlm else None,
            "vlm_model": vlm.model if vlm else None,
            "vlm_mask_path": vlm.mask if vlm else None,
        }
    )
    tracks = [track_meta(lab) for lab in ol.tracks.values()]
    focus = next((t for t in tracks if t["track"] == ol.focus), None)
    meta["track"] = ol.focus
    for key, value in (focus or {}).items():
        if key != "track":
            meta[key] = value
    if vlm is not None:  # the VLM names the part it means: its part id and colour win for the focus track
        meta["part_id"], meta["colour_code"] = vlm.part_id, vlm.colour_code
    if len(tracks) > 1 or focus is None:  # every track shown, when the top level does not already say it all
        meta["tracks"] = tracks
    return meta


def quat_to_matrix(q) -> np.ndarray:
    from legodata.core.rotations import quat_wxyz_to_matrix

    return quat_wxyz_to_matrix(np.asarray(q))
