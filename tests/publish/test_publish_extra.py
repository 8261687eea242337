"""The configs only some sources fill: ``runs`` (robot logs), ``steps`` and ``sft`` (assembly), published by the
real ``publish()`` and read back with ``datasets.load_dataset``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.assembly_records import assembly_store
from support.runlog_truth import simulate

from legodata.core.records import Record
from legodata.jobs.import_log import run_import
from legodata.publish import publish
from legodata.store.store import Store

datasets = pytest.importorskip("datasets")


def test_runs_config_has_one_row_per_robot_log_observation_with_its_labels(tmp_path):
    log = simulate(tmp_path / "log", episodes=2)
    run_import(log, tmp_path / "store")
    records = {r.record_id: r for r in Store(tmp_path / "store").iter_records()}
    s = publish([tmp_path / "store"], tmp_path / "hf", split=(1.0, 0.0, 0.0))
    assert s.rows["runs"]["train"] == len(records) > 0
    runs = datasets.load_dataset(str(tmp_path / "hf"), "runs", split="train")
    assert len(runs) == len(records)
    labelled = 0
    for row in runs:
        meta = records[row["record_id"]].meta
        assert row["episode"] == meta["episode"] and row["mode"] in ("assemble", "disassemble")
        assert row["image"].size == (records[row["record_id"]].width, records[row["record_id"]].height)
        if meta.get("rotation_to_target_wxyz") is not None:
            np.testing.assert_allclose(row["rotation_to_target_wxyz"], meta["rotation_to_target_wxyz"])
            labelled += 1
        else:
            assert row["rotation_to_target_wxyz"] is None
    assert labelled > 0
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "config_name: runs" in card and "config_name: steps" not in card
    assert "- **`runs`**: one row per observation" in card and "- **`steps`**" not in card


def test_steps_and_sft_configs_of_assembly_records(tmp_path):
    assembly_store(tmp_path / "store")
    s = publish([tmp_path / "store"], tmp_path / "hf", split=(1.0, 0.0, 0.0))
    assert s.rows["steps"]["train"] == 4 and s.rows["sft"]["train"] == 4  # 2 records x (assembly, disassembly)
    assert "runs" not in s.rows
    steps = datasets.load_dataset(str(tmp_path / "hf"), "steps", split="train")
    sft = datasets.load_dataset(str(tmp_path / "hf"), "sft", split="train")
    assert sorted(steps["sample_id"]) == sorted(sft["sample_id"])
    by_id = {r["sample_id"]: r for r in steps}
    for ex in sft:
        assert len(ex["images"]) == 2 and ex["messages"][1]["role"] == "assistant"
        assert json.loads(ex["messages"][1]["content"][0]["text"]) == json.loads(by_id[ex["sample_id"]]["answer"])
    assert np.array(steps[0]["relevant_mask"]).max() >= 1
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "- **`steps`**: one row per assembly step" in card and "| `sft` | 4 |" in card


def test_score_steps_reads_the_published_steps_config(tmp_path):
    from legodata.publish.steps import load_step_rows

    assembly_store(tmp_path / "store")
    publish([tmp_path / "store"], tmp_path / "hf", split=(1.0, 0.0, 0.0))
    rows = load_step_rows(tmp_path / "hf", "train")
    from_store = load_step_rows(tmp_path / "store")
    assert sorted(r["sample_id"] for r in rows) == sorted(r["sample_id"] for r in from_store)
    assert all("observation" not in r for r in rows)


def test_robot_log_records_without_a_mask_are_in_runs_only(tmp_path, caplog):
    from dataclasses import replace

    log = simulate(tmp_path / "log", episodes=2)
    run_import(log, tmp_path / "store")
    store = Store(tmp_path / "store")
    first = store.scene_ids()[0]
    path = store.scene_dir(first) / "records.jsonl"
    recs = [Record.from_json(line) for line in path.read_text().splitlines()]
    stripped = [replace(r, mask_path=None, instances=()) for r in recs]  # a robot stack that logged no masks
    path.write_text("".join(r.to_json() + "\n" for r in stripped))
    total = sum(1 for _ in store.iter_records())
    s = publish([tmp_path / "store"], tmp_path / "hf", split=(1.0, 0.0, 0.0))
    assert s.rows["runs"]["train"] == total
    assert s.rows["scenes"]["train"] == total - len(recs)
    assert f"{len(recs)} records have no instance mask" in caplog.text
    runs = datasets.load_dataset(str(tmp_path / "hf"), "runs", split="train")
    assert sum(row["mask"] is None for row in runs) == len(recs)


def test_parts_rows_carry_the_target_of_runs_and_steps_and_none_for_renders(tmp_path):
    log = simulate(tmp_path / "log", episodes=2)
    run_import(log, tmp_path / "runs")
    assembly_store(tmp_path / "steps")
    publish([tmp_path / "runs", tmp_path / "steps"], tmp_path / "hf", split=(1.0, 0.0, 0.0))
    parts = datasets.load_dataset(str(tmp_path / "hf"), "parts", split="train")
    runs = {r.record_id: r for r in Store(tmp_path / "runs").iter_records()}
    steps = {r.record_id: r for r in Store(tmp_path / "steps").iter_records()}
    checked = {"robot_log": 0, "assembly": 0}
    for row in parts:
        record_id = row["record_id"].split("/", 1)[1]  # two stores: ids are prefixed with the store label
        if row["source"] == "robot_log":
            meta = runs[record_id].meta
            tracks = meta.get("tracks") or [meta]
            track = next(t for t in tracks if t.get("instance_id") == row["instance_id"])
            if track.get("rotation_to_target_wxyz") is None:
                assert row["rotation_to_target_wxyz"] is None
                continue
            np.testing.assert_allclose(row["rotation_to_target_wxyz"], track["rotation_to_target_wxyz"])
            np.testing.assert_allclose(row["quat_target_m2c_wxyz"], track["quat_target_m2c_wxyz"])
        else:
            block = steps[record_id].meta["assembly"]  # the parts placed in this step have targets, the base none
            placed = {p["instance_id"]: p for p in block["parts"]}
            if row["instance_id"] not in placed:
                assert row["rotation_to_target_wxyz"] is None and row["quat_target_m2c_wxyz"] is None
                continue
            p = placed[row["instance_id"]]
            np.testing.assert_allclose(row["rotation_to_target_wxyz"], p["rotation_action_wxyz"])
            np.testing.assert_allclose(row["quat_target_m2c_wxyz"], p["quat_target_m2c_wxyz"])
        checked[row["source"]] += 1
    assert checked["robot_log"] > 0 and checked["assembly"] > 0
