"""Simulated runs (numpy stand-in renderer): labels derived from the logged actions equal the renderer's poses;
re-import is idempotent, an interrupted import resumes; the log validates against the shipped JSON Schema."""

import json
import shutil

import pytest
from support.runlog_truth import compare, simulate

from legodata.jobs.import_log import run_import
from legodata.runlog import schema
from legodata.runlog.parse import parse_event
from legodata.sources import load_source
from legodata.store.store import Store

TOL_DEG = 0.5


def test_labels_equal_the_renderers_poses(tmp_path):
    log = simulate(tmp_path / "log", episodes=8, seed=11, parts=("3001", "3039", "3003", "3069b"))
    s = run_import(log, tmp_path / "store")
    assert s.problems == 0 and s.episodes_imported == 8 and s.records == s.instances
    result = compare(log, tmp_path / "store")
    counts, worst = result["counts"], result["worst"]
    assert counts["assemble"] > 8 and counts["disassemble"] == 4 * 3 and counts["targets"] == s.records
    for mode in ("assemble", "disassemble"):
        w = worst[mode]
        assert w["rotation_to_target_deg"] < TOL_DEG, w
        assert w["R_target_m2c_deg"] < TOL_DEG, w
        assert w["R_m2c_deg"] < TOL_DEG and w["t_m2c_m"] < 1e-6, w
    modes = {r.meta["rotation_to_target_from"] for r in Store(tmp_path / "store").iter_records()}
    assert modes == {"actions", "goal_pose"}


def test_rotation_frames_and_gripper_poses_agree(sim_log_master, tmp_path):
    run_import(sim_log_master, tmp_path / "store")
    recs = list(Store(tmp_path / "store").iter_records())
    held = [r for r in recs if r.meta["held"]]
    assert held and all(r.meta["pose_check_deg"] < 1e-4 for r in held)
    assert all(r.meta["symmetry_reduced"] and not r.meta["label_notes"] for r in recs)
    frames = {json.loads(x).get("frame") for x in (sim_log_master / "log.jsonl").read_text().splitlines()}
    assert {"world", "camera", "gripper"} <= frames


def test_reimport_is_idempotent_and_an_interrupted_import_resumes(sim_log, tmp_path):
    full = (sim_log / "log.jsonl").read_text().splitlines(keepends=True)
    # an import interrupted mid-log (or a log still being written): episode 2 is unfinished
    cut = next(i for i, x in enumerate(full) if '"episode":"ep00002"' in x and '"observation"' in x) + 3
    (sim_log / "log.jsonl").write_text("".join(full[:cut]))
    store = tmp_path / "store"
    s1 = run_import(sim_log, store)
    assert (s1.episodes_imported, s1.episodes_unfinished) == (3, 1)
    assert Store(store).read_manifest()["source"] == "robot_log"
    # a temp dir left by a killed import is cleaned up, and the next run finishes the job
    (store / ".tmp" / "ep00003-host-999999999").mkdir(parents=True)
    (sim_log / "log.jsonl").write_text("".join(full))
    s2 = run_import(sim_log, store)
    assert (s2.episodes_unchanged, s2.episodes_replaced, s2.episodes_imported) == (2, 1, 1)
    index = (store / "records.jsonl").read_bytes()
    s3 = run_import(sim_log, store)
    assert (s3.episodes_unchanged, s3.episodes_replaced, s3.episodes_imported) == (4, 0, 0)
    assert (store / "records.jsonl").read_bytes() == index
    # a changed image changes its episode's content hash: only that episode is rebuilt
    img = sorted((sim_log / "images").glob("*.png"))[0]
    img.write_bytes(img.read_bytes() + b"\0")
    s4 = run_import(sim_log, store)
    assert (s4.episodes_unchanged, s4.episodes_replaced) == (3, 1)
    fresh = tmp_path / "fresh"
    run_import(sim_log, fresh, link=False)
    assert (fresh / "records.jsonl").read_bytes() == (store / "records.jsonl").read_bytes()


def test_source_registry_and_record_paths(sim_log_master, tmp_path):
    recs = list(load_source("robot_log", sim_log_master))
    assert recs and {r.source for r in recs} == {"robot_log"}
    assert all((sim_log_master / r.image_path).is_file() for r in recs)  # paths relative to the log's root
    run_import(sim_log_master, tmp_path / "store")
    for rec in (store := Store(tmp_path / "store")).iter_records():
        for p in (rec.image_path, rec.mask_path, rec.depth_path):
            assert p.startswith(f"{store.scene_rel(rec.group_id)}/") and (tmp_path / "store" / p).is_file()


def test_episode_names_are_unique_within_a_store(sim_log_master, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(sim_log_master, other)
    text = (other / "log.jsonl").read_text().replace('"world_frame":"table"', '"world_frame":"bench"', 1)
    (other / "log.jsonl").write_text(text)
    run_import(sim_log_master, tmp_path / "store")
    with pytest.raises(Exception, match="episode 'ep00000' is already in .* from another log"):
        run_import(other, tmp_path / "store")


def test_simulated_log_and_example_follow_the_schema(sim_log_master):
    jsonschema = pytest.importorskip("jsonschema")
    from legodata.runlog import example_lines

    validator = jsonschema.Draft202012Validator(schema())
    jsonschema.Draft202012Validator.check_schema(schema())
    lines = (sim_log_master / "log.jsonl").read_text().splitlines() + example_lines()
    kinds = set()
    for line in lines:
        d = json.loads(line)
        errors = list(validator.iter_errors(d))
        assert not errors, (line[:200], errors[0].message)
        kinds.add(type(parse_event(d)).__name__)
    assert kinds == {"Header", "EpisodeStart", "EpisodeEnd", "Observation", "Vlm", "Rotate", "Judgement", "PickPlace"}
    # what the schema rejects, the parser rejects too
    bad = [
        {"type": "rotate", "episode": "e", "track": "p1", "quat_wxyz": [1, 0, 0, 0], "frame": "camera"},
        {"type": "observation", "episode": "e", "id": "o", "t": 0, "camera": "c", "image": "../x.png"},
        {"type": "judgement", "episode": "e", "t": 0, "track": "p1", "correct": "yes", "by": "vlm"},
        {"type": "teleport"},
    ]
    for d in bad:
        assert list(validator.iter_errors(d))
        with pytest.raises(ValueError):
            parse_event(d)


def test_publish_accepts_the_records(sim_log_master, tmp_path):
    pytest.importorskip("datasets")
    from legodata.publish import publish

    run_import(sim_log_master, tmp_path / "store")
    s = publish([tmp_path / "store"], tmp_path / "hf", split=(0.5, 0.25, 0.25), seed=1, workers=1)
    assert s.records == len(list(Store(tmp_path / "store").iter_records())) and s.part_rows > 0


def test_a_store_of_renders_is_refused(sim_log_master, tmp_path):
    Store(tmp_path / "store").create_or_check({"schema_version": 1, "source": "render", "settings": {}})
    with pytest.raises(Exception, match="holds 'render' records, not robot runs"):
        run_import(sim_log_master, tmp_path / "store")
