"""Run-log import throughput and peak memory on a synthetic log; simulator seconds per episode.

    .venv/bin/python bench/bench_import_log.py                          # 1,000,000 events + 4 rendered episodes
    .venv/bin/python bench/bench_import_log.py --events 100000 --sim-episodes 0

The synthetic log has the simulator's shape (assembly episodes of 26 events: 4 rotation steps with judgements and
VLM actions, pick and place with gripper poses; disassembly episodes of 9), two calibrated 64x64 cameras, and
observations that reuse a pool of 16 images and masks (so the log's files fit anywhere). The import runs in its
own process (peak RSS is per process), once into a new store and once more (every episode unchanged: the
idempotent re-import). ``simulate-run`` is timed with real renders (Blender, 96 px, preset fast). Prints a table
and writes bench/results/import_log.json.
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

POOL = 16
SIZE = 64


def _q(R):
    from legodata.core.rotations import matrix_to_quat_wxyz

    return [round(float(x), 12) for x in matrix_to_quat_wxyz(R)]


def synth_log(root: Path, n_events: int) -> dict:
    """A valid log of about ``n_events`` lines at ``root``."""
    import cv2
    import numpy as np

    from legodata.core.rotations import random_rotations
    from legodata.scene.camera import intrinsics_from_fov, look_at_w2c

    rng = np.random.default_rng(0)
    (root / "pool").mkdir(parents=True)
    for n in range(POOL):
        image = rng.integers(0, 255, size=(SIZE, SIZE, 3), dtype=np.uint8)
        mask = np.zeros((SIZE, SIZE), np.uint16)
        x, y = (int(v) for v in rng.integers(8, 36, size=2))
        mask[y : y + 20, x : x + 16] = 1
        cv2.imwrite(str(root / "pool" / f"{n:02d}.png"), image)
        cv2.imwrite(str(root / "pool" / f"{n:02d}_mask.png"), mask)
    K = intrinsics_from_fov(SIZE, SIZE, 45.0)
    cams = []
    for name, eye in (("cam0", (0.1, 0.08, 0.14)), ("cam1", (-0.12, 0.05, 0.12))):
        R, t = look_at_w2c(np.array(eye), np.zeros(3))
        cams.append(
            {
                "name": name,
                "K": K.tolist(),
                "width": SIZE,
                "height": SIZE,
                "pose_in_world": {"quat_wxyz": _q(R.T), "t_m": (-R.T @ t).tolist()},
            }
        )
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    rots = random_rotations(rng, 4096)
    lines = 0
    obs_n = 0
    with open(root / "log.jsonl", "w") as fh:

        def emit(d):
            nonlocal lines
            fh.write(dumps(d) + "\n")
            lines += 1

        emit(
            {
                "type": "header",
                "format": "legodata-log",
                "version": 1,
                "robot": {"name": "bench"},
                "world_frame": "table",
                "cameras": cams,
                "catalogue": {"kind": "builtin", "part_ids": ["3001", "3039"]},
            }
        )
        ep = 0
        t = 0.0
        while lines < n_events:
            name = f"ep{ep:07d}"
            part = ("3001", "3039")[ep % 2]
            R = rots[(ep * 7) % len(rots)]
            pose = lambda R, tt: {"quat_wxyz": _q(R), "t_m": tt}  # noqa: E731
            rest = [0.02, -0.01, 0.01]

            def obs(grip=None, name=name):
                nonlocal obs_n, t
                k = obs_n % POOL
                d = {
                    "type": "observation",
                    "episode": name,
                    "id": f"o{obs_n}",
                    "t": t,
                    "camera": f"cam{obs_n % 2}",
                    "image": f"pool/{k:02d}.png",
                    "mask": f"pool/{k:02d}_mask.png",
                    "instances": [{"track": "p1", "instance_id": 1}],
                }
                if grip is not None:
                    d["gripper_pose_in_world"] = grip
                emit(d)
                obs_n += 1
                t += 0.5
                return d["id"]

            def vlm(o, verb, name=name, part=part):
                emit(
                    {
                        "type": "vlm",
                        "episode": name,
                        "observation": o,
                        "track": "p1",
                        "part_id": part,
                        "colour_code": 4,
                        "action": {"text": f"{verb} the red brick", "verb": verb},
                    }
                )

            if ep % 2 == 0:
                emit({"type": "episode_start", "episode": name, "mode": "assemble", "source_kind": "robot"})
                o = obs()
                vlm(o, "pick")
                emit(
                    {
                        "type": "pick",
                        "episode": name,
                        "track": "p1",
                        "pose_in_world": pose(R, rest),
                        "gripper_pose_in_world": pose(R, rest),
                    }
                )
                for step in range(5):
                    o = obs(grip=pose(R, [0.0, 0.0, 0.04]))
                    emit(
                        {
                            "type": "judgement",
                            "episode": name,
                            "t": t,
                            "track": "p1",
                            "correct": step == 4,
                            "by": "vlm",
                            "observation": o,
                        }
                    )
                    if step == 4:
                        break
                    vlm(o, "rotate")
                    A = rots[(ep * 13 + step) % len(rots)]
                    emit({"type": "rotate", "episode": name, "track": "p1", "quat_wxyz": _q(A), "frame": "world"})
                    R = A @ R
                vlm(o, "place")
                emit(
                    {
                        "type": "place",
                        "episode": name,
                        "track": "p1",
                        "pose_in_world": pose(R, [0.03, 0.02, 0.01]),
                        "gripper_pose_in_world": pose(R, [0.03, 0.02, 0.01]),
                    }
                )
                obs()
            else:
                emit({"type": "episode_start", "episode": name, "mode": "disassemble", "source_kind": "robot"})
                o = obs()
                vlm(o, "remove")
                emit({"type": "pick", "episode": name, "track": "p1", "pose_in_world": pose(R, rest)})
                A = rots[(ep * 5) % len(rots)]
                emit({"type": "rotate", "episode": name, "track": "p1", "quat_wxyz": _q(A), "frame": "world"})
                emit({"type": "place", "episode": name, "track": "p1", "pose_in_world": pose(A @ R, rest)})
                obs()
                obs()
            emit({"type": "episode_end", "episode": name, "outcome": "success"})
            ep += 1
    return {"lines": lines, "episodes": ep, "observations": obs_n}


def child(log: str, store: str) -> None:
    """Import twice (new store, then the idempotent re-import); print JSON."""
    from legodata.jobs.import_log import run_import

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    s1 = run_import(log, store)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    s2 = run_import(log, store)
    r2 = resource.getrusage(resource.RUSAGE_SELF)
    rss1 = r1.ru_maxrss / 1024
    print(
        json.dumps(
            {
                "lines": s1.lines,
                "records": s1.records,
                "instances": s1.instances,
                "problems": s1.problems,
                "import_s": s1.wall_s,
                "import_cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
                "reimport_cpu_s": (r2.ru_utime + r2.ru_stime) - (r1.ru_utime + r1.ru_stime),
                "peak_rss_mb_after_reimport": r2.ru_maxrss / 1024,
                "events_per_s": s1.lines / s1.wall_s,
                "records_per_s": s1.records / s1.wall_s,
                "peak_rss_mb_streaming": s1.peak_rss_mb_before_index,
                "peak_rss_mb": rss1,
                "reimport_s": s2.wall_s,
                "reimport_unchanged": s2.episodes_unchanged,
                "reimport_events_per_s": s2.lines / s2.wall_s,
            }
        )
    )


def bench_simulator(episodes: int) -> dict:
    from legodata.jobs.simulate_run import run_simulation
    from legodata.runlog.simulate import SimConfig

    work = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    try:
        s = run_simulation(SimConfig(out=str(work / "log"), episodes=episodes, seed=0, resolution=96, preset="fast"))
        return {
            "episodes": s.episodes,
            "observations": s.observations,
            "wall_s": s.wall_s,
            "seconds_per_episode": s.wall_s / s.episodes,
            "seconds_per_episode_after_the_first": sum(s.seconds_per_episode[1:])
            / max(1, len(s.seconds_per_episode) - 1),
            "seconds_per_observation": s.wall_s / s.observations,
            "render_share": s.render_s / s.wall_s,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--sim-episodes", type=int, default=4, help="0: skip the simulator")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    results: dict = {"date": time.strftime("%Y-%m-%d")}
    if args.events:
        work = Path(tempfile.mkdtemp(prefix="bench-import-log-"))
        try:
            t0 = time.monotonic()
            made = synth_log(work / "log", args.events)
            made["synth_s"] = time.monotonic() - t0
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(work / "log"), str(work / "store")],
                check=True,
                capture_output=True,
                text=True,
            )
            results["import"] = {**made, **json.loads(out.stdout.strip().splitlines()[-1])}
        finally:
            shutil.rmtree(work, ignore_errors=True)
        r = results["import"]
        print(f"log: {r['lines']} events, {r['episodes']} episodes, {r['observations']} observations")
        print(
            f"import: {r['import_s']:.0f} s wall ({r['events_per_s']:.0f} events/s, "
            f"{r['records_per_s']:.0f} records/s), "
            f"{r['import_cpu_s']:.0f} s CPU ({r['lines'] / r['import_cpu_s']:.0f} events per CPU second); "
            f"peak RSS {r['peak_rss_mb_streaming']:.0f} MB while streaming, {r['peak_rss_mb']:.0f} MB with the "
            f"index rebuild; re-import {r['reimport_s']:.0f} s, {r['reimport_cpu_s']:.0f} s CPU "
            f"({r['reimport_events_per_s']:.0f} events/s, "
            f"{r['reimport_unchanged']} episodes unchanged)"
        )
    if args.sim_episodes:
        results["simulate"] = s = bench_simulator(args.sim_episodes)
        print(
            f"simulate-run: {s['episodes']} episodes, {s['observations']} observations, "
            f"{s['seconds_per_episode']:.1f} s/episode ({s['seconds_per_episode_after_the_first']:.1f} after the "
            f"first, which starts Blender), {s['seconds_per_observation']:.2f} s/observation"
        )
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "import_log.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
