import json

import pytest

from legodata.core.atomic import atomic_write_text, create_exclusive_text
from legodata.core.records import Instance, Record, safe_relative_path
from legodata.errors import LegodataError
from legodata.store.store import Store


def make_record(record_id="000000_0000", image_path="scenes/000/000000/rgb/0000.png"):
    inst = Instance(
        instance_id=1,
        part_id="3001",
        colour_code=4,
        R_m2c=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
        t_m2c=(0.0, 0.0, 0.3),
        quat_m2c_wxyz=(1.0, 0.0, 0.0, 0.0),
        bbox_obj=(1, 2, 3, 4),
        bbox_visib=(1, 2, 3, 3),
        px_count_all=12,
        px_count_visib=9,
        visib_fract=0.75,
    )
    return Record(
        record_id=record_id,
        source="render",
        group_id="000000",
        image_path=image_path,
        width=64,
        height=48,
        K=((50.0, 0.0, 31.5), (0.0, 50.0, 23.5), (0.0, 0.0, 1.0)),
        instances=(inst,),
        mask_path="scenes/000/000000/mask/0000.png",
        meta={"view_id": 0},
    )


def test_record_json_round_trip():
    rec = make_record()
    assert Record.from_json(rec.to_json()) == rec


def test_record_missing_field_is_named():
    d = json.loads(make_record().to_json())
    del d["instances"][0]["part_id"]
    with pytest.raises(ValueError, match="'part_id'"):
        Record.from_json(json.dumps(d))


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x.png", "scenes/../../x.png", "a\\..\\..\\b.png", ""])
def test_paths_cannot_escape_the_root(bad):
    with pytest.raises(ValueError):
        safe_relative_path(bad)
    with pytest.raises(ValueError, match="image_path"):
        Record.from_json(make_record(image_path=bad).to_json())


def test_atomic_writes(tmp_path):
    p = tmp_path / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert create_exclusive_text(tmp_path / "m.json", "a") is True
    assert create_exclusive_text(tmp_path / "m.json", "b") is False
    assert (tmp_path / "m.json").read_text() == "a"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.txt", "m.json"]  # no temp files left


def manifest(seed=0, views=4):
    return {"schema_version": 1, "settings": {"seed": seed, "views": views, "parts": ["3001"]}}


def test_store_refuses_other_settings_with_a_one_line_hint(tmp_path):
    store = Store(tmp_path / "ds")
    assert store.create_or_check(manifest()) is True
    assert store.create_or_check(manifest()) is False
    with pytest.raises(LegodataError) as err:
        store.create_or_check(manifest(seed=1))
    msg = str(err.value)
    assert "--seed 0" in msg and "this run has 1" in msg and "new --out" in msg and "\n" not in msg


def test_store_refuses_a_foreign_non_empty_directory(tmp_path):
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(LegodataError, match="not a legodata dataset"):
        Store(tmp_path).create_or_check(manifest())


def test_commit_scene_and_index(tmp_path):
    store = Store(tmp_path / "ds")
    store.create_or_check(manifest())
    tmp = store.new_tmp_dir("000000")
    assert not store.is_scene_done("000000")
    store.commit_scene(tmp, "000000", [make_record()])
    assert store.is_scene_done("000000") and not tmp.exists()
    assert store.rebuild_index() == 1
    assert [r.record_id for r in store.iter_records()] == ["000000_0000"]
    lines = (store.root / "records.jsonl").read_text().splitlines()
    assert Record.from_json(lines[0]) == make_record()


def test_corrupt_record_line_is_named_with_file_and_line(tmp_path):
    store = Store(tmp_path / "ds")
    store.create_or_check(manifest())
    store.commit_scene(store.new_tmp_dir("000000"), "000000", [make_record()])
    with open(store.scene_dir("000000") / "records.jsonl", "a") as fh:  # damaged on disk after the commit
        fh.write('{"record_id": "x"}\n')
    with pytest.raises(LegodataError, match=r"records.jsonl:2: record is missing field"):
        list(store.iter_records())


def test_stale_tmp_dirs_of_dead_processes_are_removed(tmp_path):
    import socket

    store = Store(tmp_path / "ds")
    store.create_or_check(manifest())
    dead = store.root / ".tmp" / f"000001-{socket.gethostname()}-999999999"
    dead.mkdir()
    mine = store.new_tmp_dir("000002")
    other_host = store.root / ".tmp" / "000003-otherhost-1"
    other_host.mkdir()
    assert store.clean_stale_tmp() == 1
    assert not dead.exists() and mine.exists() and other_host.exists()
