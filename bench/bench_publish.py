"""Publishing throughput and peak memory, and whether memory grows with dataset size.

    .venv/bin/python bench/bench_publish.py                        # 2k and 10k instances, 256x256 images
    .venv/bin/python bench/bench_publish.py --instances 2000 10000 50000
    .venv/bin/python bench/bench_publish.py --rows 10000 100000 --stores 2 --size 64 --writer-rows 10000 100000 1000000

Each size runs in its own process (peak RSS is per process): it synthesises ``--stores`` stores whose records
reuse a pool of 32 drawn SIZExSIZE images with uint16 masks (5 instances each, 4 views per group), then times
``legodata.publish.publish`` on them (``--rows`` counts scene + part rows: 6 per image). ``--writer-rows`` times
the write stage alone: arrow-ready scene rows (a 64 px PNG and mask each) fed straight into ``ShardWriter``
(``--shard-size``), for sizes whose stores would take too long to synthesise. Prints a table and writes
bench/results/publish.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POOL = 32
PER_IMAGE = 5
VIEWS = 4
SIZE = 256


def synth_store(root: Path, n_instances: int, size: int = SIZE) -> None:
    import cv2
    import numpy as np

    from legodata.core.records import Instance, Record
    from legodata.core.rotations import matrix_to_quat_wxyz, random_rotations
    from legodata.parts.catalogue import get_part
    from legodata.store.store import Store

    parts = ("3001", "3003", "3039", "3023", "3069b")
    store = Store(root)
    store.create_or_check(
        {
            "schema_version": 1,
            "kind": "legodata-store",
            "source": "render",
            "settings": {"bench": True, "resolution": size},
            "seed": 0,
            "catalogue": {
                p: {"name": get_part(p).info.name, "symmetry": get_part(p).symmetry.to_json()} for p in parts
            },
            "conventions": {"quaternion": "wxyz, w >= 0"},
            "versions": {},
        }
    )
    rng = np.random.default_rng(0)
    pool = root / "pool"
    pool.mkdir()
    shapes = []
    for n in range(POOL):
        image = rng.integers(0, 80, size=(size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint16)
        for k in range(1, PER_IMAGE + 1):
            x, y = (int(v) for v in rng.integers(2, size * 3 // 4, size=2))
            w, h = (int(v) for v in rng.integers(size // 8, size // 4, size=2))
            colour = tuple(int(c) for c in rng.integers(80, 256, size=3))
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
            mask[y : y + h + 1, x : x + w + 1] = k
        cv2.imwrite(str(pool / f"{n:03d}.png"), image)
        cv2.imwrite(str(pool / f"{n:03d}_mask.png"), mask)
        boxes = []
        for k in range(1, PER_IMAGE + 1):
            ys, xs = np.nonzero(mask == k)
            box = (int(xs.min()), int(ys.min()), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1)) if len(xs) else (-1,) * 4
            boxes.append((k, box, int(len(xs))))
        shapes.append(boxes)
    n_records = -(-n_instances // PER_IMAGE)
    c = (size - 1) / 2
    K = ((300.0, 0.0, c), (0.0, 300.0, c), (0.0, 0.0, 1.0))
    for g in range(-(-n_records // VIEWS)):
        scene_id = f"{g:06d}"
        tmp = store.new_tmp_dir(scene_id)
        records = []
        for v in range(min(VIEWS, n_records - g * VIEWS)):
            n = (g * VIEWS + v) % POOL
            instances = []
            for k, box, px in shapes[n]:
                R = random_rotations(rng, 1)[0]
                instances.append(
                    Instance(
                        k,
                        parts[k - 1],
                        4,
                        tuple(map(tuple, R.tolist())),
                        (0.0, 0.0, 0.4),
                        tuple(matrix_to_quat_wxyz(R).tolist()),
                        box,
                        box,
                        px,
                        px,
                        1.0,
                    )
                )
            rec = Record(
                f"{scene_id}_{v:04d}",
                "render",
                scene_id,
                f"pool/{n:03d}.png",
                size,
                size,
                K,
                tuple(instances),
                mask_path=f"pool/{n:03d}_mask.png",
            )
            records.append(rec)
        store.commit_scene(tmp, scene_id, records)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(n_instances: int, shard_rows: int | None, stores: int, size: int, shard_size: str) -> dict:
    from legodata.publish import publish

    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    try:
        t0 = time.monotonic()
        roots = [work / f"store{k}" for k in range(stores)]
        for root in roots:
            synth_store(root, -(-n_instances // stores), size)
        synth_s = time.monotonic() - t0
        rss_before = _peak_rss_mb()
        s = publish(roots, work / "out", shard_rows=shard_rows, shard_size=shard_size)
        rows = s.records + s.part_rows
        return {
            "mode": "publish",
            "stores": stores,
            "instances": s.instances,
            "images": s.records,
            "part_rows": s.part_rows,
            "rows": rows,
            "shards": s.shards,
            "mb_written": s.bytes / 1e6,
            "synth_s": synth_s,
            "publish_s": s.wall_s,
            "rows_per_s": rows / s.wall_s,
            "instances_per_s": s.instances / s.wall_s,
            "peak_rss_mb_before_publish": rss_before,
            "peak_rss_mb": _peak_rss_mb(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def writer_child(n_rows: int, shard_size: str) -> dict:
    """The write stage alone: ``n_rows`` scene rows (from a pool of 16 distinct ones) through ``ShardWriter``."""
    import cv2
    import numpy as np

    from legodata.publish.config import parse_size
    from legodata.publish.features import config_features
    from legodata.publish.writer import ShardWriter

    parts = ["3001", "3003", "3039", "3023", "3069b"]
    features = config_features("scenes", parts)
    rng = np.random.default_rng(0)
    pool = []
    for n in range(16):
        image = cv2.imencode(".png", rng.integers(0, 255, (64, 64, 3), np.uint8))[1].tobytes()
        mask = cv2.imencode(".png", rng.integers(0, 6, (64, 64), np.uint16))[1].tobytes()
        row = {name: None for name in features}
        row.update(record_id=f"r{n}", image={"bytes": image, "path": None}, mask={"bytes": mask, "path": None})
        pool.append(row)
    work = Path(tempfile.mkdtemp(prefix="bench-writer-"))
    try:
        writer = ShardWriter(work, "scenes", "train", features, n_rows, shard_bytes=parse_size(shard_size))
        rss_before = _peak_rss_mb()
        t0 = time.monotonic()
        for i in range(n_rows):
            writer.add(pool[i % 16])
        files = writer.close()
        wall = time.monotonic() - t0
        return {
            "mode": "writer",
            "rows": n_rows,
            "shards": len(files),
            "mb_written": sum(f.stat().st_size for f in files) / 1e6,
            "publish_s": wall,
            "rows_per_s": n_rows / wall,
            "peak_rss_mb_before_publish": rss_before,
            "peak_rss_mb": _peak_rss_mb(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: list[str], what: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"bench child for {what} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, nargs="+", default=[])
    ap.add_argument("--rows", type=int, nargs="+", default=[], help="publish sizes in rows (6 per image)")
    ap.add_argument("--writer-rows", type=int, nargs="+", default=[], help="ShardWriter-only sizes in rows")
    ap.add_argument("--stores", type=int, default=1, help="split each synthetic set over this many stores")
    ap.add_argument("--size", type=int, default=SIZE, help="image side in pixels")
    ap.add_argument("--shard-rows", type=int, default=None)
    ap.add_argument("--shard-size", default="500MB")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--writer-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.shard_rows, args.stores, args.size, args.shard_size)))
        return
    if args.writer_child:
        print(json.dumps(writer_child(args.writer_child, args.shard_size)))
        return
    instances = args.instances + [r * PER_IMAGE // (PER_IMAGE + 1) for r in args.rows]
    if not instances and not args.writer_rows:
        instances = [2000, 10000]
    common = ["--stores", str(args.stores), "--size", str(args.size), "--shard-size", args.shard_size]
    common += ["--shard-rows", str(args.shard_rows)] if args.shard_rows else []
    results = [_run(["--child", str(n), *common], f"{n} instances") for n in instances]
    results += [_run(["--writer-child", str(n), *common], f"{n} writer rows") for n in args.writer_rows]
    print(f"{'mode':>7} {'rows':>8} {'shards':>6} {'MB':>8} {'s':>7} {'rows/s':>8} {'peak RSS MB':>11}")
    for r in results:
        print(
            f"{r['mode']:>7} {r['rows']:>8} {r['shards']:>6} {r['mb_written']:>8.1f} "
            f"{r['publish_s']:>7.1f} {r['rows_per_s']:>8.0f} {r['peak_rss_mb']:>11.0f}"
        )
    growth = {}
    for mode in ("publish", "writer"):
        rs = [r for r in results if r["mode"] == mode]
        if len(rs) > 1:
            growth[mode] = rs[-1]["peak_rss_mb"] - rs[0]["peak_rss_mb"]
            print(f"{mode}: peak RSS growth from {rs[0]['rows']} to {rs[-1]['rows']} rows: {growth[mode]:+.0f} MB")
    path = Path(__file__).parent / "results" / "publish.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"results": results, "rss_growth_mb": growth}, indent=1) + "\n")


if __name__ == "__main__":
    main()
