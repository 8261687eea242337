"""Hand-written LDraw models of built-in parts for the assembly tests (written by the tests, not shipped)."""

from __future__ import annotations

import numpy as np

RY90 = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 degrees about the LDraw Y axis

# (step, colour, part, offset in LDU, rotation): a black 2x4 plate; then a red 2x2 brick on its left half and a
# yellow 1x2 plate across its right end; then a blue 1x2 brick across the red brick's right column of studs.
THREE_STEPS = [
    (1, 0, "3020", (0, 0, 0), np.eye(3)),
    (2, 4, "3003", (-20, -24, 0), np.eye(3)),
    (2, 14, "3023", (30, -8, 0), RY90),
    (3, 1, "3004", (-10, -48, 0), RY90),
]


def ldraw_line(colour: int, part: str, offset, R) -> str:
    nums = " ".join(f"{x:g}" for x in [*offset, *np.asarray(R, float).ravel()])
    return f"1 {colour} {nums} {part}.dat"


def three_step_ldr() -> str:
    lines = ["0 Three-step test model", "0 Name: three_steps.ldr", "0 Author: legodata tests"]
    step = 1
    for s, colour, part, offset, R in THREE_STEPS:
        if s != step:
            lines.append("0 STEP")
            step = s
        lines.append(ldraw_line(colour, part, offset, R))
    lines.append("0 STEP")
    return "\n".join(lines) + "\n"
