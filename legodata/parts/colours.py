"""Built-in table of common opaque LEGO colours: LDraw colour codes, names and sRGB values (LDConfig.ldr)."""

from __future__ import annotations

from legodata.core.colour import Colour


class UnknownColourError(KeyError):
    """A colour code that is not in the built-in table. ``str()`` and ``args[0]`` are a one-line message."""

    def __init__(self, code: object) -> None:
        self.code = code
        known = ", ".join(str(c) for c in sorted(_TABLE))
        super().__init__(f"unknown LDraw colour code {code!r}; known codes: {known}")

    def __str__(self) -> str:
        return self.args[0]


_ROWS = (
    (0, "Black", "#1B2A34"),
    (1, "Blue", "#1E5AA8"),
    (2, "Green", "#00852B"),
    (4, "Red", "#B40000"),
    (5, "Dark Pink", "#C870A0"),
    (10, "Bright Green", "#58AB41"),
    (14, "Yellow", "#FAC80A"),
    (15, "White", "#F4F4F4"),
    (19, "Tan", "#E4CD9E"),
    (25, "Orange", "#D67923"),
    (26, "Magenta", "#901F76"),
    (28, "Dark Tan", "#958A73"),
    (70, "Reddish Brown", "#5F3109"),
    (71, "Light Bluish Grey", "#A0A5A9"),
    (72, "Dark Bluish Grey", "#6C6E68"),
    (73, "Medium Blue", "#7396C8"),
    (85, "Dark Purple", "#441A91"),
    (191, "Bright Light Orange", "#FCAC00"),
    (226, "Bright Light Yellow", "#FFEC6C"),
    (272, "Dark Blue", "#19325A"),
    (288, "Dark Green", "#00451A"),
    (320, "Dark Red", "#720012"),
    (378, "Sand Green", "#708E7C"),
    (379, "Sand Blue", "#70819A"),
    (484, "Dark Orange", "#91501C"),
)
_TABLE: dict[int, Colour] = {code: Colour(code, name, hex_) for code, name, hex_ in _ROWS}


def list_colours() -> list[Colour]:
    """All built-in colours, sorted by code."""
    return [_TABLE[c] for c in sorted(_TABLE)]


def get_colour(code: int | str) -> Colour:
    """The colour with LDraw code ``code`` (an int or a decimal string)."""
    try:
        key = int(str(code).strip())
    except ValueError:
        raise UnknownColourError(code) from None
    if key not in _TABLE:
        raise UnknownColourError(code)
    return _TABLE[key]


def parse_colour_list(text: str) -> list[Colour]:
    """``"4,14,15"`` -> those colours in order (duplicates dropped); ``"all"`` -> every built-in colour."""
    text = text.strip()
    if text.lower() == "all":
        return list_colours()
    out: list[Colour] = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        colour = get_colour(raw.strip())
        if colour not in out:
            out.append(colour)
    return out
