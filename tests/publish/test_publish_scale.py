"""Shards of a target size (``--shard-size``): rows per shard follow from the measured bytes of the rows, the names
are what ``datasets`` and the card's globs expect, and the data read back is the same as from one shard."""

import pyarrow.parquet as pq
import pytest
from support.publish_stores import build_store

from legodata.errors import LegodataError
from legodata.publish import publish
from legodata.publish.config import PublishConfig, parse_size

datasets = pytest.importorskip("datasets")

TARGET = 200_000


def _rows(out, config, tmp_path):
    """Every split of ``config`` as plain rows, images as their stored bytes."""
    dsd = datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "hf-cache"))
    rows = {}
    for split, ds in dsd.items():
        for col in ("image", "mask", "depth"):
            if col in ds.column_names:
                ds = ds.cast_column(col, datasets.Image(decode=False))
        rows[split] = ds.to_list()
    return rows


def test_shards_are_cut_at_the_target_size_and_read_back_exactly(tmp_path):
    store = build_store(tmp_path / "store", scenes=24, size=(96, 72))
    one = publish([store.root], tmp_path / "one", split="1,0,0", crop_size=64)
    sharded = publish([store.root], tmp_path / "sharded", split="1,0,0", crop_size=64, shard_size="200kB")
    assert one.shards == 2 and sharded.shards > 4
    rows_per_shard = {}
    for config in ("scenes", "parts"):
        files = sorted((sharded.out / "data" / config).glob("*.parquet"))
        count = len(files)
        assert [f.name for f in files] == [f"train-{i:05d}-of-{count:05d}.parquet" for i in range(count)]
        sizes = [f.stat().st_size for f in files]
        # every shard within 20 % of the target (the first one's footer is not yet measured), the last one smaller
        assert all(0.8 * TARGET <= s <= 1.2 * TARGET for s in sizes[:-1]), sizes
        assert sizes[-1] <= 1.2 * TARGET, sizes
        rows_per_shard[config] = [pq.ParquetFile(f).metadata.num_rows for f in files]
        assert sum(rows_per_shard[config]) == sharded.rows[config]["train"]
        assert _rows(sharded.out, config, tmp_path) == _rows(one.out, config, tmp_path)
    # a 64 px crop row is smaller than a 96x72 scene row with its mask: more of them fit a shard
    assert rows_per_shard["parts"][1] > rows_per_shard["scenes"][1]
    assert "data/scenes/train-*.parquet" in (sharded.out / "README.md").read_text()


def test_a_row_cap_still_cuts_shards(tmp_path):
    store = build_store(tmp_path / "store", scenes=3)
    summary = publish([store.root], tmp_path / "out", split="1,0,0", shard_rows=4)
    counts = [pq.ParquetFile(f).metadata.num_rows for f in sorted((summary.out / "data" / "scenes").glob("*"))]
    assert counts == [4, 2]


@pytest.mark.parametrize(
    "text,expected",
    [("500MB", 500_000_000), ("2GB", 2_000_000_000), ("64MiB", 64 << 20), ("1.5 kB", 1500), (4096, 4096)],
)
def test_shard_sizes_read_as_datasets_reads_them(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "value,message",
    [
        ("lots", "--shard-size 'lots': expected a size such as 500MB, 2GB or 64MiB"),
        ("5XB", "--shard-size '5XB': expected a size such as 500MB, 2GB or 64MiB"),
        ("100", "--shard-size '100': must be at least 1kB"),
    ],
)
def test_a_bad_shard_size_names_the_flag(value, message):
    with pytest.raises(LegodataError) as err:
        PublishConfig(shard_size=value).validate()
    assert str(err.value) == message


def test_the_default_shard_size_is_the_hubs():
    assert PublishConfig().shard_bytes == 500 * 10**6
