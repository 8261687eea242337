"""The Label Studio source: people's labels on real photos (``legodata annotate pull``).

``load_label_studio`` turns a Label Studio JSON export into records with the same code path ``annotate pull`` uses
(``legodata.annotate.convert``: every result validated against the labeling config, poses by PnP or a chosen
candidate, masks decoded exactly). Its records name the store paths ``pull`` writes (``scenes/<group>/rgb/...``);
the files themselves are written by ``pull`` through :class:`legodata.store.store.Store`, never here. Annotations
that cannot become records go to ``on_reject`` with the reason.

Reading a store that ``pull`` made: ``Store(path).iter_records()`` (as for any source).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from legodata.core.records import Record

SOURCE = "label_studio"


def load_label_studio(
    export: str | Path | list[dict[str, Any]],
    label_config: str,
    settings: dict[str, Any],
    *,
    project: str = "",
    project_id: int = 0,
    users: dict[int, str] | None = None,
    max_reproj_px: float = 10.0,
    on_reject: Callable[[Any], None] | None = None,
) -> Iterator[Record]:
    """Records of an export. ``label_config`` is the project's XML; ``settings`` the project's legodata settings
    (``kind``, ``parts``, ``ldraw_dir``: what ``annotate init`` put in the project's description)."""
    from legodata.annotate.configs import parse_config
    from legodata.annotate.convert import Context, Rejected, convert_export

    tasks = json.loads(Path(export).read_text()) if isinstance(export, str | Path) else export
    ctx = Context(
        kind=settings["kind"],
        config=parse_config(label_config),
        parts=tuple(settings["parts"]),
        project_id=project_id,
        project=project,
        ldraw_dir=settings.get("ldraw_dir"),
        users=users or {},
        max_reproj_px=max_reproj_px,
    )
    for item in convert_export(tasks, ctx):
        if isinstance(item, Rejected):
            if on_reject is not None:
                on_reject(item)
            continue
        yield item.record
