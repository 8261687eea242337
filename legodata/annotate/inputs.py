"""What ``annotate push`` makes tasks of: each photo of a folder (with a camera file) with each part, or each
instance of a store with enough visible pixels.

A task's group (the split unit) is the photo, the store's scene, or a session named for the whole push.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from legodata.annotate.camera_info import CameraInfo, load_camera_info
from legodata.errors import LegodataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class TaskInput:
    """One task to make: an image and its camera, the part to label, and what a store already knows of it."""

    image: Path  # absolute
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray
    part_id: str
    colour_code: int | None
    group: str
    source_record: str | None = None
    instance_id: int | None = None
    hint: str = ""
    mask: np.ndarray | None = None  # known visible mask (a store's)
    pose: tuple[np.ndarray, np.ndarray] | None = None  # known pose (a store's), shown only to mask/review projects

    @property
    def key(self) -> str:
        text = f"{self.image}|{self.part_id}|{self.instance_id if self.instance_id is not None else ''}"
        return hashlib.sha1(text.encode()).hexdigest()[:20]


def group_name(text: str) -> str:
    """``text`` as a folder name (letters, digits, ``-_.``; others become ``_``)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return safe.strip("._") or "photo"


def photo_items(folder: Path, camera, parts: list[str], colour, session) -> list[TaskInput]:
    """One input per photo of ``folder`` and part, with the camera file's intrinsics at the photo's size."""
    import cv2

    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not photos:
        raise LegodataError(f"{folder} holds no photos ({', '.join(IMAGE_SUFFIXES)})")
    cam: CameraInfo = load_camera_info(camera)
    items = []
    for photo in photos:
        header = cv2.imread(str(photo), cv2.IMREAD_UNCHANGED)
        if header is None:
            raise LegodataError(f"{photo} does not decode as an image")
        h, w = header.shape[:2]
        c = cam.for_image(w, h, photo)
        group = group_name(session) if session else group_name(f"{photo.stem}-{_short_hash(photo)}")
        for pid in parts:
            items.append(TaskInput(photo.resolve(), w, h, c.K, c.dist, pid, colour, group))
    return items


def _short_hash(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def store_items(store, project_parts: list[str], min_px: int, session) -> list[TaskInput]:
    """One input per instance of a project part with ``min_px`` visible pixels or more, with its mask and pose."""
    import cv2

    items = []
    for rec in store.iter_records():
        chosen = [i for i in rec.instances if i.part_id in project_parts and i.px_count_visib >= min_px]
        if not chosen:
            continue
        mask = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED) if rec.mask_path else None
        same_part = {p: sum(1 for i in chosen if i.part_id == p) for p in {i.part_id for i in chosen}}
        dist = np.asarray((rec.meta.get("camera") or {}).get("dist", []), float)
        for inst in chosen:
            hint = ""
            if same_part[inst.part_id] > 1 and inst.bbox_visib[0] >= 0:
                x, y, w, h = inst.bbox_visib
                hint = f" (the one around pixel x={x + w // 2}, y={y + h // 2})"
            items.append(
                TaskInput(
                    image=(store.root / rec.image_path).resolve(),
                    width=rec.width,
                    height=rec.height,
                    K=np.asarray(rec.K, float),
                    dist=dist,
                    part_id=inst.part_id,
                    colour_code=inst.colour_code,
                    group=group_name(session) if session else group_name(rec.group_id),
                    source_record=rec.record_id,
                    instance_id=inst.instance_id,
                    hint=hint,
                    mask=(mask == inst.instance_id) if mask is not None else None,
                    pose=(np.asarray(inst.R_m2c, float), np.asarray(inst.t_m2c, float)),
                )
            )
    return items
