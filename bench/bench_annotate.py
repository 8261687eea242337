"""Benchmarks of Label Studio annotation (run by hand).

1. PnP: rotation error (symmetry-aware, degrees) of SQPnP from clicked keypoints against click noise (0, 1, 2, 4 px,
   Gaussian per axis) and the number of keypoints clicked (4, 6, 8, all the camera sees), for parts seen at a
   realistic size (``--size-px``: the part's bounding sphere across that many pixels of a 640x480 photo).
2. pull throughput: a synthetic Label Studio export of ``--annotations`` annotations (keypoints with 1 px noise and
   a brush mask each, over ``--photos`` photos), written as JSON and pulled through the same code as
   ``legodata annotate pull`` (validation against the labeling config, PnP, RLE decoding, checks, the store);
   annotations/s for converting alone and for converting + writing the store, and the peak RSS.
3. Server start: seconds until ``/health`` answers, cold (a new data dir: migrations) and warm (a copy of a
   migrated one, what the tests do).

    .venv/bin/python bench/bench_annotate.py [--trials 300] [--annotations 10000] [--skip-server]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from legodata.annotate import configs
from legodata.annotate.convert import Context, Converted, convert_export
from legodata.annotate.drawing import visible_keypoints
from legodata.annotate.keypoints import catalogue_keypoints, keypoint_array
from legodata.annotate.pnp import project_points, solve_keypoints
from legodata.annotate.push import _brush_result, keypoint_result
from legodata.core.rotations import random_rotations, symmetric_geodesic_angle
from legodata.parts.catalogue import get_part

W, H = 640, 480
K = np.array([[600.0, 0.0, (W - 1) / 2], [0.0, 600.0, (H - 1) / 2], [0.0, 0.0, 1.0]])
PARTS = ("3001", "3003", "3039", "3023", "3069b")


def _pose(rng, part, size_px: float):
    lo, hi = part.mesh.bounds()
    radius = float(np.linalg.norm(hi - lo) / 2)
    z = K[0, 0] * 2 * radius / size_px
    R = random_rotations(rng, 1)[0]
    centre = (lo + hi) / 2
    t = np.array([rng.uniform(-0.2, 0.2) * z, rng.uniform(-0.15, 0.15) * z, z]) - R @ centre
    return R, t


def bench_pnp(trials: int, size_px: float, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    cases = [(n, noise) for n in (4, 6, 8, 0) for noise in (0.0, 1.0, 2.0, 4.0)]
    errors = {c: [] for c in cases}
    failures = {c: 0 for c in cases}
    for trial in range(trials):
        part = get_part(PARTS[trial % len(PARTS)])
        kps = catalogue_keypoints(part.part_id)
        P = keypoint_array(kps)
        sym = part.symmetry.sampled()
        R, t = _pose(rng, part, size_px)
        uv = project_points(P, K, R, t)
        seen = np.flatnonzero(visible_keypoints(part.mesh, kps, K, R, t, W, H))
        for n, noise in cases:
            if n and len(seen) < n:
                continue
            idx = seen if n == 0 else rng.choice(seen, n, replace=False)
            if len(idx) < 4:
                continue
            clicks = uv[idx] + (rng.normal(0.0, noise, (len(idx), 2)) if noise else 0.0)
            try:
                res = solve_keypoints(P[idx], clicks, K)
            except ValueError:  # e.g. 4 studs in a row: the annotator is told to add another point
                failures[(n, noise)] += 1
                continue
            errors[(n, noise)].append(float(np.degrees(symmetric_geodesic_angle(res.R_m2c, R, sym))))
    for (n, noise), e in errors.items():
        e = np.asarray(e)
        rows.append(
            {
                "keypoints": n or "all seen",
                "noise_px": noise,
                "median_deg": round(float(np.median(e)), 2),
                "p90_deg": round(float(np.percentile(e, 90)), 2),
                "within_5deg": round(float((e < 5).mean()), 3),
                "solved": len(e),
                "refused": failures[(n, noise)],
            }
        )
    return rows


def synthetic_export(root: Path, annotations: int, photos: int, seed: int = 1) -> tuple[Path, Context, dict]:
    """Photos of posed parts (drawn with the mesh rasteriser) and an export of keypoint + brush annotations."""
    from legodata.annotate.candidates import axis_aligned_candidates
    from legodata.annotate.drawing import render_mesh
    from legodata.scene.ground_truth import silhouette

    rng = np.random.default_rng(seed)
    parts = list(PARTS)
    xml = configs.build_config("rotation", [(p, get_part(p).info.name) for p in parts], 16)
    ctx = Context("rotation", configs.parse_config(xml), tuple(parts), project_id=1, project="bench")
    meta = {"kind": "rotation", "parts": parts, "ldraw_dir": None}
    (root / "photos").mkdir(parents=True)
    shots = []
    for i in range(photos):
        part = get_part(parts[i % len(parts)])
        R, t = _pose(rng, part, 200.0)
        rgb, _ = render_mesh(part.mesh, K, R, t, W, H)
        path = root / "photos" / f"photo{i:04d}.png"
        cv2.imwrite(str(path), rgb[:, :, ::-1])
        mask = silhouette(part.mesh, K, R, t, W, H)
        kps = catalogue_keypoints(part.part_id)
        seen = np.flatnonzero(visible_keypoints(part.mesh, kps, K, R, t, W, H))
        shots.append((path, part, R, t, _brush_result(mask, W, H), seen, keypoint_array(kps)))
    tasks = []
    for a in range(annotations):
        path, part, R, t, brush, seen, P = shots[a % photos]
        uv = project_points(P[seen], K, R, t) + rng.normal(0.0, 1.0, (len(seen), 2))
        result = [keypoint_result(int(k) + 1, u, v, W, H) for k, (u, v) in zip(seen, uv)] + [brush]
        lego = {
            "key": f"k{a}", "part_id": part.part_id, "colour_code": 4, "K": K.tolist(), "dist": [], "width": W,
            "height": H, "photo": str(path), "group": path.stem,
            "candidates_R": axis_aligned_candidates(part.symmetry.sampled()).tolist()[:1],
        }  # fmt: skip
        tasks.append(
            {
                "id": a + 1,
                "data": {"legodata": lego},
                "annotations": [
                    {"id": a + 1, "completed_by": 1, "lead_time": 30.0, "updated_at": "2026-11-30T00:00:00Z",
                     "result": result}
                ],
            }
        )  # fmt: skip
    export = root / "export.json"
    export.write_text(json.dumps(tasks))
    return export, ctx, meta


def bench_pull(annotations: int, photos: int) -> dict:
    from legodata.jobs.annotate_pull import write_store

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        export, ctx, meta = synthetic_export(root, annotations, photos)
        made = time.monotonic() - t0
        t0 = time.monotonic()
        tasks = json.loads(export.read_text())
        converted = sum(isinstance(x, Converted) for x in convert_export(tasks, ctx))
        convert_s = time.monotonic() - t0
        t0 = time.monotonic()
        s = write_store(json.loads(export.read_text()), ctx, root / "store", meta)
        store_s = time.monotonic() - t0
        t0 = time.monotonic()
        again = write_store(json.loads(export.read_text()), ctx, root / "store", meta)
        again_s = time.monotonic() - t0
        return {
            "annotations": annotations,
            "photos": photos,
            "export_mb": round(export.stat().st_size / 1e6, 1),
            "make_export_s": round(made, 1),
            "converted": converted,
            "convert_per_s": round(annotations / convert_s, 1),
            "pull_per_s": round(annotations / store_s, 1),
            "records": s.added,
            "rejected": s.rejected,
            "second_pull_s": round(again_s, 1),
            "second_pull_unchanged": again.unchanged,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        }


def bench_server() -> dict:
    from legodata.annotate import credentials, server

    server.ensure_server_env()
    creds = credentials.generate("")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        cold_dir = Path(tmp) / "cold"
        info = server.start_server(server.free_port(), cold_dir, creds, timeout=900)
        server.stop_server(info)
        out["cold_s"] = round(info.started_s, 1)
        warm_dir = Path(tmp) / "warm"
        shutil.copytree(cold_dir, warm_dir)
        info = server.start_server(server.free_port(), warm_dir, creds, timeout=300)
        server.stop_server(info)
        out["warm_s"] = round(info.started_s, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=300, help="random poses for the PnP table")
    ap.add_argument("--size-px", type=float, default=160.0, help="part bounding-sphere diameter in pixels")
    ap.add_argument("--annotations", type=int, default=10_000)
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--skip-server", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    results = {}
    t0 = time.monotonic()
    results["pnp"] = bench_pnp(args.trials, args.size_px)
    print(
        f"PnP on {args.trials} poses, parts {', '.join(PARTS)} at {args.size_px:g} px ({time.monotonic() - t0:.0f} s)"
    )
    print("keypoints  noise_px  median_deg  p90_deg  within_5deg  solved  refused")
    for r in results["pnp"]:
        print(f"{r['keypoints']!s:>9}  {r['noise_px']:>8g}  {r['median_deg']:>10}  {r['p90_deg']:>7}  "
              f"{r['within_5deg']:>11}  {r['solved']:>6}  {r['refused']:>7}")  # fmt: skip
    results["pull"] = bench_pull(args.annotations, args.photos)
    print("pull:", json.dumps(results["pull"]))
    if not args.skip_server:
        results["server"] = bench_server()
        print("server start:", json.dumps(results["server"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
