"""The answer a VLM gives for one step, as JSON: what fine-tuning teaches and what ``score-steps`` reads.

Schema (one object per step)::

    {"direction": "assembly" | "disassembly", "step": 3,
     "parts": [{"part_id": "3001", "colour_code": 4, "action": "place" | "remove",
                "base": {"part_id": "3020", "colour_code": 0} | null,
                "relation": "on" | "under" | "next to" | "table",
                "stud_offset": [from_left, from_front],
                "rotation_action_wxyz": [w, x, y, z],
                "sentence": "place the red 2x4 brick on the black 2x4 plate, ..."}]}

``rotation_action_wxyz`` turns the part from its current orientation to its target one, in the observation's
camera frame (OpenCV axes); any symmetric equivalent counts as right. ``stud_offset`` is in studs as seen in the
manual (see :mod:`legodata.assembly.attach`).
"""

from __future__ import annotations

import json
import re
from typing import Any

PROMPTS = {
    "assembly": (
        "The first image is step {step} of a LEGO instruction manual; the second is the robot's camera view of the "
        "workspace: the model built so far and loose parts on the table. Which parts must the robot place in this "
        'step, and how? Answer with JSON only: {{"direction": "assembly", "step": {step}, "parts": [{{'
        '"part_id", "colour_code", "action": "place", "base": {{"part_id", "colour_code"}} or null, '
        '"relation", "stud_offset": [from_left, from_front], "rotation_action_wxyz": the rotation from the '
        'part\'s current to its target orientation in the camera frame, "sentence"}}]}}.'
    ),
    "disassembly": (
        "The first image is step {step} of a LEGO instruction manual; the second is the robot's camera view of the "
        "workspace with the model built up to that step. The robot takes the model apart in reverse order. Which "
        'parts must it remove now, and how? Answer with JSON only: {{"direction": "disassembly", "step": '
        '{step}, "parts": [{{"part_id", "colour_code", "action": "remove", "base": {{"part_id", '
        '"colour_code"}} or null, "relation", "stud_offset": [from_left, from_front], "rotation_action_wxyz": '
        'the rotation from the part\'s current to its target orientation in the camera frame, "sentence"}}]}}.'
    ),
}


def prompt(direction: str, step: int) -> str:
    """The user text that goes with the two images (manual page, observation)."""
    return PROMPTS[direction].format(step=step)


def answer_from_block(block: dict[str, Any]) -> dict[str, Any]:
    """The expected answer for a record's ``meta["assembly"]`` / ``meta["disassembly"]`` block."""
    parts = []
    for p in block["parts"]:
        base = p.get("base")
        parts.append(
            {
                "part_id": p["part_id"],
                "colour_code": int(p["colour_code"]),
                "action": p["action"],
                "base": None if base is None else {"part_id": base["part_id"], "colour_code": int(base["colour_code"])},
                "relation": p["relation"],
                "stud_offset": [int(x) for x in p["stud_offset"]],
                "rotation_action_wxyz": [round(float(x), 4) for x in p["rotation_action_wxyz"]],
                "sentence": p["sentence"],
            }
        )
    return {"direction": block["direction"], "step": int(block["step"]), "parts": parts}


def answer_text(answer: dict[str, Any]) -> str:
    """Compact JSON text of an answer (what the assistant turn says)."""
    return json.dumps(answer, separators=(", ", ": "))


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class AnswerError(ValueError):
    """An answer that is not the schema above; ``str()`` says what is wrong."""


def parse_answer(raw: Any) -> dict[str, Any]:
    """A checked answer from a dict or from text (a ```json fence or the outermost {...} is taken); raises
    :class:`AnswerError` naming the first problem."""
    if isinstance(raw, str):
        text = raw.strip()
        m = _FENCE.search(text)
        if m:
            text = m.group(1).strip()
        elif "{" in text and "}" in text:
            text = text[text.index("{") : text.rindex("}") + 1]
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnswerError(f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(raw, dict):
        raise AnswerError("the answer is not a JSON object")
    parts = raw.get("parts")
    if not isinstance(parts, list):
        raise AnswerError("'parts' is missing or not a list")
    return {**raw, "parts": [_check_part(p, k) for k, p in enumerate(parts)]}


def _check_part(p: Any, k: int) -> dict[str, Any]:
    where = f"parts[{k}]"
    if not isinstance(p, dict):
        raise AnswerError(f"{where} is not an object")
    try:
        out = {"part_id": str(p["part_id"]), "colour_code": int(p["colour_code"])}
    except (KeyError, TypeError, ValueError):
        raise AnswerError(f"{where} needs part_id and an integer colour_code") from None
    q = p.get("rotation_action_wxyz")
    try:
        q = [float(x) for x in q] if q is not None else None
    except (TypeError, ValueError):
        q = "bad"
    if q == "bad" or (q is not None and (len(q) != 4 or sum(x * x for x in q) < 1e-12)):
        raise AnswerError(f"{where}.rotation_action_wxyz must be 4 numbers, not all zero")
    out["rotation_action_wxyz"] = q
    base = p.get("base")
    if base is not None:
        try:
            base = {"part_id": str(base["part_id"]), "colour_code": int(base["colour_code"])}
        except (KeyError, TypeError, ValueError):
            raise AnswerError(f"{where}.base must be null or have part_id and colour_code") from None
    out["base"] = base
    out["relation"] = str(p.get("relation", ""))
    offset = p.get("stud_offset")
    try:
        out["stud_offset"] = [float(x) for x in offset][:2] if offset is not None else None
    except (TypeError, ValueError):
        raise AnswerError(f"{where}.stud_offset must be two numbers") from None
    if out["stud_offset"] is not None and len(out["stud_offset"]) != 2:
        raise AnswerError(f"{where}.stud_offset must be two numbers")
    out["action"] = str(p.get("action", ""))
    out["sentence"] = str(p.get("sentence", ""))
    return out
