"""Every kind of bad line gives its own line-numbered error, is quarantined, and the rest imports unchanged."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from legodata.errors import LegodataError
from legodata.jobs.import_log import run_import
from legodata.store.store import Store


def lines(log: Path) -> list[str]:
    return (log / "log.jsonl").read_text().splitlines()


def write(log: Path, new: list[str], end: str = "\n") -> None:
    (log / "log.jsonl").write_text("\n".join(new) + end)


def find(all_lines: list[str], kind: str, nth: int = 0, **match) -> int:
    """Index of the nth line of event ``kind`` whose fields equal ``match``."""
    hits = [
        i
        for i, line in enumerate(all_lines)
        if (d := json.loads(line))["type"] == kind and all(d.get(k) == v for k, v in match.items())
    ]
    return hits[nth]


def _rounded(x):
    if isinstance(x, float):
        return round(x, 9) + 0.0
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    return x


def records(store: Path) -> dict[str, dict]:
    """record_id -> the record as JSON (floats to 1e-9), without what depends on line numbers."""
    out = {}
    for rec in Store(store).iter_records():
        d = json.loads(rec.to_json())
        d["meta"].pop("log_line")
        for t in d["meta"].get("tracks", []):
            t.pop("label_notes")
        d["meta"].pop("label_notes")
        out[rec.record_id] = _rounded(d)
    return out


def quarantine(store: Path) -> list[dict]:
    return [json.loads(x) for x in (store / "quarantine.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def baseline(sim_log_master, tmp_path_factory):
    store = tmp_path_factory.mktemp("base") / "store"
    s = run_import(sim_log_master, store)
    assert s.problems == 0 and s.records > 10
    return records(store)


def check(log: Path, tmp_path: Path, lineno: int, reason: str, baseline: dict, lost=(), unlabelled=()):
    """Non-strict: one quarantine entry (line, reason), every other record as in the baseline. Strict: the error."""
    store = tmp_path / "store"
    s = run_import(log, store)
    q = quarantine(store)
    assert [p["line"] for p in q][:1] == [lineno], q
    assert reason in q[0]["reason"], q[0]["reason"]
    got = records(store)
    assert set(baseline) - set(got) == set(lost)
    for rid, rec in got.items():
        if rid in unlabelled:
            assert rec["meta"]["rotation_to_target_wxyz"] is None
            continue
        assert rec == baseline[rid], rid
    with pytest.raises(LegodataError) as err:
        run_import(log, tmp_path / "strict", strict=True)
    assert f"log.jsonl:{lineno}: " in str(err.value) and reason in str(err.value)
    assert "\n" not in str(err.value)
    return s


def test_truncated_line(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "vlm", 1)
    obs = json.loads(all_lines[i])["observation"]
    all_lines[i] = all_lines[i][: len(all_lines[i]) // 2]
    write(sim_log, all_lines)
    # a vlm event moves nothing: only that observation's action text is lost
    store = tmp_path / "store"
    run_import(sim_log, store)
    (q,) = quarantine(store)
    assert q["line"] == i + 1 and q["reason"].startswith("not valid JSON") and q["episode"] == "ep00000"
    got = records(store)
    assert set(got) == set(baseline)
    for rid, rec in got.items():
        if rec["meta"]["observation"] == obs:
            assert rec["meta"]["action"] is None and baseline[rid]["meta"]["action"] is not None
            rec["meta"].update({k: baseline[rid]["meta"][k] for k in ("action", "verb", "action_args", "vlm_model")})
        assert rec == baseline[rid]


def test_truncated_last_line(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    write(sim_log, all_lines + ['{"type":"observation","episode":"ep00003","id":"o9'], end="")
    check(sim_log, tmp_path, len(all_lines) + 1, "(truncated line?)", baseline)


def test_wrong_type_in_a_rotation_stops_the_labels_across_it(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "rotate", 0, episode="ep00000")
    d = json.loads(all_lines[i])
    d["quat_wxyz"] = "0.7,0.7,0,0"
    all_lines[i] = json.dumps(d)
    write(sim_log, all_lines)
    # observations of that episode before the lost rotation lose their rotation to target, nothing else does
    before = _before(baseline, all_lines, i, "ep00000")
    store = tmp_path / "store"
    run_import(sim_log, store)
    (q,) = quarantine(store)
    assert q["line"] == i + 1 and q["reason"].startswith("field rotate.quat_wxyz: ")
    got = records(store)
    assert set(got) == set(baseline)
    for rid, rec in got.items():
        if rid in before:  # no rotation to target; the pose still comes from the pick, before the lost line
            assert rec["meta"]["rotation_to_target_wxyz"] is None
            for a, b in zip(rec["instances"], baseline[rid]["instances"], strict=True):
                assert np.allclose(a["R_m2c"], b["R_m2c"], atol=1e-9) and np.allclose(a["t_m2c"], b["t_m2c"])
        else:
            assert rec == baseline[rid], rid
    notes = [n for rec in Store(store).iter_records() for n in rec.meta["label_notes"] if f"line {i + 1}" in n]
    assert notes


def _before(baseline, all_lines, i, episode):
    obs_before = {json.loads(x)["id"] for x in all_lines[:i] if json.loads(x)["type"] == "observation"}
    return {
        rid for rid, r in baseline.items() if r["meta"]["episode"] == episode and r["meta"]["observation"] in obs_before
    }


def test_unknown_event(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "episode_start", 1) + 1
    all_lines.insert(i, json.dumps({"type": "teleport", "episode": "ep00001", "track": "p1"}))
    write(sim_log, all_lines)
    check(sim_log, tmp_path, i + 1, "field type: unknown event type 'teleport'", baseline)


def test_event_before_header(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    write(
        sim_log,
        [json.dumps({"type": "episode_start", "episode": "ep0", "mode": "assemble", "source_kind": "robot"})]
        + all_lines,
    )
    check(sim_log, tmp_path, 1, "episode_start event before the header", baseline)


def test_unknown_episode(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "observation", 2)
    d = json.loads(all_lines[i])
    d["episode"], d["id"] = "ep99999", "extra"
    all_lines.insert(i + 1, json.dumps(d))
    write(sim_log, all_lines)
    check(sim_log, tmp_path, i + 2, "observation: unknown episode 'ep99999'", baseline)


def test_event_after_its_episode_ended(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "episode_end", 0)
    j = find(all_lines, "vlm", 0)
    all_lines.insert(i + 1, all_lines[j])
    write(sim_log, all_lines)
    check(sim_log, tmp_path, i + 2, "vlm: episode 'ep00000' already ended at line", baseline)


def test_missing_image(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    # a held observation judged incorrect: its record goes, its vlm and judgement too, the labels of the rest stay
    i = find(all_lines, "judgement", 0, correct=False)
    obs_id = json.loads(all_lines[i])["observation"]
    o = find(all_lines, "observation", 0, id=obs_id)
    (sim_log / json.loads(all_lines[o])["image"]).unlink()
    episode = json.loads(all_lines[o])["episode"]
    s = check(
        sim_log, tmp_path, o + 1, f"file images/{obs_id}.png does not exist", baseline, lost={f"{episode}_{obs_id}"}
    )
    assert s.missing_files == 1
    reasons = [p["reason"] for p in quarantine(tmp_path / "store")]
    assert len(reasons) == 3 and all(obs_id in r for r in reasons[1:]), reasons  # its judgement and vlm


def test_missing_mask_keeps_the_observation(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    o = find(all_lines, "observation", 3)
    d = json.loads(all_lines[o])
    (sim_log / d["mask"]).unlink()
    store = tmp_path / "store"
    run_import(sim_log, store)
    (q,) = quarantine(store)
    assert (
        q["line"] == o + 1 and q["kept"] and "does not exist" in q["reason"] and "kept without its mask" in q["reason"]
    )
    got = records(store)
    rid = f"{d['episode']}_{d['id']}"
    assert got[rid]["mask_path"] is None and got[rid]["instances"] == []
    assert got[rid]["meta"]["rotation_to_target_wxyz"] == baseline[rid]["meta"]["rotation_to_target_wxyz"]


def test_path_escaping_the_root(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    o = find(all_lines, "observation", 1)
    d = json.loads(all_lines[o])
    d["image"] = "../../outside.png"
    all_lines[o] = json.dumps(d)
    write(sim_log, all_lines)
    # (the observation's vlm and judgement name it and go too)
    check(
        sim_log,
        tmp_path,
        o + 1,
        "field observation.image: path '../../outside.png' escapes the log's root",
        baseline,
        lost={f"{d['episode']}_{d['id']}"},
    )


def test_link_escaping_the_root(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    o = find(all_lines, "observation", 1)
    d = json.loads(all_lines[o])
    outside = tmp_path / "outside.png"
    outside.write_bytes((sim_log / d["image"]).read_bytes())
    (sim_log / d["image"]).unlink()
    os.symlink(outside, sim_log / d["image"])
    check(
        sim_log,
        tmp_path,
        o + 1,
        "escapes the log's root (through a link)",
        baseline,
        lost={f"{d['episode']}_{d['id']}"},
    )


def test_non_unit_quaternion(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "pick", 1)
    d = json.loads(all_lines[i])
    d["pose_in_world"]["quat_wxyz"] = [1.0, 0.2, 0.0, 0.0]
    all_lines[i] = json.dumps(d)
    write(sim_log, all_lines)
    store = tmp_path / "store"
    run_import(sim_log, store)
    (q,) = quarantine(store)
    assert q["line"] == i + 1
    assert q["reason"].startswith("field pick.pose_in_world.quat_wxyz: [1.0, 0.2, 0.0, 0.0] is not a unit quaternion")
    # the lost pick: poses of that episode come from its place instead; other episodes are untouched
    got = records(store)
    assert set(got) == set(baseline)
    for rid, rec in got.items():
        if rec["meta"]["episode"] != d["episode"]:
            assert rec == baseline[rid]


def test_judgement_with_no_observation(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "episode_start", 2) + 1
    j = json.dumps({"type": "judgement", "episode": "ep00002", "t": 1.0, "track": "p1", "correct": True, "by": "human"})
    all_lines.insert(i, j)
    write(sim_log, all_lines)
    check(sim_log, tmp_path, i + 1, "judgement with no observation: episode 'ep00002' has no observation", baseline)


def test_judgement_of_an_unknown_observation(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "judgement", 1)
    d = json.loads(all_lines[i])
    d["observation"] = "o999999"
    all_lines.insert(i + 1, json.dumps(d))
    write(sim_log, all_lines)
    check(sim_log, tmp_path, i + 2, "field judgement.observation: 'o999999' is not an earlier observation", baseline)


def test_unknown_part_and_unknown_field(sim_log, tmp_path, baseline):
    all_lines = lines(sim_log)
    i = find(all_lines, "vlm", 0)
    d = json.loads(all_lines[i])
    d["part_id"] = "99999"
    all_lines.insert(i + 1, json.dumps(d))
    e = dict(json.loads(all_lines[i]), colour=4)
    all_lines.insert(i + 2, json.dumps(e))
    write(sim_log, all_lines)
    store = tmp_path / "store"
    run_import(sim_log, store)
    q = quarantine(store)
    assert [p["line"] for p in q] == [i + 2, i + 3]
    assert "field vlm.part_id: '99999' is not in the header's catalogue" in q[0]["reason"]
    assert q[1]["reason"].startswith("field vlm.colour: is not a field of this event")
    assert records(store) == baseline


def test_strict_keeps_what_was_committed_before_the_bad_line(sim_log, tmp_path):
    all_lines = lines(sim_log)
    i = find(all_lines, "episode_start", 2)
    all_lines.insert(i, "{not json")
    write(sim_log, all_lines)
    store = tmp_path / "store"
    with pytest.raises(LegodataError, match=f"log.jsonl:{i + 1}: not valid JSON"):
        run_import(sim_log, store, strict=True)
    assert Store(store).scene_ids() == ["ep00000", "ep00001"]
    assert not list(tmp_path.glob(".store.quarantine-*"))  # no temporary file left behind
