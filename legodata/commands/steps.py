"""Assembly-step commands: ``render-steps`` (manual pages + observations + labels) and ``score-steps``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from legodata.commands import options
from legodata.commands.app import app
from legodata.commands.options import Quiet, RayAddress, Verbose, device_option, out_option, seed_option
from legodata.commands.render import run_and_export
from legodata.errors import LegodataError


def _pair(text: str | None, flag: str) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        lo, hi = (int(x) for x in text.split(",")) if "," in text else (int(text), int(text))
    except ValueError:
        raise LegodataError(f"{flag} {text!r}: expected MIN,MAX (or one number)") from None
    return lo, hi


@app.command("render-steps")
def render_steps(
    out: Annotated[str, out_option("Output store directory.")],
    model: Annotated[str | None, typer.Option(help="LDraw model (.ldr, .mpd, .dat) with 0 STEP lines.")] = None,
    random_builds: Annotated[int, typer.Option(help="Or: this many random stud-grid builds of built-in parts.")] = 0,
    ldraw_dir: Annotated[
        str | None, typer.Option(help="LDraw library (parts/, p/, LDConfig.ldr); default: env LDRAWDIR.")
    ] = None,
    seed: Annotated[int, seed_option("Random seed: same seed, same builds and scenes.")] = 0,
    views: Annotated[int, typer.Option(help="Robot cameras per model (fixed across its steps).")] = 1,
    resolution: Annotated[int, typer.Option(help="Observation width and height in pixels.")] = 256,
    manual_resolution: Annotated[int, typer.Option(help="Manual page width and height in pixels.")] = 384,
    distractors: Annotated[str, typer.Option(help="MIN,MAX distractor parts on the table per model.")] = "1,3",
    parts: Annotated[str | None, typer.Option(help="Random builds: built-in part ids to use.")] = None,
    colours: Annotated[str | None, typer.Option(help="Random builds: LDraw colour codes to use.")] = None,
    parts_per_build: Annotated[str, typer.Option(help="Random builds: MIN,MAX parts per build.")] = "4,10",
    parts_per_step: Annotated[str, typer.Option(help="Random builds: MIN,MAX parts per step.")] = "1,3",
    preset: Annotated[str, typer.Option(help="Observation render quality: fast | default | high.")] = "fast",
    device: Annotated[str, device_option("auto (GPU if present) | cpu | gpu.")] = "auto",
    shard: Annotated[str, typer.Option(help="K/N: render only models with index % N == K.")] = "0/1",
    formats: Annotated[
        str | None, typer.Option("--format", help="Also export the observations: bop,coco (into OUT/bop, OUT/coco).")
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local (a worker process here) | ray (Ray tasks; --out on storage all nodes see).")
    ] = "local",
    address: RayAddress = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Assembly steps: per step a manual page (Workbench) and observations (Cycles) with the relevant parts, their
    current and target poses, the rotation action, where they attach and the action as a sentence."""
    options.setup(quiet, verbose)
    from legodata.jobs.steps_job import StepsConfig, run_steps

    ldraw_dir = ldraw_dir or (os.environ.get("LDRAWDIR") or None if model else None)
    defaults = StepsConfig(out=out)
    cfg = StepsConfig(
        out=out,
        model=model,
        random_builds=random_builds,
        ldraw_dir=ldraw_dir,
        seed=seed,
        views=views,
        resolution=resolution,
        manual_resolution=manual_resolution,
        distractors=_pair(distractors, "--distractors"),
        parts=parts or defaults.parts,
        colours=colours or defaults.colours,
        parts_per_build=_pair(parts_per_build, "--parts-per-build"),
        parts_per_step=_pair(parts_per_step, "--parts-per-step"),
        preset=preset,
        device=device,
        shard=shard,
        executor=executor,
        address=address,
    )
    run_and_export(lambda: run_steps(cfg, progress=not quiet), "models", formats)


@app.command("score-steps")
def score_steps(
    predictions: Annotated[str, typer.Argument(help='JSON lines: {"sample_id": ..., "answer": {...} or text}.')],
    dataset: Annotated[str, typer.Argument(help="An assembly store (render-steps) or a published dataset folder.")],
    split: Annotated[str, typer.Option(help="Split of a published dataset (a store has no splits).")] = "test",
    max_rotation_deg: Annotated[float, typer.Option(help="Largest rotation error of a successful step.")] = 15.0,
    out: Annotated[str | None, out_option("Also write the full report as JSON here.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Score a VLM's step answers: relevant-part accuracy, symmetry-aware rotation error, placement error in
    studs, per-step and per-model success. Missing or malformed answers count as wrong and are listed."""
    options.setup(quiet, verbose)
    from legodata.assembly.score import read_predictions, score
    from legodata.publish.steps import load_step_rows

    path = Path(predictions)
    if not path.is_file():
        raise LegodataError(f"predictions file {path} not found")
    preds, problems = read_predictions(path.read_text(encoding="utf-8", errors="replace").splitlines())
    rows = load_step_rows(dataset, split)
    report = score(rows, preds, max_rotation_deg)
    report["unreadable_lines"] = problems
    if out:
        Path(out).write_text(json.dumps(report, indent=1))
    typer.echo(_report_text(report))


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x, unit: str) -> str:
    return "n/a" if x is None else f"{x:.2f}{unit}"


def _report_text(r: dict) -> str:
    lines = [
        f"samples {r['samples']} ({r['models']} models)",
        f"relevant-part accuracy {_pct(r['relevant_part_accuracy'])}, part recall {_pct(r['part_recall'])}",
        f"rotation error median {_num(r['rotation_error_deg_median'], ' deg')}, "
        f"mean {_num(r['rotation_error_deg_mean'], ' deg')}, acc@15 {_pct(r['rotation_acc_15deg'])} (symmetry-aware)",
        f"placement: right base {_pct(r['placement_base_accuracy'])}, "
        f"error {_num(r['placement_error_studs_mean'], ' studs')}, exact {_pct(r['placement_exact'])}",
        f"step success {_pct(r['step_success'])}, model success {_pct(r['model_success'])}",
    ]
    for d, sub in r["by_direction"].items():
        lines.append(f"  {d}: {sub['samples']} samples, step success {_pct(sub['step_success'])}")
    bad = r["missing"] + [m["sample_id"] for m in r["malformed"]]
    if bad:
        lines.append(f"counted as wrong: {len(r['missing'])} missing, {len(r['malformed'])} malformed")
        lines += [f"  malformed {m['sample_id']}: {m['error']}" for m in r["malformed"][:20]]
        lines += [f"  missing {s}" for s in r["missing"][:20]]
    if r["unreadable_lines"]:
        lines.append(f"unreadable prediction lines: {len(r['unreadable_lines'])}")
    return "\n".join(lines)
