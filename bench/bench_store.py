"""Record index of a store at 10k, 100k and 1M synthetic records: append, read, look-up time and memory.

    .venv/bin/python bench/bench_store.py                        # 10,000 / 100,000 / 1,000,000 records
    .venv/bin/python bench/bench_store.py --sizes 10000,100000   # smaller

Records are real ``Record`` objects shaped like a render's (3 instances, the view's pose in ``meta``; 2.4 kB of
JSON), 10 views a scene, serialised once per scene as ``commit_scene`` does. Each size runs in its own process (peak
RSS is per process). Per size:

- append: ``commit_scene``'s index step per scene (pending marker, block + table line, marker removed); the cost
  of the first and the last 1,000 scenes (a tenth below 10,000) shows whether an append slows down as the index grows;
- read: ``Store.iter_index()`` parsing every record, with the process's RSS sampled 20 times while iterating
  (growth over the RSS before the loop: flat means the index is never held in memory);
- table: one pass over the scene ids (what ``sync_index`` reads) and ``index.contains`` of the last scene;
- baseline (the old way, sizes up to 100k): ``rebuild_index()`` from scenes/, which the jobs ran after every run.

Prints a table and writes bench/results/store.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VIEWS = 10
REBUILD_MAX = 100_000


def template_block(store, views: int) -> str:
    """One scene's record lines with the placeholders SCENEID and CHUNK (real Records, serialised)."""
    import numpy as np

    from legodata.core.records import Instance, Record

    rng = np.random.default_rng(0)

    def mat():
        return tuple(tuple(float(x) for x in row) for row in rng.normal(size=(3, 3)))

    lines = []
    for v in range(views):
        rel = "scenes/CHUNK/SCENEID"
        inst = tuple(
            Instance(k, "3001", 4, mat(), tuple(rng.normal(size=3).tolist()), tuple(rng.normal(size=4).tolist()),
                     (10, 12, 30, 28), (11, 12, 25, 28), 812, 640, 640 / 812)
            for k in (1, 2, 3)
        )  # fmt: skip
        meta = {"scene_id": "SCENEID", "view_id": v, "orientation": "uniform", "preset": "default", "seed": 7,
                "R_w2c": [list(r) for r in mat()], "t_w2c": rng.normal(size=3).tolist()}  # fmt: skip
        rec = Record(f"SCENEID_{v:04d}", "render", "SCENEID", f"{rel}/rgb/{v:04d}.png", 256, 256, mat(), inst,
                     mask_path=f"{rel}/mask/{v:04d}.png", depth_path=f"{rel}/depth/{v:04d}.png",
                     depth_scale_m=1e-4, meta=meta)  # fmt: skip
        lines.append(rec.to_json() + "\n")
    return "".join(lines)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def one_size(n_records: int, root: Path) -> dict:
    """Every measurement for one size, in this process."""
    from legodata.store.layout import scene_chunk
    from legodata.store.store import Store

    store = Store(root)
    store.create_or_check({"schema_version": 1, "settings": {"seed": 7}})
    block = template_block(store, VIEWS)
    scenes = n_records // VIEWS
    ids = [f"{i:06d}" for i in range(scenes)]
    texts = lambda sid: block.replace("SCENEID", sid).replace("CHUNK", scene_chunk(sid))  # noqa: E731
    out: dict = {"records": n_records, "scenes": scenes, "bytes_per_record": len(block) // VIEWS}
    window = min(1000, scenes // 10)  # scenes timed at the start and at the end of the append
    marks, t0 = [], time.perf_counter()
    for i, sid in enumerate(ids):
        if i in (0, window, scenes - window):
            marks.append(time.perf_counter())
        store.index.mark_pending(sid)
        store.index.append(sid, texts(sid), VIEWS)
    marks.append(time.perf_counter())
    out["append_s"] = marks[-1] - t0
    out["append_first_us"] = (marks[1] - marks[0]) / window * 1e6
    out["append_last_us"] = (marks[-1] - marks[-2]) / window * 1e6
    out["index_mb"] = (root / "records.jsonl").stat().st_size / 2**20

    base, peak, t0 = rss_mb(), 0.0, time.perf_counter()
    every = max(1, n_records // 20)
    count = 0
    for count, _ in enumerate(store.iter_index(), 1):
        if count % every == 0:
            peak = max(peak, rss_mb())
    out["read_s"] = time.perf_counter() - t0
    out["read_us_per_record"] = out["read_s"] / count * 1e6
    out["read_rss_growth_mb"] = max(0.0, peak - base)
    assert count == n_records, count

    t0 = time.perf_counter()
    n_ids = sum(1 for _ in store.index_scene_ids())
    out["table_pass_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert store.index.contains(ids[-1]) and n_ids == scenes
    out["contains_last_ms"] = (time.perf_counter() - t0) * 1e3

    if n_records <= REBUILD_MAX:  # the old way: the whole index rewritten from scenes/ after every run
        for sid in ids:
            d = store.scene_dir(sid)
            d.mkdir(parents=True)
            (d / "records.jsonl").write_text(texts(sid))
        t0 = time.perf_counter()
        assert store.rebuild_index() == n_records
        out["rebuild_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, Path(args.root))))
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            cmd = [sys.executable, __file__, "--one", str(n), "--root", str(Path(tmp) / "store")]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.splitlines()[-1]))
        rows[-1]["load_avg_1m"] = os.getloadavg()[0]
    head = ("records", "index MB", "append s", "us/scene first", "us/scene last", "read s", "us/rec",
            "RSS growth reading MB", "ids s", "contains ms", "rebuild s (old)", "peak RSS MB", "load")  # fmt: skip
    keys = ("records", "index_mb", "append_s", "append_first_us", "append_last_us", "read_s",
            "read_us_per_record", "read_rss_growth_mb", "table_pass_s", "contains_last_ms", "rebuild_s",
            "peak_rss_mb", "load_avg_1m")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = ["-" if k not in r else _fmt(r[k]) for k in keys]
        print("| " + " | ".join(cells) + " |")
    out = Path(__file__).parent / "results" / "store.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"views_per_scene": VIEWS, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
