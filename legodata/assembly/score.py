"""Score a VLM's step answers against the truth (``legodata score-steps``). Pure numpy.

Per sample (one step seen in one observation, one direction): the predicted parts are matched to the true ones by
(part id, colour); *relevant-part accuracy* asks for exactly the true multiset. For each matched part: the
rotation action's symmetry-aware error (the smallest angle between the predicted action and any
``R_target S R_current^T``) and the placement error in studs (when base and relation are right). A *step succeeds*
when the parts are exactly right, every rotation error is at most ``max_rotation_deg`` and every part is placed on
the right base within half a stud. A *model succeeds* when all its samples do (MEPNet's per-model accuracy).
Missing and malformed answers count as wrong and are listed; they never stop the scorer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from legodata.assembly.answers import AnswerError, parse_answer
from legodata.assembly.labels import rotation_angle
from legodata.core.rotations import quat_wxyz_to_matrix

PLACEMENT_TOL_STUDS = 0.5


@dataclass
class SampleScore:
    sample_id: str
    group_id: str
    direction: str
    parts_exact: bool
    matched: int
    n_true: int
    rotation_errors_deg: list[float] = field(default_factory=list)
    placement_errors_studs: list[float | None] = field(default_factory=list)  # None: wrong base or relation
    success: bool = False
    error: str | None = None  # missing or malformed answer


def _key(p: dict) -> tuple[str, int]:
    return str(p["part_id"]), int(p["colour_code"])


def _base_key(p: dict) -> tuple[str, int] | None:
    base = p.get("base")
    if isinstance(base, dict):
        return str(base["part_id"]), int(base["colour_code"])
    if p.get("base_part_id"):  # a published row stores the base flat
        return str(p["base_part_id"]), int(p["base_colour_code"])
    return None


def rotation_error_deg(pred_wxyz, truth: dict) -> float:
    """Smallest angle between the predicted action and every symmetric equivalent of the true one."""
    R_pred = quat_wxyz_to_matrix(np.asarray(pred_wxyz, float))
    R_c, R_t = np.asarray(truth["R_current_m2c"], float), np.asarray(truth["R_target_m2c"], float)
    sym = np.asarray(truth.get("symmetry_rotations") or [np.eye(3)], float).reshape(-1, 3, 3)
    actions = R_t @ sym @ R_c.T
    return float(np.degrees(rotation_angle(np.swapaxes(actions, -1, -2) @ R_pred).min()))


def _placement_error(pred: dict, truth: dict) -> float | None:
    if _base_key(pred) != _base_key(truth) or pred.get("relation") != truth.get("relation"):
        return None
    if truth.get("relation") in ("table", "next to") or _base_key(truth) is None:
        return 0.0
    if pred.get("stud_offset") is None:
        return None
    return float(np.linalg.norm(np.subtract(pred["stud_offset"], truth["stud_offset"][:2])))


def _errors(pred: dict, truth: dict) -> tuple[float, float | None]:
    q = pred["rotation_action_wxyz"]
    return (rotation_error_deg(q, truth) if q is not None else 180.0), _placement_error(pred, truth)


def score_sample(row: dict, raw: Any, max_rotation_deg: float = 15.0) -> SampleScore:
    """Score one sample's raw answer (dict, text or None) against its truth ``row`` (a ``steps`` row)."""
    truth = list(row["parts"])
    s = SampleScore(row["sample_id"], row["group_id"], row["direction"], False, 0, len(truth))
    if raw is None:
        s.error = "no answer"
        return s
    try:
        pred = parse_answer(raw)["parts"]
    except AnswerError as exc:
        s.error = f"malformed: {exc}"
        return s
    s.parts_exact = sorted(map(_key, pred)) == sorted(map(_key, truth))
    unused = list(range(len(pred)))
    ok = s.parts_exact
    for t in truth:
        options = [k for k in unused if _key(pred[k]) == _key(t)]
        if not options:
            ok = False
            continue
        errors = {k: _errors(pred[k], t) for k in options}
        k = min(options, key=lambda k: errors[k][0] + 100.0 * (errors[k][1] if errors[k][1] is not None else 10.0))
        unused.remove(k)
        rot, place = errors[k]
        s.matched += 1
        s.rotation_errors_deg.append(rot)
        s.placement_errors_studs.append(place)
        ok = ok and rot <= max_rotation_deg and place is not None and place < PLACEMENT_TOL_STUDS
    s.success = bool(ok and s.matched == len(truth))
    return s


def _summary(scores: list[SampleScore]) -> dict[str, Any]:
    rot = [e for s in scores for e in s.rotation_errors_deg]
    place = [e for s in scores for e in s.placement_errors_studs]
    placed = [e for e in place if e is not None]
    n = max(1, len(scores))
    by_model: dict[str, list[bool]] = defaultdict(list)
    for s in scores:
        by_model[s.group_id].append(s.success)
    return {
        "samples": len(scores),
        "relevant_part_accuracy": sum(s.parts_exact for s in scores) / n,
        "part_recall": sum(s.matched for s in scores) / max(1, sum(s.n_true for s in scores)),
        "rotation_error_deg_median": float(np.median(rot)) if rot else None,
        "rotation_error_deg_mean": float(np.mean(rot)) if rot else None,
        "rotation_acc_15deg": float(np.mean(np.asarray(rot) <= 15.0)) if rot else None,
        "placement_base_accuracy": len(placed) / len(place) if place else None,
        "placement_error_studs_mean": float(np.mean(placed)) if placed else None,
        "placement_exact": sum(e < PLACEMENT_TOL_STUDS for e in placed) / len(place) if place else None,
        "step_success": sum(s.success for s in scores) / n,
        "models": len(by_model),
        "model_success": sum(all(v) for v in by_model.values()) / max(1, len(by_model)),
    }


def score(rows: list[dict], predictions: dict[str, Any], max_rotation_deg: float = 15.0) -> dict[str, Any]:
    """The report over ``rows`` (``steps`` rows) with ``predictions`` (sample id -> raw answer)."""
    scores = [score_sample(r, predictions.get(r["sample_id"]), max_rotation_deg) for r in rows]
    report = _summary(scores)
    report["by_direction"] = {
        d: _summary([s for s in scores if s.direction == d]) for d in sorted({s.direction for s in scores})
    }
    report["max_rotation_deg"] = max_rotation_deg
    report["missing"] = [s.sample_id for s in scores if s.error == "no answer"]
    report["malformed"] = [
        {"sample_id": s.sample_id, "error": s.error} for s in scores if s.error and s.error != "no answer"
    ]
    known = {r["sample_id"] for r in rows}
    report["unknown_predictions"] = sorted(k for k in predictions if k not in known)
    return report


def read_predictions(lines) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``{sample_id: answer}`` from JSON lines ``{"sample_id": ..., "answer": <object or text>}``; lines that are
    not such objects are returned as problems (line number and reason), never raised."""
    import json

    out: dict[str, Any] = {}
    problems = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            sample_id = d["sample_id"]
            out[str(sample_id)] = d.get("answer", d.get("prediction"))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            problems.append({"line": lineno, "error": f"{type(exc).__name__}: {exc}"[:200]})
    return out, problems
