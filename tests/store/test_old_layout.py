"""Stores of the flat layout (made before chunking): read as they are, refused for writing, migrated in one command."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest
from support.store_records import MANIFEST, commit, store_record

from legodata.errors import LegodataError
from legodata.store import migrate as migration
from legodata.store.store import Store

SCENES = ["000000", "000001", "001500", "ep00003", "m0"]


def flat_store(root):
    """A store as the previous legodata wrote it: scenes/<id>/, no store_layout key, a whole rewritten index,
    specs/<id>.json, and an assembly-style path inside meta."""
    (root / "scenes").mkdir(parents=True)
    (root / "specs").mkdir()
    (root / "manifest.json").write_text(json.dumps(MANIFEST))
    flat = Store(root)
    assert flat.layout == "flat"
    index = []
    for sid in SCENES:
        d = root / "scenes" / sid
        (d / "rgb").mkdir(parents=True)
        recs = []
        for v in range(2):
            (d / "rgb" / f"{v:04d}.png").write_bytes(b"png %s %d" % (sid.encode(), v))
            rec = store_record(flat, sid, v)
            meta = {**rec.meta, "assembly": {"manual_image": f"scenes/{sid}/rgb/{v:04d}.png"}}
            recs.append(replace(rec, meta={**meta, "extra_paths": {"page": f"scenes/{sid}/rgb/{v:04d}.png"}}))
        (d / "records.jsonl").write_text("".join(r.to_json() + "\n" for r in recs))
        (root / "specs" / f"{sid}.json").write_text("{}")
        index += recs
    (root / "scenes" / "000009").mkdir()  # an unfinished leftover: no records
    (root / "records.jsonl").write_text("".join(r.to_json() + "\n" for r in index))
    return index


def test_a_flat_store_is_read_as_it_is(tmp_path):
    index = flat_store(tmp_path / "old")
    store = Store(tmp_path / "old")
    assert store.scene_ids() == SCENES and store.is_scene_done("001500") and not store.is_scene_done("000009")
    assert store.scene_dir("001500") == store.root / "scenes" / "001500"
    assert list(store.iter_records()) == index and list(store.iter_index()) == index
    assert all((store.root / r.image_path).is_file() for r in store.iter_records())


def test_writing_into_a_flat_store_gets_a_one_line_message(tmp_path):
    flat_store(tmp_path / "old")
    store = Store(tmp_path / "old")
    want = r"^--out .*old is a store of the old flat layout \(scenes/<id>/\): migrate it with `legodata migrate .*old`, or use a new --out directory$"  # noqa: E501
    with pytest.raises(LegodataError, match=want):
        store.create_or_check(MANIFEST)
    with pytest.raises(LegodataError, match=want):
        commit(store, "000002")
    with pytest.raises(LegodataError, match=want):
        store.sync_index()
    assert not (store.root / "scenes" / "000002").exists() and not store.index.state.exists()


def test_the_migration_command_moves_every_scene_and_path(tmp_path):
    index = flat_store(tmp_path / "old")
    cmd = [sys.executable, "-m", "legodata.cli", "migrate", str(tmp_path / "old")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("5 scenes moved into chunked folders"), done
    store = Store(tmp_path / "old")
    assert store.layout == "chunked-1000" and store.scene_ids() == SCENES
    assert sorted(p.name for p in (store.root / "scenes").iterdir()) == sorted({"000", "001", *_hash_chunks()})
    assert not (store.root / "scenes" / "000009").exists() and not (store.root / ".scenes-flat").exists()
    migrated = list(store.iter_records())
    assert [r.record_id for r in migrated] == [r.record_id for r in index]
    for old, new in zip(index, migrated):
        rel = store.scene_rel(old.group_id)
        assert new.image_path == old.image_path.replace(f"scenes/{old.group_id}", rel)
        assert new.meta["assembly"]["manual_image"] == new.image_path == new.meta["extra_paths"]["page"]
        assert (store.root / new.image_path).read_bytes() == b"png %s %d" % (old.group_id.encode(), old.meta["view_id"])
    assert list(store.iter_index()) == migrated and list(store.index_scene_ids()) == SCENES
    assert store.spec_path("001500").is_file() and not list((store.root / "specs").glob("*.json"))
    assert store.create_or_check(MANIFEST) is False  # writable now
    commit(store, "000002")
    assert migration.migrate(store.root) == 0  # again: nothing to do
    assert len(list(store.iter_index())) == len(index) + 2


def _hash_chunks():
    from legodata.store.layout import scene_chunk

    return {scene_chunk("ep00003"), scene_chunk("m0")}


def test_an_interrupted_migration_is_named_and_finishes_when_run_again(tmp_path, monkeypatch):
    index = flat_store(tmp_path / "old")
    real, calls = migration._move_scene, []

    def stop_at_the_third(root, src):
        calls.append(src.name)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user pressed ^C mid-way
        real(root, src)

    monkeypatch.setattr(migration, "_move_scene", stop_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        migration.migrate(tmp_path / "old")
    monkeypatch.undo()
    with pytest.raises(LegodataError, match=r"migration to chunked scene folders was interrupted: finish it with"):
        Store(tmp_path / "old").scene_ids()
    assert migration.migrate(tmp_path / "old") == 3
    store = Store(tmp_path / "old")
    assert [r.record_id for r in store.iter_index()] == [r.record_id for r in index]
    assert all((store.root / r.image_path).is_file() for r in store.iter_records())
