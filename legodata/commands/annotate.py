"""The ``annotate`` command group: a local Label Studio, projects, tasks from photos, records from labels."""

from __future__ import annotations

import functools
import inspect
import os
from typing import Annotated

import typer

from legodata.commands import options
from legodata.commands.app import app
from legodata.commands.options import Quiet, Verbose, out_option

annotate_app = typer.Typer(
    name="annotate",
    help="Label rotations and masks on real photos in Label Studio; the labels become records.",
    no_args_is_help=True,
)
app.add_typer(annotate_app, name="annotate")


@annotate_app.callback()
def annotate_callback(quiet: Quiet = False, verbose: Verbose = False) -> None:
    """Label rotations and masks on real photos in Label Studio; the labels become records."""
    options.setup(quiet, verbose)


_Url = Annotated[
    str | None,
    typer.Option(help="Label Studio URL (default: env LABEL_STUDIO_URL, else the server `serve` started). "
                 "Its API token comes from env LABEL_STUDIO_API_KEY."),
]  # fmt: skip


def _command(name: str):
    """Register ``annotate NAME``: the function's own options plus ``--quiet``/``--verbose``, which set up logging
    before it runs (:func:`legodata.commands.options.setup`)."""

    def register(fn):
        @functools.wraps(fn)
        def run(*args, quiet: bool = False, verbose: bool = False, **kwargs):
            options.setup(quiet, verbose)
            return fn(*args, **kwargs)

        sig = inspect.signature(fn, eval_str=True)
        shared = [
            inspect.Parameter(flag, inspect.Parameter.KEYWORD_ONLY, default=False, annotation=kind)
            for flag, kind in (("quiet", Quiet), ("verbose", Verbose))
        ]
        run.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *shared])
        return annotate_app.command(name)(run)

    return register


def _ldraw(ldraw_dir: str | None) -> str | None:
    """``--ldraw-dir``, else env LDRAWDIR."""
    return ldraw_dir or os.environ.get("LDRAWDIR") or None


_Project = Annotated[str, typer.Option("--project", "-p", help="Label Studio project name.")]
_LDraw = Annotated[str | None, typer.Option(help="LDraw library for non-built-in parts; default: env LDRAWDIR.")]


@_command("serve")
def serve_command(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8080,
    data_dir: Annotated[
        str | None, typer.Option(help="Label Studio's data (database, uploads); default: under ~/.local/share.")
    ] = None,
    files_root: Annotated[
        str, typer.Option(help="Local files below this folder can be served to annotators (photos, references).")
    ] = "/",
) -> None:
    """Start a local Label Studio (own venv, made on first use); prints its URL. `annotate stop` ends it."""
    from legodata.annotate import server
    from legodata.annotate.credentials import credentials_path, load_saved

    info = server.serve(port, data_dir, files_root)
    creds = load_saved()
    typer.echo(f"Label Studio is up at {info.url} (pid {info.pid}, data {info.data_dir}, log {info.log})")
    typer.echo(f"log in as {creds.username if creds else 'admin'}; password and API token are in {credentials_path()}")


@_command("stop")
def stop_command() -> None:
    """Stop the Label Studio that `annotate serve` started."""
    from legodata.annotate import server

    state = server.stop()
    typer.echo(f"stopped Label Studio at {state['url']} (pid {state['pid']})" if state else "no server was running")


@_command("init")
def init_command(
    project: _Project,
    kind: Annotated[str, typer.Option(help="rotation | mask | review.")] = "rotation",
    parts: Annotated[
        str, typer.Option(help="Comma-separated part ids (built-in or LDraw), or 'all' built-in.")
    ] = "all",
    ldraw_dir: _LDraw = None,
    url: _Url = None,
) -> None:
    """Create a project from the labeling configs in annotate/ with the parts' choices and keypoint numbers."""
    from legodata.annotate.project import init_project

    s = init_project(project, kind, parts, _ldraw(ldraw_dir), url)
    verb = "created" if s.created else "exists:"
    typer.echo(f"project {s.name!r} {verb} id {s.project_id}, kind {s.kind}, parts {','.join(s.parts)}, "
               f"keypoints 1..{s.n_keypoints}")  # fmt: skip


@_command("push")
def push_command(
    source: Annotated[str, typer.Argument(help="A folder of photos, or a store (made by render or pull).")],
    project: _Project,
    camera: Annotated[
        str | None, typer.Option(help="Camera calibration for photos: OpenCV FileStorage or ROS camera_info YAML.")
    ] = None,
    parts: Annotated[str | None, typer.Option(help="Parts the photos show: one task per photo and part.")] = None,
    colour: Annotated[int | None, typer.Option(help="LDraw colour code of the photographed part(s).")] = None,
    session: Annotated[
        str | None, typer.Option(help="Group these photos as one session (one split group); default: per photo.")
    ] = None,
    mask_model: Annotated[str | None, typer.Option(help="train-mask RUN_DIR: pre-annotate masks.")] = None,
    rot_model: Annotated[str | None, typer.Option(help="train-rot RUN_DIR: pre-annotate poses and candidates.")] = None,
    min_px: Annotated[int, typer.Option(help="Store instances need this many visible pixels.")] = 50,
    files_root: Annotated[str, typer.Option(help="The server's local-files root (its --files-root).")] = "/",
    assets_dir: Annotated[str | None, typer.Option(help="Where reference pictures go (served too).")] = None,
    url: _Url = None,
) -> None:
    """Add tasks: each photo (or store instance) with its part; images are served from disk, not uploaded."""
    from legodata.annotate.push import push

    s = push(source, project, camera=camera, parts=parts, colour=colour, session=session, mask_model=mask_model,
             rot_model=rot_model, min_px=min_px, files_root=files_root, assets_dir=assets_dir, url=url)  # fmt: skip
    typer.echo(f"project {project!r}: {s.added} tasks added ({s.predictions} with a model's pre-annotations), "
               f"{s.skipped} already there; pictures in {s.assets_dir}")  # fmt: skip


@_command("pull")
def pull_command(
    project: _Project,
    out: Annotated[str, out_option("Store to write (created if missing).")],
    max_reproj_px: Annotated[
        float, typer.Option(help="Reject keypoint labels whose pose misses them by more (RMS, pixels).")
    ] = 10.0,
    low_iou: Annotated[float, typer.Option(help="Flag records whose mesh at the pose overlaps the mask less.")] = 0.5,
    url: _Url = None,
) -> None:
    """Export the project's annotations into a store (idempotent); rejected ones go to STORE/rejected.jsonl."""
    import numpy as np

    from legodata.jobs.annotate_pull import pull

    s = pull(project, out, url=url, max_reproj_px=max_reproj_px, low_iou=low_iou)
    reproj = (
        f", keypoint reprojection error median {np.median(s.rotation_errors_px):.2f} px" if s.rotation_errors_px else ""
    )
    typer.echo(
        f"{s.store}: {s.added} records added, {s.updated} updated, {s.unchanged} unchanged, {s.rejected} rejected "
        f"(see rejected.jsonl, {s.rejected_total} in all); {s.flagged_low_iou} flagged low IoU, "
        f"{s.disagreements} annotator disagreements{reproj}"
    )
    for reason, n in sorted(s.reasons.items(), key=lambda kv: -kv[1]):
        typer.echo(f"  rejected {n}x: {reason}")


@_command("keypoints")
def keypoints_command(
    part: Annotated[str, typer.Argument(help="Part id (built-in or LDraw).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    image: Annotated[str | None, typer.Option(help="Also write the numbered reference picture (PNG).")] = None,
    ldraw_dir: _LDraw = None,
) -> None:
    """List a part's named keypoints (model frame, metres) as annotators see them numbered."""
    import json

    from legodata.annotate.keypoints import catalogue_keypoints

    ldraw_dir = _ldraw(ldraw_dir)
    kps = catalogue_keypoints(part, ldraw_dir)
    if as_json:
        typer.echo(json.dumps({"part_id": part, "frame": "LDraw part frame (-Y up), metres",
                               "keypoints": [k.to_json() for k in kps]}, indent=1))  # fmt: skip
    else:
        for k in kps:
            x, y, z = k.xyz_m
            typer.echo(f"{k.number:>3}  {k.name:<22} x={x:+.4f} y={y:+.4f} z={z:+.4f}")
    if image:
        import cv2

        from legodata.annotate.drawing import part_reference

        cv2.imwrite(image, part_reference(part, ldraw_dir)[:, :, ::-1])
        typer.echo(f"wrote {image}", err=True)
