"""``legodata predict RUN PHOTOS_DIR --out SHEET.png``: a run's predictions on photos, as a sheet to judge by eye."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from legodata.commands import options
from legodata.commands.app import app
from legodata.commands.options import Quiet, Verbose, device_option, out_option


def _intrinsics(camera: str | None, fov: float):
    """``(intrinsics function, header note)`` from a camera file, else a default field of view."""
    from legodata.train.predict_sheet import default_intrinsics

    if camera is None:
        return default_intrinsics(fov), f"intrinsics: no --camera, a centred pinhole with a {fov:g} deg horizontal FOV"
    from legodata.annotate.camera_info import load_camera_info

    cam = load_camera_info(camera)
    note = f"intrinsics: {Path(camera).name} ({cam.width}x{cam.height}, scaled to each photo)"
    if cam.has_distortion:
        note += "; lens distortion not corrected"
    return (lambda w, h, photo: cam.for_image(w, h, photo).K), note


@app.command("predict")
def predict_command(
    run: Annotated[str, typer.Argument(help="RUN_DIR of train-mask or train-rot.")],
    photos_dir: Annotated[str, typer.Argument(help="Folder of photos (png, jpg, bmp, tif, webp; any size).")],
    out: Annotated[str, out_option("The sheet to write (PNG).")],
    part: Annotated[
        str | None, typer.Option(help="Part id to look for; comma-separate several (one column each).")
    ] = None,
    colour: Annotated[
        str | None, typer.Option(help="LDraw colour code of the part (one, or one per --part); masks need it.")
    ] = None,
    mask_run: Annotated[
        str | None, typer.Option(help="Rotation runs: a train-mask RUN_DIR whose mask places the part's crop.")
    ] = None,
    camera: Annotated[
        str | None, typer.Option(help="Rotation runs: camera file (OpenCV or ROS camera_info YAML).")
    ] = None,
    fov: Annotated[float, typer.Option(help="Horizontal field of view in degrees when no --camera is given.")] = 60.0,
    threshold: Annotated[float, typer.Option(help="Mask probability threshold.")] = 0.5,
    checkpoint: Annotated[str, typer.Option(help="best | last.")] = "best",
    device: Annotated[str, device_option("auto | cpu | cuda.")] = "auto",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write a sheet of the photos with the run's predicted masks (mask runs) or model axes (rotation runs).

    Without --mask-run a rotation run takes the centre square of each photo as the part; the sheet says so."""
    options.setup(quiet, verbose)
    from legodata.errors import LegodataError

    if not 0.0 < threshold < 1.0:
        raise LegodataError(f"--threshold {threshold}: must be between 0 and 1")
    if not 1.0 <= fov <= 170.0:
        raise LegodataError(f"--fov {fov}: must be between 1 and 170 degrees")
    if not out.lower().endswith(".png"):
        raise LegodataError(f"--out {out}: the sheet is a PNG; give a path ending in .png")
    from legodata.train import torch_module

    torch_module()
    from legodata.train.predict_sheet import predict_sheet

    intrinsics, note = _intrinsics(camera, fov)
    summary = predict_sheet(
        run, photos_dir, out, part, colour, mask_run=mask_run, intrinsics=intrinsics, intrinsics_note=note,
        checkpoint=checkpoint, device=device, threshold=threshold,
    )  # fmt: skip
    for t in summary.tiles:
        what = f"mask covers {100 * t.coverage:.1f}%"
        if summary.kind == "rot":
            what = "no mask" if t.confidence is None else f"rotation confidence {t.confidence:.2f}"
        typer.echo(f"{t.photo.name}  {t.query.label}: {what}")
    typer.echo(f"{summary.path}: {len(summary.tiles)} tiles")
