"""Hard negative queries for the masking model: a part the scene does not hold, whose answer is an empty mask.

Every query of a rendered scene names something that is in it, so a model can score well by masking whatever has
the queried colour. Swapping some training queries for one that is absent, mostly the same colour as the query but
another shape (else the same shape in another colour), makes shape and colour both decide. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAME_COLOUR_SHARE = 2 / 3  # of the negatives: same colour, other shape; the rest: same shape, other colour


@dataclass(frozen=True)
class QueryTable:
    """What each scene holds, as (part index, colour index) pairs, and the sRGB of every colour index seen."""

    present: dict[int, frozenset[tuple[int, int]]]
    n_parts: int
    colour_rgb: dict[int, np.ndarray]


def query_table(scene: np.ndarray, part: np.ndarray, colour: np.ndarray, colour_rgb: np.ndarray, n_parts: int):
    """The :class:`QueryTable` of a split's queries (``scene``, ``part``, ``colour`` (Q,), ``colour_rgb`` (Q, 3))."""
    present: dict[int, set[tuple[int, int]]] = {}
    rgb: dict[int, np.ndarray] = {}
    for s, p, c, value in zip(scene.tolist(), part.tolist(), colour.tolist(), colour_rgb):
        present.setdefault(s, set()).add((p, c))
        rgb.setdefault(c, np.asarray(value, np.float32))
    return QueryTable({s: frozenset(v) for s, v in present.items()}, n_parts, rgb)


def negative_query(table: QueryTable, scene: int, part: int, colour: int, rng: np.random.Generator):
    """``(part, colour, colour_rgb)`` of a query absent from ``scene``, near the query ``(part, colour)``; None when
    every candidate is present."""
    held = table.present.get(scene, frozenset())
    other_shapes = [(p, colour) for p in range(table.n_parts) if (p, colour) not in held]
    other_colours = [(part, c) for c in sorted(table.colour_rgb) if (part, c) not in held]
    first, second = (other_shapes, other_colours) if rng.random() < SAME_COLOUR_SHARE else (other_colours, other_shapes)
    candidates = first or second
    if not candidates:
        return None
    p, c = candidates[int(rng.integers(len(candidates)))]
    return p, c, table.colour_rgb[c]
