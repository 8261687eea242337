"""Publishing throughput and peak memory, and whether memory grows with dataset size.

    .venv/bin/python bench/bench_publish.py                        # 2k and 10k instances, 256x256 images
    .venv/bin/python bench/bench_publish.py --instances 2000 10000 50000

Each size runs in its own process (peak RSS is per process): it synthesises a store whose records reuse a pool
of 32 drawn 256x256 images with uint16 masks (5 instances each, 4 views per group), then times
``legodata.publish.publish`` on it. Prints a table and writes bench/results/publish.json.
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


def synth_store(root: Path, n_instances: int) -> None:
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
            "settings": {"bench": True, "resolution": SIZE},
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
        image = rng.integers(0, 80, size=(SIZE, SIZE, 3), dtype=np.uint8)
        mask = np.zeros((SIZE, SIZE), np.uint16)
        for k in range(1, PER_IMAGE + 1):
            x, y = (int(v) for v in rng.integers(10, SIZE - 60, size=2))
            w, h = (int(v) for v in rng.integers(20, 50, size=2))
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
    K = ((300.0, 0.0, 127.5), (0.0, 300.0, 127.5), (0.0, 0.0, 1.0))
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
                SIZE,
                SIZE,
                K,
                tuple(instances),
                mask_path=f"pool/{n:03d}_mask.png",
            )
            records.append(rec)
        store.commit_scene(tmp, scene_id, records)


def child(n_instances: int, shard_rows: int) -> dict:
    from legodata.publish import publish

    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    try:
        t0 = time.monotonic()
        synth_store(work / "store", n_instances)
        synth_s = time.monotonic() - t0
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        s = publish([work / "store"], work / "out", shard_rows=shard_rows)
        rows = s.records + s.part_rows
        return {
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
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--shard-rows", type=int, default=1000)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.shard_rows)))
        return
    results = []
    for n in args.instances:
        cmd = [sys.executable, __file__, "--child", str(n), "--shard-rows", str(args.shard_rows)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"bench child for {n} instances failed:\n{proc.stderr}")
        out = proc.stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(
        f"{'instances':>9} {'images':>7} {'rows':>7} {'shards':>6} {'MB':>7} {'s':>7} {'rows/s':>8} {'peak RSS MB':>11}"
    )
    for r in results:
        print(
            f"{r['instances']:>9} {r['images']:>7} {r['rows']:>7} {r['shards']:>6} {r['mb_written']:>7.1f} "
            f"{r['publish_s']:>7.1f} {r['rows_per_s']:>8.0f} {r['peak_rss_mb']:>11.0f}"
        )
    growth = results[-1]["peak_rss_mb"] - results[0]["peak_rss_mb"]
    print(f"peak RSS growth from {results[0]['instances']} to {results[-1]['instances']} instances: {growth:+.0f} MB")
    path = Path(__file__).parent / "results" / "publish.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"results": results, "rss_growth_mb": growth}, indent=1) + "\n")


if __name__ == "__main__":
    main()
