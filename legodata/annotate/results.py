"""An annotation's results, read and checked against the labeling config and the photo.

Label Studio stores results whose names match nothing in the config, labels that do not exist, masks of another
size; so each result is checked here: its ``from_name`` must be a control, ``to_name`` that control's object,
``type`` the control's type, its labels/choices values of the control, coordinates inside the image and a mask the
photo's size. What the results say is collected in :class:`Labels`; the first thing wrong raises :class:`Reject`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from legodata.annotate.configs import ParsedConfig
from legodata.annotate.pnp import pixel_from_percent


class Reject(Exception):
    """An annotation that cannot become a record; the message is the reason."""


@dataclass
class Labels:
    keypoints: dict[int, tuple[float, float]] = field(default_factory=dict)
    mask: np.ndarray | None = None
    candidate: int | None = None
    part: str | None = None
    verdict: str | None = None


def read_results(results: list, config: ParsedConfig, width: int, height: int, data: dict) -> Labels:
    """Check every result against the config and the photo; collect what they say."""
    from legodata.annotate.rle import decode_mask

    out = Labels()
    for n, r in enumerate(results):
        if not isinstance(r, dict):
            raise Reject(f"result {n} is not an object")
        name = r.get("from_name")
        where = f"result {n} ({name!r})"
        control = config.controls.get(name) if isinstance(name, str) else None
        if control is None:
            raise Reject(f"result {n} names no control of the labeling config (from_name {name!r})")
        if r.get("to_name") != control.to_name:
            raise Reject(f"{where}: to_name {r.get('to_name')!r}, the config says {control.to_name!r}")
        rtype = str(r.get("type", "")).lower()
        if rtype != control.type:
            raise Reject(f"{where}: type {r.get('type')!r}, the config's {control.tag} writes {control.type!r}")
        value = r.get("value")
        if not isinstance(value, dict):
            raise Reject(f"{where}: has no value")
        if r.get("image_rotation") not in (None, 0, 0.0):
            raise Reject(f"{where}: made on a rotated view of the image (rotation {r.get('image_rotation')})")
        for key, size in (("original_width", width), ("original_height", height)):
            if key in r and r[key] is not None and int(r[key]) != size:
                raise Reject(f"{where}: made on an image {r.get('original_width')}x{r.get('original_height')} "
                              f"but the photo is {width}x{height}")  # fmt: skip
        values = value.get(rtype)
        if not isinstance(values, list) or not values:
            raise Reject(f"{where}: value.{rtype} must list the label")
        allowed = control.allowed(data)
        unknown = [v for v in values if str(v) not in allowed]
        if unknown:
            offered = f"the task offers {len(allowed)}" if control.dynamic else "not in the labeling config"
            raise Reject(f"{where}: unknown label {unknown[0]!r} ({offered})")
        if rtype == "keypointlabels":
            if len(values) != 1:
                raise Reject(f"{where}: a keypoint needs exactly one label, got {len(values)}")
            x, y = value.get("x"), value.get("y")
            if not all(isinstance(c, int | float) and math.isfinite(c) for c in (x, y)):
                raise Reject(f"{where}: keypoint x/y must be numbers")
            if not (0 <= x <= 100 and 0 <= y <= 100):
                raise Reject(f"{where}: keypoint at ({x:.1f}%, {y:.1f}%) lies outside the image")
            number = int(values[0])
            if number in out.keypoints:
                raise Reject(f"keypoint {number} is placed twice")
            out.keypoints[number] = pixel_from_percent(float(x), float(y), width, height)
        elif rtype == "brushlabels":
            if value.get("format", "rle") != "rle" or not isinstance(value.get("rle"), list):
                raise Reject(f"{where}: a brush mask must be RLE")
            try:
                m = decode_mask(value["rle"], width, height)
            except (ValueError, TypeError) as exc:
                raise Reject(f"{where}: the mask does not fit the {width}x{height} image ({exc})") from None
            out.mask = m if out.mask is None else out.mask | m
        elif rtype == "choices":
            if control.single and len(values) > 1:
                raise Reject(f"{where}: one choice allowed, got {len(values)}")
            if name == "candidate":
                if out.candidate is not None:
                    raise Reject("two orientations chosen")
                out.candidate = int(values[0])
            elif name == "part":
                out.part = str(values[0]).split()[0]
            elif name == "verdict":
                out.verdict = str(values[0])
        else:
            raise Reject(f"{where}: results of type {rtype!r} are not used by legodata")
    return out
