"""Where each part of an assembly goes: the part it attaches to, the stud offset, and the action in words.

Geometry only, from the parts' meshes placed in the build frame (LDraw frame, -Y up): part P sits *on* an
earlier part Q when P's underside meets Q's top (Q's studs reach at most one stud height, 4 LDU, into P), and goes
*under* Q when Q's underside meets P's top; among several, the one with the largest shared footprint wins. A part
touching nothing earlier lies on the *table* when its underside is level with the lowest underside of the first
step's parts, else it is placed *next to* the nearest part.

Offsets are counted in studs between footprint edges as seen in the manual: ``from_left`` is how far P's left
edge is right of Q's left edge, ``from_front`` how far P's front edge (the one nearest the viewer) is behind Q's
front edge; negative values overhang. "Left" and "front" come from the manual camera's horizontal directions,
snapped to the nearest build axis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from legodata.assembly.steps import Assembly
from legodata.core.units import LDU_M, PLATE_HEIGHT_LDU, STUD_PITCH_LDU

CONTACT_TOL_LDU = 0.5
STUD_HEIGHT_LDU = 4.0


@dataclass(frozen=True)
class Attachment:
    """Where part ``index`` goes. ``base`` is the index of the part it attaches to (None: the table or nothing)."""

    index: int
    base: int | None
    relation: str  # on | under | next to | table
    from_left: int  # studs (see module docstring); 0 when there is no base
    from_front: int
    level: int  # plates between the bottom of the part and the bottom of the base (on: the base's height)
    crosswise: bool  # the long sides of part and base are at right angles

    @property
    def stud_offset(self) -> list[int]:
        return [self.from_left, self.from_front]


def part_boxes(assembly: Assembly, meshes: dict) -> np.ndarray:
    """(N, 2, 3) axis-aligned bounds of every part in the build frame, in LDU."""
    out = []
    for p in assembly.parts:
        v = meshes[p.part_id].vertices @ p.R.T + p.t
        out.append([v.min(axis=0), v.max(axis=0)])
    return np.asarray(out) / LDU_M


def _overlap(a0, a1, b0, b1) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _xz_overlap(P: np.ndarray, Q: np.ndarray) -> float:
    return _overlap(P[0, 0], P[1, 0], Q[0, 0], Q[1, 0]) * _overlap(P[0, 2], P[1, 2], Q[0, 2], Q[1, 2])


def _sits_on(P: np.ndarray, Q: np.ndarray) -> bool:
    """P's underside (its largest y: -Y is up) meets Q's top (its smallest y, stud tips included)."""
    return -CONTACT_TOL_LDU <= P[1, 1] - Q[0, 1] <= STUD_HEIGHT_LDU + CONTACT_TOL_LDU


def _box_gap(P: np.ndarray, Q: np.ndarray) -> float:
    return float(np.linalg.norm(np.maximum(0.0, np.maximum(P[0] - Q[1], Q[0] - P[1]))))


def view_axes(R_b2c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Build-frame unit vectors ``(right, front)`` of a camera (build-to-camera rotation ``R_b2c``), snapped to
    the nearest horizontal build axis: right = the image's x direction, front = towards the viewer."""

    def snap(v: np.ndarray) -> np.ndarray:
        v = np.array([v[0], 0.0, v[2]])
        k = int(np.argmax(np.abs(v)))
        out = np.zeros(3)
        out[k] = np.sign(v[k]) or 1.0
        return out

    R = np.asarray(R_b2c, float)
    right = snap(R[0])  # camera x axis in build coordinates
    front = snap(-R[2])  # against the viewing direction
    if abs(right @ front) > 0.5:  # both snapped onto one axis (a camera looking along a diagonal)
        front = np.cross(right, np.array([0.0, -1.0, 0.0]))
        front = snap(front if front @ -R[2] >= 0 else -front)
    return right, front


def _long_axis(part, meshes) -> np.ndarray:
    lo, hi = meshes[part.part_id].bounds()
    ext = np.abs(part.R @ (hi - lo))
    return np.array([ext[0], ext[2]]) >= np.array([ext[2], ext[0]]) + 1e-9  # (long along x, long along z)


def _interval(box: np.ndarray, axis: np.ndarray) -> tuple[float, float]:
    a, b = float(box[0] @ axis), float(box[1] @ axis)
    return min(a, b), max(a, b)


def _choose_base(i: int, boxes: np.ndarray, ground: float) -> tuple[int | None, str]:
    P = boxes[i]
    on = [(_xz_overlap(P, boxes[j]), j) for j in range(i) if _sits_on(P, boxes[j])]
    under = [(_xz_overlap(P, boxes[j]), j) for j in range(i) if _sits_on(boxes[j], P)]
    on, under = [c for c in on if c[0] > 0], [c for c in under if c[0] > 0]
    if on:
        return max(on)[1], "on"
    if under:
        return max(under)[1], "under"
    if i == 0 or abs(P[1, 1] - ground) <= CONTACT_TOL_LDU:
        return None, "table"
    return min((_box_gap(P, boxes[j]), j) for j in range(i))[1], "next to"


def attachments(assembly: Assembly, meshes: dict, R_b2c: np.ndarray) -> list[Attachment]:
    """One :class:`Attachment` per part, in part order (earlier parts, also of the same step, are in place)."""
    boxes = part_boxes(assembly, meshes)
    ground = boxes[assembly.step_parts(1), 1, 1].max()  # the underside of the first step: the table
    right, front = view_axes(R_b2c)
    out = []
    for i, P in enumerate(boxes):
        base, relation = _choose_base(i, boxes, ground)
        if base is None:
            out.append(Attachment(i, None, relation, 0, 0, 0, False))
            continue
        Q = boxes[base]
        from_left = _interval(P, right)[0] - _interval(Q, right)[0]
        from_front = _interval(Q, front)[1] - _interval(P, front)[1]
        lp, lq = _long_axis(assembly.parts[i], meshes), _long_axis(assembly.parts[base], meshes)
        out.append(
            Attachment(
                index=i,
                base=base,
                relation=relation,
                from_left=int(round(from_left / STUD_PITCH_LDU)),
                from_front=int(round(from_front / STUD_PITCH_LDU)),
                level=int(round((Q[1, 1] - P[1, 1]) / PLATE_HEIGHT_LDU)),
                crosswise=bool(lp[0] != lp[1] and lq[0] != lq[1] and lp[0] != lq[0]),
            )
        )
    return out


# --- words ---------------------------------------------------------------------------------------------------------

_DIMS = re.compile(r"^(?P<kind>.*?)\s+(?P<a>\d+)\s*x\s*(?P<b>\d+)(?:\s*x\s*(?P<c>\d+(?:\s*\d+/\d+)?))?(?P<rest>.*)$")


def part_phrase(name: str) -> str:
    """ "Brick 2 x 4" -> "2x4 brick", "Slope Brick 45 2 x 2" -> "2x2 slope brick 45", "Plate 1 x 2 with Clip"
    -> "1x2 plate with clip"; names without dimensions are just lower-cased."""
    name = " ".join(name.replace("~", "").replace("_", " ").split())
    m = _DIMS.match(name)
    if not m or not m.group("kind"):
        return name.lower()
    dims = f"{m.group('a')}x{m.group('b')}" + (f"x{m.group('c').replace(' ', '')}" if m.group("c") else "")
    return f"{dims} {m.group('kind').lower()}{m.group('rest').lower()}".strip()


def colour_phrase(name: str) -> str:
    """LDConfig names ("Light_Bluish_Grey", "Trans_Yellow") -> "light bluish grey", "trans yellow"."""
    return " ".join(name.replace("_", " ").split()).lower()


def _studs(n: int) -> str:
    return f"{abs(n)} stud{'s' if abs(n) != 1 else ''}"


def _edge(n: int, side: str) -> str:
    if n == 0:
        return f"at the {side} edge"
    if n < 0:
        return f"overhanging the {side} edge by {_studs(n)}"
    return f"{_studs(n)} from the {side}"


def sentence(att: Attachment, what: str, base: str | None, remove: bool = False) -> str:
    """The action in words: ``what``/``base`` are phrases like "red 2x4 brick"."""
    if att.relation == "table" or base is None:
        return f"remove the {what} and put it on the table" if remove else f"place the {what} on the table"
    if remove:
        prep = {"on": "from", "under": "from under", "next to": "from beside"}[att.relation]
        return f"remove the {what} {prep} the {base}"
    text = f"place the {what} {att.relation} the {base}"
    if att.relation in ("on", "under"):
        text += f", {_edge(att.from_left, 'left')} and {_edge(att.from_front, 'front')}"
        if att.crosswise:
            text += ", crosswise"
    return text
