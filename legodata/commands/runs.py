"""Robot run commands: import-log (a run log -> a store) and simulate-run (rendered runs -> a run log)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from legodata.commands import options
from legodata.commands.app import app
from legodata.commands.options import Quiet, RayAddress, Verbose, out_option, seed_option


@app.command("import-log")
def import_log_command(
    log_dir: Annotated[str, typer.Argument(help="Run log directory (holding log.jsonl), or the log file itself.")],
    out: Annotated[str, out_option("Store to create or add to (one group per episode).")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first bad line instead of quarantining.")
    ] = False,
    ldraw_dir: Annotated[
        str | None, typer.Option(help="LDraw library, for logs whose catalogue is LDraw; default: env LDRAWDIR.")
    ] = None,
    copy: Annotated[
        bool, typer.Option("--copy", help="Copy files into the store (default: hard links if possible).")
    ] = False,
    executor: Annotated[
        str, typer.Option(help="local | ray (episodes committed by Ray tasks; log and --out on storage all nodes see).")
    ] = "local",
    address: RayAddress = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Import a legodata-log run log: one record per observation with derived rotation, pose and action labels."""
    options.setup(quiet, verbose)
    from legodata.jobs.import_log import run_import

    s = run_import(
        log_dir,
        out,
        strict=strict,
        ldraw_dir=ldraw_dir or os.environ.get("LDRAWDIR") or None,
        link=not copy,
        progress=not quiet,
        executor=executor,
        address=address,
    )
    typer.echo(
        f"{s.out}: {s.episodes_imported} episodes imported, {s.episodes_replaced} replaced (changed), "
        f"{s.episodes_unchanged} unchanged; {s.records} records, {s.instances} instances with poses; "
        f"{s.lines} lines, {s.events_per_s:.0f} lines/s"
        + (f"; {s.episodes_unfinished} episodes have no episode_end yet" if s.episodes_unfinished else "")
    )
    if s.problems:
        kinds = ", ".join(f"{n} x {k}" for k, n in s.reasons.most_common(5))
        typer.echo(f"{s.problems} problems ({s.missing_files} missing files) kept in {s.quarantine}: {kinds}", err=True)


@app.command("simulate-run")
def simulate_run_command(
    out: Annotated[str, out_option("New run log directory (log.jsonl, images/, ...).")],
    episodes: Annotated[int, typer.Option(help="Episodes; assembly and disassembly alternate, assembly first.")] = 4,
    seed: Annotated[int, seed_option("Random seed: same seed, same run.")] = 0,
    parts: Annotated[
        str, typer.Option(help="Built-in part ids worked on in turn (one per episode pair).")
    ] = "3001,3039",
    resolution: Annotated[int, typer.Option(help="Image width and height in pixels.")] = 96,
    cameras: Annotated[int, typer.Option(help="Calibrated cameras (1 or 2); observations alternate between them.")] = 2,
    distractors: Annotated[int, typer.Option(help="Parts lying around that are not worked on (0-3).")] = 2,
    tolerance_deg: Annotated[float, typer.Option(help="The judge says correct within this angle of the goal.")] = 8.0,
    max_steps: Annotated[int, typer.Option(help="Rotation steps before the policy takes the exact rotation.")] = 8,
    preset: Annotated[str, typer.Option(help="Render quality: fast | default | high.")] = "fast",
    renderer: Annotated[
        str, typer.Option(help="blender (real renders) | silhouette (flat numpy stand-in, no Blender; for tests).")
    ] = "blender",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Simulate robot runs: scripted assembly/disassembly episodes, every observation rendered, written as a
    legodata-log with the renderer's poses in ground_truth.jsonl."""
    options.setup(quiet, verbose)
    from legodata.config import PRESETS
    from legodata.errors import LegodataError
    from legodata.jobs.simulate_run import run_simulation
    from legodata.parts.catalogue import UnknownPartError, parse_part_list
    from legodata.runlog.simulate import SimConfig

    try:
        part_ids = parse_part_list(parts)
    except UnknownPartError as exc:
        raise LegodataError(f"--parts: {exc}") from None
    if preset not in PRESETS:
        raise LegodataError(f"--preset {preset!r}: use one of {', '.join(PRESETS)}")
    cfg = SimConfig(
        out=out,
        episodes=episodes,
        seed=seed,
        parts=part_ids,
        resolution=resolution,
        cameras=cameras,
        distractors=distractors,
        tolerance_deg=tolerance_deg,
        max_steps=max_steps,
        preset=preset,
    )
    s = run_simulation(cfg, renderer=renderer, progress=not quiet)
    per = sum(s.seconds_per_episode) / len(s.seconds_per_episode)
    typer.echo(
        f"{s.out}: {s.episodes} episodes, {s.observations} observations, {s.events} events, {s.wall_s:.1f} s "
        f"({per:.1f} s/episode, {s.render_s:.1f} s rendering)"
    )
