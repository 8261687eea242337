"""An LDraw colour: the value type shared by the built-in table and LDraw's LDConfig.ldr."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Colour:
    """An LDraw colour: ``code`` as in LDConfig.ldr, ``rgb_hex`` sRGB as ``#RRGGBB``."""

    code: int
    name: str
    rgb_hex: str

    @property
    def rgb(self) -> tuple[float, float, float]:
        """sRGB components in [0, 1] (gamma-encoded, as in the hex value)."""
        h = self.rgb_hex.lstrip("#")
        return tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
