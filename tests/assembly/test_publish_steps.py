"""The ``steps`` config rows and the TRL vision-SFT view: pure record -> row functions and their Features."""

import io
import json

import numpy as np
import pytest
from support.assembly_records import make_record, symmetries

from legodata.assembly.answers import answer_from_block, parse_answer
from legodata.core.records import Record
from legodata.publish.steps import sft_features, sft_row, steps_features, steps_rows

datasets = pytest.importorskip("datasets")


def test_rows_of_an_assembly_record(tmp_path):
    rec = make_record(tmp_path)
    assert Record.from_json(rec.to_json()) == rec  # extra paths are checked and survive the round trip
    rows = steps_rows(rec, tmp_path, symmetries())
    assert [r["direction"] for r in rows] == ["assembly", "disassembly"]
    assert [r["sample_id"] for r in rows] == ["m0/assembly/002/v00", "m0/disassembly/001/v00"]
    a = rows[0]
    assert [p["part_id"] for p in a["parts"]] == ["3003", "3039"]
    assert a["parts"][0]["base_part_id"] == "3020" and rows[1]["parts"][0]["base_part_id"] == ""
    assert len(a["parts"][0]["symmetry_rotations"]) == 4
    assert json.loads(a["answer"]) == answer_from_block(rec.meta["assembly"])
    from PIL import Image

    rel = np.array(Image.open(io.BytesIO(a["relevant_mask"]["bytes"])))
    assert rel.dtype == np.uint8 and set(np.unique(rel)) == {0, 1, 2}  # k = parts[k-1]: instances 2 and 3
    assert (rel == 1).sum() == 150 and (rel == 2).sum() == 100
    manual = np.array(Image.open(io.BytesIO(a["manual_relevant_mask"]["bytes"])))
    assert (manual == 1).sum() == 100 and (manual == 2).sum() == 50
    assert steps_rows(rec, tmp_path, symmetries(), images=False)[0].keys() <= a.keys()
    assert "observation" not in steps_rows(rec, tmp_path, symmetries(), images=False)[0]
    plain = Record("r", "render", "g", "x.png", 1, 1, rec.K, ())
    assert steps_rows(plain, tmp_path, {}) == []


def test_rows_encode_with_their_features_and_the_sft_view_is_trl_shaped(tmp_path):
    rows = steps_rows(make_record(tmp_path), tmp_path, symmetries())
    ds = datasets.Dataset.from_list(rows, features=steps_features())
    assert ds[0]["observation"].size == (64, 64) and ds[0]["manual_image"].size == (48, 48)
    assert np.array(ds[0]["observation_mask"]).max() == 3
    path = tmp_path / "sft"
    datasets.Dataset.from_list([sft_row(r) for r in rows], features=sft_features()).save_to_disk(str(path))
    sft = datasets.load_from_disk(str(path))
    ex = sft[0]
    # TRL's vision SFT layout: images + messages with typed content parts, image placeholders in the user turn
    assert [m["role"] for m in ex["messages"]] == ["user", "assistant"]
    user = ex["messages"][0]["content"]
    assert [c["type"] for c in user] == ["image", "image", "text"]
    # trl.data_utils.prepare_multimodal_messages fills every {"type": "image"} part without an "image" key from
    # the row's images, in order, and refuses a row whose placeholder count differs from len(images)
    placeholders = [c for m in ex["messages"] for c in m["content"] if c["type"] == "image" and "image" not in c]
    assert len(placeholders) == len(ex["images"]) == 2
    assert "step 2" in user[2]["text"] and "JSON" in user[2]["text"]
    answer = parse_answer(ex["messages"][1]["content"][0]["text"])
    assert [p["part_id"] for p in answer["parts"]] == ["3003", "3039"]
    assert ex["images"][0].size == (48, 48) and ex["images"][1].size == (64, 64)
    assert sft[1]["sample_id"] == "m0/disassembly/001/v00"
