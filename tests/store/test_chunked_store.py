"""Chunked scene folders: the chunk rule, round trips for every source's id style, thread-safe commits."""

import json
import random
import threading
from dataclasses import replace

import pytest
from support.store_records import MANIFEST, commit, store_record

from legodata.errors import LegodataError
from legodata.store.layout import is_chunk_name, scene_chunk, scene_rel
from legodata.store.store import Store

# one id of each source's style: render scenes, robot-log episodes, assembly models, Label Studio groups
IDS = ["000000", "000999", "001000", "1234567", "ep00017", "ep00018", "m0_castle", "photos", "Set 10696"]


def test_numeric_ids_chunk_by_thousands_and_other_ids_by_a_stable_hash():
    assert [scene_chunk(i) for i in ("000000", "000999", "001000", "042123", "1234567")] == [
        "000", "000", "001", "042", "1234",
    ]  # fmt: skip
    assert (
        scene_chunk("ep00017") == "hce9"
    )  # pinned (sha1sum of "ep00017"): changing the rule would orphan scenes of existing stores
    buckets = {scene_chunk(f"ep{i:05d}") for i in range(5000)}
    assert all(is_chunk_name(b) and b.startswith("h") and len(b) == 4 for b in buckets)
    assert len(buckets) > 2000  # 5,000 episodes spread over the 4,096 buckets, not piled into a few
    assert scene_rel("000123") == "scenes/000/000123" and scene_rel("000123", "flat") == "scenes/000123"
    assert not is_chunk_name("000123x") and not is_chunk_name("hxyz")


def test_round_trip_across_id_styles(store):
    shuffled = random.Random(0).sample(IDS, len(IDS))
    written = {sid: commit(store, sid, views=2) for sid in shuffled}
    assert store.scene_ids() == sorted(IDS)
    for sid in IDS:
        d = store.scene_dir(sid)
        assert store.is_scene_done(sid) and d.parent.name == scene_chunk(sid) and d.parent.parent.name == "scenes"
    assert sorted((store.root / "scenes").iterdir()) == sorted({store.scene_dir(s).parent for s in IDS})
    got = list(store.iter_records())
    assert got == [r for sid in sorted(IDS) for r in written[sid]]  # scene order, every field back
    assert all((store.root / r.image_path).read_bytes().startswith(b"png") for r in got)
    reopened = Store(store.root)
    assert reopened.layout == "chunked-1000" and reopened.scene_ids() == sorted(IDS)
    assert [r.record_id for r in reopened.iter_index()] == [r.record_id for sid in shuffled for r in written[sid]]
    assert list(reopened.index_scene_ids()) == shuffled
    assert json.loads(reopened.manifest_path.read_text())["store_layout"] == "chunked-1000"


def test_specs_are_chunked_too(store):
    assert store.spec_path("001234") == store.root / "specs" / "001" / "001234.json"


def test_record_paths_outside_the_scene_folder_are_refused(store):
    bad = replace(store_record(store, "000002"), image_path="scenes/000002/rgb/0000.png")  # the flat layout's path
    with pytest.raises(LegodataError, match=r"image_path 'scenes/000002/rgb/0000.png' is not in its scene's folder"):
        store.commit_scene(store.new_tmp_dir("000002"), "000002", [bad])
    assert not store.is_scene_done("000002")


def test_a_scene_in_the_wrong_chunk_is_named(store):
    commit(store, "000001")
    wrong = store.root / "scenes" / "005"
    wrong.mkdir()
    store.scene_dir("000001").rename(wrong / "000001")
    with pytest.raises(LegodataError, match=r"scene 000001 belongs in scenes/000/"):
        store.scene_ids()


def test_threads_of_one_process_commit_each_scene_to_the_index_once(store):
    ids = [f"{i:06d}" for i in range(0, 3000, 7)] + [f"ep{i:05d}" for i in range(150)]
    errors = []

    def work(mine):
        try:
            for sid in mine:
                commit(store, sid, views=3)
        except Exception as exc:  # noqa: BLE001 - collected for the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids[k::6],)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    toc = list(store.index.iter_toc())
    assert sorted(e["scene"] for e in toc) == sorted(ids)
    assert [e["start"] for e in toc] == [0] + [e["end"] for e in toc[:-1]]  # blocks follow each other exactly
    assert toc[-1]["end"] == (store.root / "records.jsonl").stat().st_size
    index = [r.record_id for r in store.iter_index()]
    assert len(index) == len(set(index)) == 3 * len(ids)
    assert store.index.pending() == [] and store.sync_index().appended == 0


def test_append_index_equals_rebuild_index(store, tmp_path):
    ids = random.Random(1).sample(IDS, len(IDS))
    for sid in ids:
        commit(store, sid, views=3)
    appended = (store.root / "records.jsonl").read_text().splitlines()
    assert store.rebuild_index() == 3 * len(IDS)
    rebuilt = (store.root / "records.jsonl").read_text().splitlines()
    assert sorted(appended) == sorted(rebuilt) and appended != rebuilt  # same lines, rebuilt in scene order
    assert [r.record_id for r in store.iter_index()] == [r.record_id for r in store.iter_records()]
    in_order = Store(tmp_path / "in_order")
    in_order.create_or_check(MANIFEST)
    for sid in sorted(IDS):  # committed in scene order: the appended index is the rebuilt one, byte for byte
        commit(in_order, sid, views=3)
    for name in ("records.jsonl", "records.toc.jsonl"):
        assert (in_order.root / name).read_bytes() == (store.root / name).read_bytes()


def test_the_resume_lookup_needs_no_index(store):
    commit(store, "000004", index=False)
    assert store.is_scene_done("000004") and not store.index.contains("000004")
    assert not store.is_scene_done("000005")
