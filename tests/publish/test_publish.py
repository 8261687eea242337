import json
import logging
import subprocess
import sys
from dataclasses import replace

import cv2
import numpy as np
import pytest
from support.publish_stores import build_store, instances_from_mask, make_manifest, write_scene

from legodata.core.records import Record
from legodata.errors import LegodataError
from legodata.geometry.crops import nearest_indices
from legodata.publish import publish, split_of
from legodata.publish import writer as writer_mod
from legodata.publish.features import parts_features, scenes_features
from legodata.store.store import Store

datasets = pytest.importorskip("datasets")

SPLIT = "0.5,0.25,0.25"


def load(out, config, tmp_path):
    return datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "hf-cache"))


def source_records(store):
    return {r.record_id: r for r in store.iter_records()}


@pytest.fixture
def published(tmp_path):
    store = build_store(tmp_path / "store", scenes=12)
    summary = publish([store.root], tmp_path / "out", split=SPLIT, seed=3, shard_rows=7)
    return store, summary


def test_load_dataset_returns_declared_features_and_counts(published, tmp_path):
    store, summary = published
    names = ["3001", "3003", "3039"]
    assert summary.records == 24 and summary.instances == 72
    expected = {"scenes": scenes_features(names), "parts": parts_features(names)}
    for config in ("scenes", "parts"):
        ds = load(summary.out, config, tmp_path)
        present = {s: n for s, n in summary.rows[config].items() if n}
        assert len(present) == 3  # the fixture's seed puts groups in every split
        assert {s: ds[s].num_rows for s in ds} == present
        for split in ds:
            assert ds[split].features == expected[config]
    for config in ("scenes", "parts"):
        files = sorted((summary.out / "data" / config).glob("*.parquet"))
        for split, n in summary.rows[config].items():
            mine = [f.name for f in files if f.name.startswith(split + "-")]
            count = -(-n // 7)
            assert mine == [f"{split}-{i:05d}-of-{count:05d}.parquet" for i in range(count)]
    readme = (summary.out / "README.md").read_text()
    assert "![preview](preview.png)" in readme and (summary.out / "preview.png").is_file()
    assert cv2.imread(str(summary.out / "preview.png")) is not None
    assert "license: cc-by-4.0" in readme and "@misc{" in readme
    assert "**quaternion**: unit, scalar first" in readme  # conventions copied from the manifest
    info = json.loads((summary.out / "publish.json").read_text())
    assert info["fingerprint"] == summary.fingerprint and info["rows"] == summary.rows


def test_scenes_round_trip_pixel_exact(published, tmp_path):
    store, summary = published
    recs = source_records(store)
    ds = load(summary.out, "scenes", tmp_path)
    seen = 0
    for split in ds:
        for row in ds[split]:
            rec = recs[row["record_id"]]
            rgb = cv2.cvtColor(cv2.imread(str(store.root / rec.image_path)), cv2.COLOR_BGR2RGB)
            mask = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED)
            got_mask = np.array(row["mask"])
            assert np.array_equal(np.array(row["image"].convert("RGB")), rgb)
            assert got_mask.dtype == np.uint16 and np.array_equal(got_mask, mask)
            assert row["group_id"] == rec.group_id and row["K"] == [list(r) for r in rec.K]
            assert [i["instance_id"] for i in row["instances"]] == [i.instance_id for i in rec.instances]
            names = ds[split].features["instances"].feature["part_id"].names
            assert [names[i["part_id"]] for i in row["instances"]] == [i.part_id for i in rec.instances]
            assert [i["quat_m2c_wxyz"] for i in row["instances"]] == [list(i.quat_m2c_wxyz) for i in rec.instances]
            seen += 1
    assert seen == len(recs)


def test_parts_crops_match_the_source_pixel_exact(published, tmp_path):
    store, summary = published
    recs = source_records(store)
    ds = load(summary.out, "parts", tmp_path)
    n = 0
    for split in ds:
        names = ds[split].features["part_id"].names
        for row in ds[split]:
            rec = recs[row["record_id"]]
            inst = next(i for i in rec.instances if i.instance_id == row["instance_id"])
            assert inst.px_count_visib >= 50 and names[row["part_id"]] == inst.part_id
            x0, y0, size = row["crop_x"], row["crop_y"], row["crop_size"]
            bx, by, bw, bh = inst.bbox_visib  # the square holds the visible box
            assert x0 <= bx and y0 <= by and bx + bw <= x0 + size and by + bh <= y0 + size
            source = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED) == inst.instance_id
            padded = np.zeros((rec.height + 2 * size, rec.width + 2 * size), bool)
            padded[size : size + rec.height, size : size + rec.width] = source
            window = padded[y0 + size : y0 + 2 * size, x0 + size : x0 + 2 * size]
            idx = nearest_indices(size, 128)
            expected = window[np.ix_(idx, idx)].astype(np.uint8) * 255
            got = np.array(row["mask"])
            assert got.shape == (128, 128) and row["mask"].mode == "L"
            assert np.array_equal(got, expected)
            assert np.array(row["image"]).shape == (128, 128, 3)
            sym = np.asarray(row["symmetry_rotations"])
            assert np.allclose(sym[0], np.eye(3))
            n += 1
    assert n == summary.part_rows > 0


def test_crops_exact_at_native_size_padded_at_the_border_and_occluded_parts_skipped(tmp_path):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.uint16)
    mask[5:15, 10:20] = 1  # 10 x 10, inside: crop side 10 == --crop-size, no resizing
    mask[40:48, 0:6] = 2  # 6 x 8 at the corner: the square leaves the image (zero padding) and is enlarged
    instances = instances_from_mask(rng, mask)
    hidden = replace(instances[0], instance_id=3, bbox_visib=(-1, -1, -1, -1), px_count_visib=0, visib_fract=0.0)
    store = Store(tmp_path / "store")
    store.create_or_check(make_manifest())
    write_scene(store, "000000", [(image, mask, (*instances, hidden))])
    summary = publish([store.root], tmp_path / "out", crop_size=10, crop_margin=0.0, min_px=1, split="1,0,0")
    scenes = load(summary.out, "scenes", tmp_path)["train"]
    assert [i["instance_id"] for i in scenes[0]["instances"]] == [1, 2, 3]  # the hidden one stays in scenes
    rows = {row["instance_id"]: row for row in load(summary.out, "parts", tmp_path)["train"]}
    assert sorted(rows) == [1, 2]
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    one = rows[1]
    assert (one["crop_x"], one["crop_y"], one["crop_size"]) == (10, 5, 10)
    assert np.array_equal(np.array(one["image"]), rgb[5:15, 10:20])
    assert np.array_equal(np.array(one["mask"]), np.full((10, 10), 255, np.uint8))
    two = rows[2]
    assert (two["crop_x"], two["crop_y"], two["crop_size"]) == (-1, 40, 8)
    window = np.zeros((8, 8), np.uint8)
    window[:, 1:7] = 255  # columns x = -1 (outside the image) and x = 6 are not the part
    idx = nearest_indices(8, 10)
    assert np.array_equal(np.array(two["mask"]), window[np.ix_(idx, idx)])
    assert np.all(np.array(two["image"])[:, 0] == 0)  # first output column samples the padding only
    # K_crop maps a point the way K then the crop and resize do (pixel centres at integer coordinates)
    K, Kc = np.asarray(two["K"]), np.asarray(two["K_crop"])
    p = np.array([0.01, -0.02, 0.4])
    u, v = (K @ p)[:2] / p[2]
    uc, vc = (Kc @ p)[:2] / p[2]
    s = 10 / 8
    assert np.allclose([uc, vc], [(u + 1 + 0.5) * s - 0.5, (v - 40 + 0.5) * s - 0.5])


def test_splits_are_group_disjoint_deterministic_and_stable(tmp_path):
    small = build_store(tmp_path / "small", scenes=10)
    big = build_store(tmp_path / "big", scenes=30)  # same seed: its first 10 scenes are the small store's
    a = publish([small.root], tmp_path / "a", split=SPLIT, seed=5, pretty_name="tiny")
    b = publish([small.root], tmp_path / "b", split=SPLIT, seed=5, pretty_name="tiny")
    c = publish([big.root], tmp_path / "c", split=SPLIT, seed=5)
    d = publish([small.root], tmp_path / "d", split=SPLIT, seed=6)
    assert a.fingerprint == b.fingerprint  # same inputs, same bytes

    def groups(summary, config):
        ds = load(summary.out, config, tmp_path)
        return {s: set(ds[s]["group_id"]) for s in ds}

    ga, gc, gd = groups(a, "scenes"), groups(c, "scenes"), groups(d, "scenes")
    for g in (ga, gc, gd, groups(a, "parts")):
        splits = list(g.values())
        assert all(not (x & y) for i, x in enumerate(splits) for y in splits[i + 1 :])
    for split, ids in ga.items():
        assert ids <= gc[split]  # adding groups moves no old group
        assert all(split_of(5, gid, (0.5, 0.25, 0.25)) == split for gid in ids)
    assert ga != gd  # another seed, another split
    assert sum(len(v) for v in gc.values()) == 30


def _rewrite_record(store, record_id, mutate):
    scene = record_id.split("_")[0]
    path = store.scene_dir(scene) / "records.jsonl"
    lines = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        if d["record_id"] == record_id:
            mutate(d, store)
        lines.append(json.dumps(d))
    path.write_text("\n".join(lines) + "\n")


def _set_quat(d, store):
    d["instances"][1]["quat_m2c_wxyz"] = [0.9, 0.1, 0.0, 0.0]


def _set_part(d, store):
    d["instances"][0]["part_id"] = "9999"


def _drop_mask(d, store):
    (store.root / d["mask_path"]).unlink()


def _small_mask(d, store):
    cv2.imwrite(str(store.root / d["mask_path"]), np.zeros((10, 10), np.uint16))


def _corrupt_image(d, store):
    (store.root / d["image_path"]).write_bytes(b"not a png")


def _missing_instance(d, store):
    del d["instances"][2]  # its pixels stay in the mask


def _wrong_count(d, store):
    d["instances"][0]["px_count_visib"] += 5


def _no_mask(d, store):
    d["mask_path"] = None


def _small_depth(d, store):
    cv2.imwrite(str(store.root / "small_depth.png"), np.ones((10, 10), np.uint16))
    d["depth_path"] = "small_depth.png"


@pytest.mark.parametrize(
    "mutate,field",
    [
        (_set_quat, "instances[1].quat_m2c_wxyz"),
        (_set_part, "instances[0].part_id"),
        (_drop_mask, "mask_path"),
        (_small_mask, "mask_path"),
        (_corrupt_image, "image_path"),
        (_missing_instance, "mask_path"),
        (_wrong_count, "instances[0].px_count_visib"),
        (_no_mask, "mask_path"),
        (_small_depth, "depth_path"),
    ],
)
def test_bad_records_fail_validation_naming_store_record_and_field(tmp_path, mutate, field):
    store = build_store(tmp_path / "store", scenes=3)
    _rewrite_record(store, "000001_0001", mutate)
    with pytest.raises(LegodataError) as err:
        publish([store.root], tmp_path / "out")
    msg = str(err.value)
    assert f"store {store.root}" in msg and "record 000001_0001" in msg and f"field {field}:" in msg, msg
    assert "\n" not in msg
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["store"]  # no temporary folder left


def test_interrupted_publish_leaves_the_previous_version_intact(tmp_path, monkeypatch):
    store = build_store(tmp_path / "store", scenes=8)
    out = tmp_path / "out"
    first = publish([store.root], out, shard_rows=4)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    real_open = writer_mod.ShardWriter._open_shard
    opened = []

    def open_then_fail(self):
        if opened:
            raise OSError("disk full (simulated)")
        opened.append(1)
        real_open(self)

    monkeypatch.setattr(writer_mod.ShardWriter, "_open_shard", open_then_fail)
    with pytest.raises(OSError, match="simulated"):
        publish([store.root], out, shard_rows=4, seed=1)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "store"]
    monkeypatch.undo()
    second = publish([store.root], out, shard_rows=4, seed=1)  # a complete publish replaces it
    assert json.loads((out / "publish.json").read_text())["options"]["seed"] == 1
    assert second.fingerprint != first.fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "store"]


def test_refuses_to_replace_a_folder_that_is_not_a_publish(tmp_path):
    store = build_store(tmp_path / "store", scenes=1)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(LegodataError, match="not a published dataset"):
        publish([store.root], tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_several_stores_merge_catalogues_and_prefix_ids(tmp_path):
    a = build_store(tmp_path / "a", scenes=3, parts=("3001", "3003"))
    b = build_store(tmp_path / "b", scenes=3, parts=("3003", "3039"), seed=1)
    summary = publish([a.root, b.root], tmp_path / "out", split="1,0,0")
    ds = load(summary.out, "scenes", tmp_path)["train"]
    assert ds.features["instances"].feature["part_id"].names == ["3001", "3003", "3039"]
    ids = ds["record_id"]
    assert len(ids) == len(set(ids)) == 12
    assert {i.split("/")[0] for i in ids} == {"a", "b"} and all(g.count("/") == 1 for g in ds["group_id"])
    assert "| `a` | render | 6 |" in (summary.out / "README.md").read_text()


def test_round_part_rows_carry_its_continuous_axis_sampled_every_10_degrees(tmp_path):
    store = build_store(tmp_path / "store", scenes=3, parts=("3003", "3039"))
    manifest = json.loads((store.root / "manifest.json").read_text())
    manifest["catalogue"]["3003"]["symmetry"]["continuous_axes"] = [{"axis": [0.0, -1.0, 0.0], "point_m": [0, 0, 0]}]
    (store.root / "manifest.json").write_text(json.dumps(manifest))  # as if 3003 were round about -Y
    summary = publish([store.root], tmp_path / "out", split="1,0,0")
    ds = load(summary.out, "parts", tmp_path)["train"]
    names = ds.features["part_id"].names
    sizes = {names[row["part_id"]]: len(row["symmetry_rotations"]) for row in ds}
    assert sizes == {"3003": 36, "3039": 1}  # its quarter turns about Y are among the 36 samples
    for row in ds:
        group = np.asarray(row["symmetry_rotations"])
        np.testing.assert_allclose(group[0], np.eye(3), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(group), 1.0, atol=1e-9)
    assert "| `3003` | Brick 2 x 2 | 4 + round about (0, -1, 0) |" in (summary.out / "README.md").read_text()


def test_option_errors_are_one_line(tmp_path):
    store = build_store(tmp_path / "store", scenes=1)
    for kwargs, needle in [
        ({"split": "0.8,0.3,0.1"}, "sum to 1"),
        ({"split": "a,b"}, "three numbers"),
        ({"crop_size": 2}, "--crop-size"),
        ({"push": True}, "--push needs --repo-id"),
        ({"repo_id": "no-slash"}, "USER/NAME"),
    ]:
        with pytest.raises(LegodataError, match=needle):
            publish([store.root], tmp_path / "out", **kwargs)
    with pytest.raises(LegodataError, match="not a legodata dataset"):
        publish([tmp_path / "nowhere"], tmp_path / "out")


def test_record_schema_is_what_the_publisher_reads(tmp_path):
    store = build_store(tmp_path / "store", scenes=1, views=1)
    rec = next(store.iter_records())
    assert Record.from_json(rec.to_json()) == rec


def test_import_legodata_does_not_import_publish_dependencies():
    code = (
        "import sys, legodata, legodata.cli, legodata.publish;"
        "heavy = [m for m in ('datasets', 'huggingface_hub', 'PIL', 'pyarrow') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_cli_publish(tmp_path):
    store = build_store(tmp_path / "store", scenes=2)
    cmd = [sys.executable, "-m", "legodata.cli", "publish", str(store.root), "--out", str(tmp_path / "out"), "-q"]
    result = subprocess.run(cmd + ["--split", "1,0,0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "4 images" in result.stdout and (tmp_path / "out" / "README.md").is_file()
    bad = subprocess.run(cmd + ["--split", "0.5,0.5"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("legodata: error: --split") and "Traceback" not in bad.stderr


def test_depth_is_published_byte_for_byte_and_none_without_depth(tmp_path):
    store = build_store(tmp_path / "store", scenes=2, views=2)
    with_depth = {"000000_0001": None, "000001_0000": None}
    rng = np.random.default_rng(4)
    for record_id in with_depth:
        depth = rng.integers(1, 65535, size=(48, 64), dtype=np.uint16)
        depth[0, :3] = (0, 1, 65535)  # no depth, the smallest and the largest value
        depth[5, 7] = 4321  # 0.4321 m
        rel = f"depth_{record_id}.png"
        cv2.imwrite(str(store.root / rel), depth)
        with_depth[record_id] = depth

        def add_depth(d, store, rel=rel):
            d["depth_path"], d["depth_scale_m"] = rel, 1e-4

        _rewrite_record(store, record_id, add_depth)
    summary = publish([store.root], tmp_path / "out", split="1,0,0")
    ds = load(summary.out, "scenes", tmp_path)["train"]
    assert ds.features["depth"] == datasets.Image()
    rows = {row["record_id"]: row for row in ds}
    assert len(rows) == 4
    for record_id, row in rows.items():
        if record_id not in with_depth:
            assert row["depth"] is None
            continue
        got = np.array(row["depth"])
        assert got.dtype == np.uint16 and np.array_equal(got, with_depth[record_id])
        assert got[5, 7] * row["depth_scale_m"] == pytest.approx(0.4321)
    raw = {r["record_id"]: r["depth"] for r in ds.cast_column("depth", datasets.Image(decode=False))}
    for record_id in with_depth:
        assert raw[record_id]["bytes"] == (store.root / f"depth_{record_id}.png").read_bytes()
    assert "2 of 4 images have depth" in (summary.out / "README.md").read_text()


def _split_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "legodata.publish.api" and r.levelname == "WARNING"]


def test_an_empty_split_is_warned_about_with_a_seed_that_fills_it(tmp_path, caplog):
    import re

    store = build_store(tmp_path / "store", scenes=6)
    caplog.set_level(logging.WARNING, logger="legodata")
    summary = publish([store.root], tmp_path / "out")  # the default 0.8,0.1,0.1, seed 0: all 6 scenes in train
    assert summary.rows["scenes"] == {"train": 12, "validation": 0, "test": 0}
    (message,) = _split_warnings(caplog)
    assert "\n" not in message
    assert message.startswith("validation and test got none of the 6 groups (--split 0.8,0.1,0.1 --seed 0)")
    seed = int(re.search(r"--seed (\d+) puts a group in every split", message).group(1))
    caplog.clear()
    filled = publish([store.root], tmp_path / "out", seed=seed)
    assert all(filled.rows["scenes"].values()) and _split_warnings(caplog) == []
    publish([store.root], tmp_path / "out", split="1,0,0")  # an empty split asked for is no surprise
    assert _split_warnings(caplog) == []


def test_too_few_groups_for_the_splits_are_named(tmp_path, caplog):
    store = build_store(tmp_path / "store", scenes=2)
    caplog.set_level(logging.WARNING, logger="legodata")
    publish([store.root], tmp_path / "out", split="0.4,0.3,0.3")
    (message,) = _split_warnings(caplog)
    assert "3 splits need at least 3 groups" in message and "of the 2 groups" in message


def test_cli_publish_warns_on_stderr_also_when_quiet(tmp_path):
    store = build_store(tmp_path / "store", scenes=6)
    cmd = [sys.executable, "-m", "legodata.cli", "publish", str(store.root), "--out", str(tmp_path / "out"), "-q"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: validation and test got none of the 6 groups")
