"""Colours from an LDraw library's ``LDConfig.ldr``:
``0 !COLOUR Black CODE 0 VALUE #1B2A34 EDGE #2B4354 [ALPHA a] [LUMINANCE l] [CHROME|PEARLESCENT|RUBBER|...]``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from legodata.core.colour import Colour
from legodata.errors import LegodataError

FINISHES = ("CHROME", "PEARLESCENT", "RUBBER", "MATTE_METALLIC", "METAL", "MATERIAL")


@dataclass(frozen=True)
class LDrawColour:
    """One ``!COLOUR`` entry. ``name`` has underscores turned into spaces; ``finish`` is ``""`` for plain solid."""

    code: int
    name: str
    rgb_hex: str
    edge_hex: str
    alpha: int = 255
    finish: str = ""

    @property
    def is_solid(self) -> bool:
        """Opaque with a plain finish (what the renderer's single material models)."""
        return self.alpha == 255 and not self.finish

    def as_colour(self) -> Colour:
        return Colour(self.code, self.name, self.rgb_hex)


def _hex(value: str) -> str:
    v = value.strip()
    if v.startswith("#") and len(v) == 7:
        int(v[1:], 16)
        return "#" + v[1:].upper()
    if v.lower().startswith("0x") and len(v) == 8:
        return "#" + v[2:].upper()
    raise ValueError(f"bad colour value {value!r}")


def parse_ldconfig(text: str, name: str = "LDConfig.ldr") -> dict[int, LDrawColour]:
    """``!COLOUR`` lines -> colours by code (later definitions of a code win, as in LDraw)."""
    out: dict[int, LDrawColour] = {}
    pending_edges: dict[int, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        words = raw.split()
        if len(words) < 3 or words[0] != "0" or words[1].upper() != "!COLOUR":
            continue
        try:
            colour_name = words[2].replace("_", " ")
            keys: dict[str, str] = {}
            finish = ""
            i = 3
            while i < len(words):
                w = words[i].upper()
                if w in ("CODE", "VALUE", "EDGE", "ALPHA", "LUMINANCE") and i + 1 < len(words):
                    keys[w] = words[i + 1]
                    i += 2
                    continue
                if w in FINISHES and not finish:
                    finish = w
                i += 1
            code = int(keys["CODE"])
            value = _hex(keys["VALUE"])
            edge_text = keys.get("EDGE", value)
            if edge_text.startswith("#") or edge_text.lower().startswith("0x"):
                edge = _hex(edge_text)
            else:  # an edge given as another colour's code
                pending_edges[code] = int(edge_text)
                edge = value
            alpha = int(keys.get("ALPHA", "255"))
        except (KeyError, ValueError) as exc:
            raise LegodataError(f"{name} line {lineno}: bad !COLOUR line ({exc}): {raw.strip()[:80]!r}") from None
        out[code] = LDrawColour(code, colour_name, value, edge, alpha, finish)
    for code, edge_code in pending_edges.items():
        if edge_code in out:
            c = out[code]
            out[code] = LDrawColour(c.code, c.name, c.rgb_hex, out[edge_code].rgb_hex, c.alpha, c.finish)
    return out


def load_ldconfig(path: str | Path) -> dict[int, LDrawColour]:
    path = Path(path)
    return parse_ldconfig(path.read_text(encoding="utf-8", errors="replace"), str(path))


def parse_ldraw_colour_list(text: str, colours: dict[int, LDrawColour]) -> list[Colour]:
    """``"4,14"`` -> those colours from ``colours`` (an LDConfig table), in order, duplicates dropped;
    ``"all"`` -> every solid colour. Unknown codes raise :class:`LegodataError` naming the known codes' count."""
    text = text.strip()
    if text.lower() == "all":
        return [colours[c].as_colour() for c in sorted(colours) if colours[c].is_solid]
    out: list[Colour] = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        try:
            code = int(raw.strip())
        except ValueError:
            raise LegodataError(f"colour code {raw.strip()!r} is not a number") from None
        if code not in colours:
            raise LegodataError(f"colour code {code} is not in the library's LDConfig.ldr ({len(colours)} colours)")
        colour = colours[code].as_colour()
        if colour not in out:
            out.append(colour)
    return out
