"""Labeling configs: the XML templates of the top-level ``annotate/`` folder, filled with a project's parts, keypoint
numbers and candidate numbers; and the parsed form the export validator checks results against.

The templates ship inside the package (``legodata/annotate/configs/*.xml`` are links to ``annotate/*.xml``), so a
wheel carries them. Project settings (kind, parts, keypoint count) live as JSON in the project's description, so
``push`` and ``pull`` on any machine read the same settings from the server.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from xml.sax.saxutils import quoteattr

from legodata.errors import LegodataError

KINDS = ("rotation", "mask", "review")
META_KEY = "legodata"
# Label Studio control tags -> the result "type" they write
CONTROL_TYPES = {
    "KeyPointLabels": "keypointlabels",
    "BrushLabels": "brushlabels",
    "Choices": "choices",
    "Labels": "labels",
    "RectangleLabels": "rectanglelabels",
    "PolygonLabels": "polygonlabels",
    "TextArea": "textarea",
    "Rating": "rating",
}
OBJECT_TAGS = {"Image", "Text", "HyperText"}
_PALETTE = (
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
    "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
)  # fmt: skip


def template(kind: str) -> str:
    """The XML template of ``kind`` as shipped in the package."""
    if kind not in KINDS:
        raise LegodataError(f"unknown project kind {kind!r}; known: {', '.join(KINDS)}")
    return (resources.files("legodata.annotate") / "configs" / f"{kind}.xml").read_text()


def build_config(kind: str, parts: list[tuple[str, str]], n_keypoints: int = 0) -> str:
    """The labeling config of a ``kind`` project over ``parts`` (``(part_id, name)``) whose parts have at most
    ``n_keypoints`` keypoints."""
    xml = re.sub(r"<!--.*?-->\s*", "", template(kind), flags=re.S)  # the templates' comments are for developers
    part_lines = "\n".join(
        f"        <Choice value={quoteattr(f'{pid} {name}')} alias={quoteattr(pid)}/>" for pid, name in parts
    )
    kp_lines = "\n".join(
        f'        <Label value="{k}" background="{_PALETTE[(k - 1) % len(_PALETTE)]}"/>'
        for k in range(1, n_keypoints + 1)
    )
    xml = xml.replace("{{PART_CHOICES}}", part_lines)
    xml = xml.replace("{{KEYPOINT_LABELS}}", kp_lines)
    parse_config(xml)  # a broken template fails here, not on the server
    return xml


@dataclass(frozen=True)
class Control:
    """A control tag: its name, tag, the result ``type`` it writes, the object it labels and its allowed values
    (label/choice values and aliases), or ``dynamic``: the task data field listing them (``value="$field"``)."""

    name: str
    tag: str
    type: str
    to_name: str
    values: frozenset[str] = frozenset()
    single: bool = False
    dynamic: str | None = None

    def allowed(self, task_data: dict) -> frozenset[str]:
        """The values a result may name for a task (the config's, plus the task's own for dynamic choices)."""
        if not self.dynamic:
            return self.values
        items = task_data.get(self.dynamic) or []
        return self.values | {str(i.get("value")) for i in items if isinstance(i, dict)}


@dataclass(frozen=True)
class ParsedConfig:
    controls: dict[str, Control]
    objects: dict[str, str] = field(default_factory=dict)  # object name -> its data variable ("$image" -> "image")


def parse_config(xml: str) -> ParsedConfig:
    """Controls and objects of a labeling config (what results may name)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise LegodataError(f"labeling config is not valid XML ({exc})") from None
    controls: dict[str, Control] = {}
    objects: dict[str, str] = {}
    for el in root.iter():
        name = el.get("name")
        if el.tag in OBJECT_TAGS and name:
            objects[name] = (el.get("value") or "").lstrip("$")
        elif el.tag in CONTROL_TYPES and name:
            values: set[str] = set()
            for child in el:
                if child.tag in ("Label", "Choice"):
                    for attr in ("value", "alias"):
                        if child.get(attr) is not None:
                            values.add(child.get(attr))
            var = el.get("value") or ""
            dynamic = var[1:] if var.startswith("$") else None
            single = el.get("choice") == "single"
            controls[name] = Control(
                name, el.tag, CONTROL_TYPES[el.tag], el.get("toName", ""), frozenset(values), single, dynamic
            )
    for c in controls.values():
        if c.to_name not in objects:
            raise LegodataError(f"labeling config: control {c.name!r} labels {c.to_name!r}, which is no object tag")
    return ParsedConfig(controls, objects)


def project_description(kind: str, parts: list[str], n_keypoints: int, ldraw_dir: str | None) -> str:
    """The project description: one human line, then the settings as JSON (read back by :func:`project_meta`)."""
    meta = {META_KEY: {"kind": kind, "parts": list(parts), "n_keypoints": n_keypoints, "ldraw_dir": ldraw_dir}}
    return f"legodata {kind} project ({len(parts)} parts). Settings below, used by legodata push/pull.\n" + json.dumps(
        meta
    )


def project_meta(description: str | None, project: str) -> dict[str, Any]:
    """The settings :func:`project_description` wrote; a one-line error for a project legodata did not make."""
    for line in (description or "").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                meta = json.loads(line).get(META_KEY)
            except (json.JSONDecodeError, AttributeError):
                continue
            if isinstance(meta, dict) and meta.get("kind") in KINDS:
                return meta
    raise LegodataError(
        f"Label Studio project {project!r} was not made by `legodata annotate init` (no settings in its description)"
    )
