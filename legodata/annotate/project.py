"""``annotate init``: a Label Studio project from a config in ``annotate/`` with the catalogue's parts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from legodata.annotate import configs
from legodata.annotate.client import api_error, connect, find_project
from legodata.annotate.keypoints import catalogue_keypoints
from legodata.errors import LegodataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InitSummary:
    project_id: int
    name: str
    kind: str
    parts: tuple[str, ...]
    n_keypoints: int
    created: bool


def init_project(
    name: str, kind: str, parts: str = "all", ldraw_dir: str | None = None, url: str | None = None, client=None
) -> InitSummary:
    """Create the project (or find it, when it exists with the same kind and parts)."""
    from legodata.parts.catalogue import get_part, parse_part_list

    if kind not in configs.KINDS:
        raise LegodataError(f"--kind must be one of {', '.join(configs.KINDS)}, got {kind!r}")
    part_ids = parse_part_list(parts, ldraw_dir)
    if not part_ids:
        raise LegodataError("--parts names no part")
    named = [(pid, get_part(pid, ldraw_dir).info.name) for pid in part_ids]
    n_kp = max(len(catalogue_keypoints(pid, ldraw_dir)) for pid in part_ids)
    xml = configs.build_config(kind, named, n_kp)
    client = client or connect(url)
    existing = find_project(client, name, required=False)
    if existing is not None:
        meta = configs.project_meta(existing.description, name)
        if meta["kind"] != kind or list(meta["parts"]) != list(part_ids):
            raise LegodataError(
                f"project {name!r} exists with --kind {meta['kind']} and parts {','.join(meta['parts'])}: "
                "choose another name"
            )
        return InitSummary(int(existing.id), name, kind, tuple(part_ids), n_kp, False)
    description = configs.project_description(kind, list(part_ids), n_kp, ldraw_dir)
    try:
        project = client.projects.create(title=name, label_config=xml, description=description)
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, f"creating project {name!r}") from None
    return InitSummary(int(project.id), name, kind, tuple(part_ids), n_kp, True)
