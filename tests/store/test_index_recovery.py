"""The appended record index after a killed run: repaired on the next open, never losing or doubling a scene."""

import itertools
import json
import pathlib
import tracemalloc

import pytest
from support.store_records import MANIFEST, commit, store_record

from legodata.core.atomic import replace_dir
from legodata.errors import LegodataError
from legodata.store.store import Store


def index_ids(store):
    return [r.record_id for r in store.iter_index()]


def reopen(store):
    """A new run opening the store, as the jobs do."""
    again = Store(store.root)
    assert again.create_or_check(MANIFEST) is False
    return again


def test_killed_between_rename_and_append_is_appended_once_on_the_next_open(store):
    commit(store, "000000")
    recs = [store_record(store, "000001", v) for v in range(2)]
    tmp = store.new_tmp_dir("000001")  # commit_scene's pieces, stopping where a kill would:
    (tmp / "records.jsonl").write_text("".join(r.to_json() + "\n" for r in recs))
    store.index.mark_pending("000001")
    target = store.scene_dir("000001")
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(tmp, target)  # renamed into place, never appended
    assert store.is_scene_done("000001") and index_ids(store) == ["000000_0000", "000000_0001"]
    again = reopen(store)
    assert index_ids(again) == ["000000_0000", "000000_0001", "000001_0000", "000001_0001"]
    assert again.index.pending() == []
    assert reopen(again).sync_index().appended == 0 and len(index_ids(again)) == 4  # a third open adds nothing


def test_killed_after_the_append_but_before_the_marker_went_is_not_doubled(store):
    commit(store, "000000")
    store.index.mark_pending("000000")  # as if the kill came between the table line and the marker's removal
    again = reopen(store)
    assert index_ids(again) == ["000000_0000", "000000_0001"] and again.index.pending() == []


def test_a_driver_appending_twice_adds_the_scene_once(store):
    recs = commit(store, "ep00001", index=False)  # committed by a task on another node
    assert store.index.pending() == ["ep00001"] and index_ids(store) == []
    assert store.append_index("ep00001", recs) is True
    assert store.append_index("ep00001", recs) is False  # a retried task reporting again
    assert index_ids(store) == ["ep00001_0000", "ep00001_0001"] and store.index.pending() == []


def test_killed_mid_block_cuts_the_torn_records_and_appends_the_scene_again(store):
    commit(store, "000000")
    recs = commit(store, "000001", index=False)
    with open(store.root / "records.jsonl", "a") as fh:  # half a block written, no table line yet
        fh.write(recs[0].to_json() + "\n" + recs[1].to_json()[:40])
    assert index_ids(store) == ["000000_0000", "000000_0001"]  # readers stop at the last whole block
    again = reopen(store)
    assert index_ids(again) == ["000000_0000", "000000_0001", "000001_0000", "000001_0001"]
    assert (again.root / "records.jsonl").read_text().endswith("\n")


def test_a_torn_last_table_line_is_cut_and_its_scene_appended_once(store):
    commit(store, "000000")
    commit(store, "000001")
    toc = store.root / "records.toc.jsonl"
    text = toc.read_text()
    toc.write_text(text[: len(text) - 10])  # the last table line lost its end; its records are whole
    assert index_ids(store) == ["000000_0000", "000000_0001"]
    assert list(store.index_scene_ids()) == ["000000"]
    again = reopen(store)
    assert index_ids(again) == ["000000_0000", "000000_0001", "000001_0000", "000001_0001"]
    assert [json.loads(line)["scene"] for line in toc.read_text().splitlines()] == ["000000", "000001"]


def test_a_torn_last_record_line_without_a_table_line(store):
    commit(store, "000000")
    with open(store.root / "records.jsonl", "a") as fh:
        fh.write('{"record_id": "000009_00')
    size = (store.root / "records.jsonl").stat().st_size
    assert index_ids(store) == ["000000_0000", "000000_0001"]
    assert (store.root / "records.jsonl").stat().st_size == size  # reading repairs nothing
    reopen(store)
    assert (store.root / "records.jsonl").read_text() == "".join(r.to_json() + "\n" for r in store.iter_records())


def test_a_replaced_scene_marks_the_index_dirty_until_it_is_rebuilt(store):
    commit(store, "photos", views=2)
    commit(store, "000001")
    commit(store, "photos", views=3)  # an annotate pull re-commits an edited group
    with pytest.raises(LegodataError, match=r"records.jsonl is out of date .*sync_index"):
        index_ids(store)
    assert store.sync_index().rebuilt
    assert index_ids(store) == ["000001_0000", "000001_0001", "photos_0000", "photos_0001", "photos_0002"]
    assert not store.index.is_dirty()


def test_an_index_listing_a_scene_twice_or_shorter_than_its_table_is_rebuilt(store):
    commit(store, "000000")
    commit(store, "000001")
    toc = store.root / "records.toc.jsonl"
    first = toc.read_text().splitlines()[0]
    with open(toc, "a") as fh:
        fh.write(first + "\n")
    assert store.sync_index().rebuilt and len(index_ids(store)) == 4
    with open(store.root / "records.jsonl", "r+") as fh:
        fh.truncate(100)  # records lost under the table (a disk that dropped writes)
    assert Store(store.root).sync_index().rebuilt and len(index_ids(store)) == 4


def _walk_memory(items, every=2000):
    """Bytes held after each ``every`` items while ``items`` is consumed, and the item count. Not counted:
    pathlib's ``sys.intern`` of path parts (Record.from_json checks paths), whose process-wide table is reallocated
    whole now and then and would show up as a one-off jump unrelated to the store."""
    tracemalloc.start()
    skip = [tracemalloc.Filter(False, pathlib.__file__)]
    samples, count = [], 0
    for count, _ in enumerate(items, 1):
        if count % every == 0:
            stats = tracemalloc.take_snapshot().filter_traces(skip).statistics("filename")
            samples.append(sum(st.size for st in stats))
    tracemalloc.stop()
    return samples, count


def test_iterating_the_index_keeps_memory_flat(store):
    n_scenes, views = 1000, 20  # 20,000 records, ~1 kB each, all in chunk 000
    block = "".join(store_record(store, "000000", v, parts=3).to_json() + "\n" for v in range(views))
    for s in range(n_scenes):
        sid = f"{s:06d}"
        store.index.mark_pending(sid)  # as commit_scene does; the scene's lines are the template's, renamed
        assert store.index.append(sid, block.replace("000000", sid), views)
    assert (store.root / "records.jsonl").stat().st_size > 15_000_000
    held, count = _walk_memory(store.iter_index())
    assert count == n_scenes * views and len(held) == 10
    assert max(held) < 200_000 and held[-1] - held[0] < 50_000, held  # nothing accumulates past record 2,000
    held_ids, n_ids = _walk_memory(store.index_scene_ids(), every=200)
    assert n_ids == n_scenes and max(held_ids) < 100_000
    tracemalloc.start()
    records = list(itertools.islice(store.iter_index(), 2000))  # the bound can fail: holding records costs more
    some = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(records) == 2000 and some > 5 * max(held), (some, held)
