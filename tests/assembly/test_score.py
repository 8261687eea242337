"""score-steps: symmetry-aware rotation error, placement in studs, per-step and per-model success; malformed or
missing answers are counted as wrong and listed, never raised."""

import json

import numpy as np
import pytest
from support.assembly_records import make_record, symmetries

from legodata.assembly.answers import answer_text, parse_answer
from legodata.assembly.score import read_predictions, rotation_error_deg, score
from legodata.core.rotations import axis_angle_to_matrix, matrix_to_quat_wxyz
from legodata.publish.steps import steps_rows


@pytest.fixture()
def rows(tmp_path):
    out = []
    for group in ("m0", "m1"):
        for step in (2, 3):
            out += steps_rows(make_record(tmp_path, group, step), tmp_path, symmetries(), images=False)
    return out


def perfect(rows):
    return {r["sample_id"]: r["answer"] for r in rows}


def test_perfect_answers_score_full_marks(rows):
    report = score(rows, perfect(rows))
    assert report["samples"] == 8 and report["models"] == 2
    assert report["relevant_part_accuracy"] == report["step_success"] == report["model_success"] == 1.0
    assert report["rotation_error_deg_median"] < 0.05  # answers carry the quaternion to 4 decimals
    assert report["placement_exact"] == 1.0 and report["missing"] == report["malformed"] == []
    assert set(report["by_direction"]) == {"assembly", "disassembly"}


def test_a_symmetric_equivalent_rotation_is_right(rows):
    row = next(r for r in rows if r["direction"] == "assembly")
    brick = row["parts"][0]  # the 2x2 brick: its true action is no turn at all (it lies a quarter turn off)
    assert brick["rotation_action_deg"] < 1e-6
    R_c, R_t = np.asarray(brick["R_current_m2c"]), np.asarray(brick["R_target_m2c"])
    literal = R_t @ R_c.T  # the quarter turn that reaches the file's exact pose
    assert rotation_error_deg(matrix_to_quat_wxyz(literal), brick) < 1e-6
    assert rotation_error_deg([1, 0, 0, 0], brick) < 1e-6
    slope = row["parts"][1]  # no symmetry: the half turn is needed, and a quarter turn is 90 degrees off
    assert rotation_error_deg([1, 0, 0, 0], slope) == pytest.approx(180.0, abs=1e-6)
    wrong = np.asarray(slope["R_action_c"]) @ axis_angle_to_matrix([0, 0, 1], np.pi / 2)
    assert rotation_error_deg(matrix_to_quat_wxyz(wrong), slope) == pytest.approx(90.0, abs=1e-6)


def test_wrong_parts_rotations_and_placements_are_scored(rows):
    preds = perfect(rows)
    target = rows[0]["sample_id"]  # m0 assembly step 2
    ans = json.loads(preds[target])
    ans["parts"][1]["colour_code"] = 1  # wrong colour for the slope
    preds[target] = answer_text(ans)
    second = rows[2]["sample_id"]  # m0 assembly step 3: right parts, slope turned the wrong way, brick misplaced
    ans = json.loads(preds[second])
    ans["parts"][1]["rotation_action_wxyz"] = [1.0, 0.0, 0.0, 0.0]
    ans["parts"][0]["stud_offset"] = [3, 0]
    preds[second] = answer_text(ans)
    report = score(rows, preds)
    assert report["relevant_part_accuracy"] == pytest.approx(7 / 8)
    assert report["part_recall"] == pytest.approx(11 / 12)
    assert report["step_success"] == pytest.approx(6 / 8)
    assert report["model_success"] == pytest.approx(1 / 2)
    assert report["placement_error_studs_mean"] == pytest.approx(2.0 / 11)
    assert report["rotation_acc_15deg"] == pytest.approx(10 / 11)


def test_malformed_and_missing_answers_count_as_wrong_and_are_listed(rows):
    preds = perfect(rows)
    ids = [r["sample_id"] for r in rows]
    preds[ids[0]] = "I think it is the red brick"
    preds[ids[1]] = '{"parts": [{"part_id": "3020"}]}'  # no colour
    preds[ids[2]] = {"parts": [{"part_id": "3003", "colour_code": 4, "rotation_action_wxyz": [0, 0, 0, 0]}]}
    preds[ids[3]] = "```json\n" + rows[3]["answer"] + "\n```"  # fenced JSON is fine
    del preds[ids[4]]
    preds["nope/assembly/001/v00"] = rows[0]["answer"]
    report = score(rows, preds)
    assert report["missing"] == [ids[4]]
    assert [m["sample_id"] for m in report["malformed"]] == ids[:3]
    assert "not JSON" in report["malformed"][0]["error"] and "colour_code" in report["malformed"][1]["error"]
    assert report["step_success"] == pytest.approx(4 / 8)
    assert report["unknown_predictions"] == ["nope/assembly/001/v00"]


def test_prediction_lines_are_read_tolerantly():
    preds, problems = read_predictions(['{"sample_id": "a", "answer": {"parts": []}}', "", "not json", '{"x": 1}'])
    assert preds == {"a": {"parts": []}} and [p["line"] for p in problems] == [3, 4]
    assert parse_answer({"parts": []}) == {"parts": []}
