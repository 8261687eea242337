"""Exports of a local store to the formats the field uses: BOP (``bop.py``) and COCO (``coco.py``).

Both number parts the same way: object id / category id 1, 2, ... over the sorted part ids.
"""

from __future__ import annotations

from pathlib import Path

from legodata.errors import LegodataError

FORMATS = ("bop", "coco")


def parse_formats(formats: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"bop,coco"`` or a list -> checked, de-duplicated list of format names."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out: list[str] = []
    for f in (x.strip().lower() for x in items):
        if not f:
            continue
        if f not in FORMATS:
            raise LegodataError(f"--format {f!r} is not one of {', '.join(FORMATS)}")
        if f not in out:
            out.append(f)
    if not out:
        raise LegodataError(f"--format needs at least one of {', '.join(FORMATS)}")
    return out


def export(store: str | Path, out: str | Path, formats: str | list[str] = FORMATS) -> dict[str, dict[str, int]]:
    """Export ``store`` into ``out/<format>`` for each format (``"bop,coco"`` or a list). Returns counts per format."""
    from legodata.store.store import Store

    st = Store(store)
    st.read_manifest()  # a clear error if this is not a store
    result = {}
    for fmt in parse_formats(formats):
        if fmt == "bop":
            from legodata.export.bop import export_bop

            result[fmt] = export_bop(st, Path(out) / "bop")
        else:
            from legodata.export.coco import export_coco

            result[fmt] = export_coco(st, Path(out) / "coco")
    return result
