"""``legodata predict RUN PHOTOS_DIR``: a contact sheet of a run's predictions on photos, for a person to judge.

A mask run: each tile is a photo with the predicted mask of one query (part, colour) tinted and outlined, the query
and the share of the photo it covers written on it; several queries make one column each. A rotation run: the part's
crop comes from a mask run's prediction (``mask_run``) or, without one, the centre square of the photo is taken as
the part; the predicted model axes are drawn at the crop's centre as ``legodata preview`` draws ground truth (X red,
Y green, Z blue), with the network's confidence. The header says what was assumed: the crop, the intrinsics (a
camera file or a default field of view).

Photos are read with OpenCV (EXIF orientation applied), shrunk to at most :data:`WORK_SIDE` pixels on their longer
side before predicting (the models take 64-256 px inputs), and drawn letterboxed into :data:`TILE` px tiles.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from legodata.contact_sheet import Placement, caption, grid, letterbox
from legodata.errors import LegodataError
from legodata.geometry.crops import resize
from legodata.preview import AXIS_COLOURS_BGR, project_axes

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
TILE = 384
WORK_SIDE = 1024
DEFAULT_FOV_DEG = 60.0  # horizontal; a phone's main camera or a webcam is 60-75 degrees
TINTS_BGR = ((255, 0, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (0, 128, 255))  # one per query column
LINE_PX = 22
CROP_SIZE = 128  # the publisher's default crop; the predictor shrinks it to the model's size as training did

IntrinsicsFn = Callable[[int, int, Path], np.ndarray]  # (width, height, photo) -> K at that size


@dataclass(frozen=True)
class Query:
    """What to look for: a part id and, for masks, an LDraw colour code."""

    part_id: str
    colour_code: int | None = None

    @property
    def label(self) -> str:
        if self.colour_code is None:
            return self.part_id
        from legodata.parts.colours import UnknownColourError, get_colour

        try:
            return f"{self.part_id} / {self.colour_code} {get_colour(self.colour_code).name}"
        except UnknownColourError:
            return f"{self.part_id} / {self.colour_code}"


@dataclass(frozen=True)
class TileResult:
    """One tile: which photo and query, where it sits on the sheet, and what was predicted."""

    photo: Path
    query: Query
    x0: int  # tile's top-left corner on the sheet
    y0: int
    place: Placement  # the working-size photo inside the tile
    work_size: tuple[int, int]  # (width, height) the photo was predicted at
    coverage: float  # share of the photo's pixels in the mask (the mask used for the crop, for rotation runs)
    confidence: float | None = None  # rotation runs
    R_m2c: np.ndarray | None = None


@dataclass(frozen=True)
class SheetSummary:
    path: Path
    kind: str  # mask | rot
    notes: tuple[str, ...]  # the header's lines
    tiles: tuple[TileResult, ...] = field(default_factory=tuple)


def parse_queries(part: str | None, colour: str | None, *, need_colour: bool, run_kind: str) -> list[Query]:
    """``--part 3001,3039 --colour 4,1`` -> one query per part; one colour applies to every part."""
    if not part:
        raise LegodataError(f"--part is needed: the {run_kind} run predicts one part id (comma-separate several)")
    parts = [p.strip() for p in part.split(",") if p.strip()]
    if colour is None:
        if need_colour:
            raise LegodataError("--colour is needed for masks: an LDraw colour code (see `legodata colours`)")
        return [Query(p) for p in parts]
    try:
        codes = [int(c) for c in colour.split(",") if c.strip()]
    except ValueError:
        raise LegodataError(f"--colour {colour!r}: expected LDraw colour codes like 4 or 4,1") from None
    if len(codes) == 1:
        codes = codes * len(parts)
    if len(codes) != len(parts):
        raise LegodataError(f"--colour {colour!r}: give one colour, or one per --part ({len(parts)})")
    return [Query(p, c) for p, c in zip(parts, codes)]


def list_photos(folder: str | Path) -> list[Path]:
    """The photos of ``folder`` (by suffix, sorted); other files are named in a warning, never skipped silently."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise LegodataError(f"PHOTOS_DIR {folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    photos = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    others = [p.name for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        logger.warning("%s: skipped %d file(s) that are not photos: %s", folder, len(others), ", ".join(others))
    if not photos:
        raise LegodataError(f"PHOTOS_DIR {folder} holds no photos ({', '.join(IMAGE_SUFFIXES)})")
    return photos


def read_photo(path: Path) -> np.ndarray:
    """RGB uint8 of a photo (any bit depth, grey or with alpha), or a one-line error naming the file."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise LegodataError(f"photo {path}: cannot be read as an image (remove it or convert it to PNG/JPEG)")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def working_copy(rgb: np.ndarray, side: int = WORK_SIDE) -> tuple[np.ndarray, float]:
    """The photo shrunk to at most ``side`` px on its longer side, and the scale applied."""
    h, w = rgb.shape[:2]
    s = min(1.0, side / max(h, w))
    if s == 1.0:
        return rgb, 1.0
    return resize(rgb, max(1, round(w * s)), max(1, round(h * s))), s


def scale_intrinsics(K: np.ndarray, s: float) -> np.ndarray:
    """``K`` of the same camera after resizing the image by ``s`` (pixel centres at integer coordinates)."""
    K = np.asarray(K, float).copy()
    K[0, 0], K[0, 1], K[1, 1] = K[0, 0] * s, K[0, 1] * s, K[1, 1] * s
    K[0, 2], K[1, 2] = s * (K[0, 2] + 0.5) - 0.5, s * (K[1, 2] + 0.5) - 0.5
    return K


def default_intrinsics(fov_deg: float = DEFAULT_FOV_DEG) -> IntrinsicsFn:
    """Intrinsics of a centred pinhole camera with a ``fov_deg`` horizontal field of view, at any photo size."""
    from legodata.scene.camera import intrinsics_from_fov

    return lambda w, h, photo: intrinsics_from_fov(w, h, fov_deg)


def tinted_tile(rgb: np.ndarray, mask: np.ndarray | None, tint_bgr, tile: int = TILE) -> tuple[np.ndarray, Placement]:
    """The photo letterboxed into a tile, ``mask`` (at the photo's size) blended 45 % with ``tint_bgr`` and outlined."""
    canvas, place = letterbox(np.ascontiguousarray(rgb[:, :, ::-1]), tile, background=32)
    if mask is None or not mask.any():
        return canvas, place
    small = resize(mask.astype(np.uint8), place.width, place.height, nearest=True)
    region = place.region(canvas)
    sel = small > 0
    region[sel] = np.clip(0.55 * region[sel] + 0.45 * np.float32(tint_bgr), 0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(region, contours, -1, tint_bgr, 2, cv2.LINE_AA)
    return canvas, place


def draw_rotation(canvas: np.ndarray, place: Placement, K, R_m2c, box: tuple[int, int, int]) -> None:
    """The crop box and the model axes of ``R_m2c`` at the box centre (drawn at a nominal depth of 1 m, each axis
    ~40 % of the box: only the directions are predicted)."""
    x0, y0, size = box
    a, b = place.to_tile((x0, y0)), place.to_tile((x0 + size - 1, y0 + size - 1))
    cv2.rectangle(canvas, a, b, (0, 0, 0), 3, cv2.LINE_AA)  # a dark rim: visible on white paper too
    cv2.rectangle(canvas, a, b, (255, 255, 255), 1, cv2.LINE_AA)
    centre = np.array([x0 + (size - 1) / 2.0, y0 + (size - 1) / 2.0, 1.0])
    t = np.linalg.solve(np.asarray(K, float), centre)
    uv = project_axes(K, R_m2c, t, 0.4 * size / float(np.asarray(K)[0, 0]))
    if not np.isfinite(uv).all():
        return
    origin = place.to_tile(uv[0])
    for k in (2, 1, 0):  # X drawn last, on top
        end = place.to_tile(uv[k + 1])
        cv2.arrowedLine(canvas, origin, end, AXIS_COLOURS_BGR[k], 3, cv2.LINE_AA, tipLength=0.15)
    cv2.circle(canvas, origin, 4, (255, 255, 255), -1, cv2.LINE_AA)


def header(lines: list[str], width: int) -> np.ndarray:
    """A dark band with ``lines`` (wrapped to ``width``) in white."""
    wrapped: list[str] = []
    for line in lines:
        words, cur = line.split(" "), ""
        for word in words:
            trial = f"{cur} {word}".strip()
            if cur and cv2.getTextSize(trial, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0][0] > width - 12:
                wrapped.append(cur)
                cur = word
            else:
                cur = trial
        wrapped.append(cur)
    band = np.full((LINE_PX * len(wrapped) + 8, width, 3), 24, np.uint8)
    for n, text in enumerate(wrapped):
        caption(band, text, (6, LINE_PX * (n + 1)), (255, 255, 255), 0.5)
    return band


def layout_columns(n_photos: int, n_queries: int) -> int:
    """One column per query when there are several; else a near-square grid of photos."""
    return n_queries if n_queries > 1 else max(1, math.ceil(math.sqrt(n_photos)))


def write_sheet(path: Path, tiles: list[np.ndarray], columns: int, notes: list[str]) -> int:
    """The header over the grid of tiles, written atomically as a PNG; returns the header's height."""
    from legodata.core.atomic import atomic_open

    body = grid(tiles, columns=columns, background=32)
    top = header(notes, body.shape[1])
    ok, png = cv2.imencode(".png", np.vstack([top, body]))
    if not ok:
        raise LegodataError(f"--out {path}: cannot encode the sheet as PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        fh.write(png.tobytes())
    return top.shape[0]


@dataclass
class _Context:
    predictor: object  # MaskPredictor | RotationPredictor
    masker: object | None  # MaskPredictor for a rotation run's crops
    intrinsics: IntrinsicsFn
    threshold: float
    tile: int


def predict_sheet(
    run: str | Path,
    photos_dir: str | Path,
    out: str | Path,
    part: str | None,
    colour: str | None = None,
    *,
    mask_run: str | Path | None = None,
    intrinsics: IntrinsicsFn | None = None,
    intrinsics_note: str | None = None,
    checkpoint: str = "best",
    device: str = "cpu",
    threshold: float = 0.5,
    tile: int = TILE,
) -> SheetSummary:
    """Predict with ``run`` on every photo of ``photos_dir`` and write the sheet ``out`` (see the module doc).

    Photos that cannot be read are skipped with a warning naming them (and listed on the sheet); a folder without a
    readable photo is an error."""
    from legodata.train.predict import MaskPredictor, open_predictor

    predictor = open_predictor(run, checkpoint, device)
    kind = predictor.kind
    if kind == "mask" and mask_run is not None:
        raise LegodataError(f"--mask-run is for rotation runs; {run} is a mask run")
    masker = MaskPredictor(mask_run, checkpoint, device) if mask_run is not None else None
    queries = parse_queries(part, colour, need_colour=kind == "mask" or masker is not None, run_kind=kind)
    for q in queries:
        for p in (predictor, masker):
            if p is not None:
                p.vocab.part_index(q.part_id, f" (--part, run {p.run_dir})")
    photos = list_photos(photos_dir)
    ctx = _Context(predictor, masker, intrinsics or default_intrinsics(), threshold, tile)
    notes = [f"legodata predict: {kind} run {Path(run).name} ({checkpoint}.pt); " + ", ".join(q.label for q in queries)]
    if kind == "rot":
        notes.append(_crop_note(mask_run) + "; axes X red, Y green, Z blue, drawn at the crop centre")
        notes.append(intrinsics_note or f"intrinsics: no --camera, a {DEFAULT_FOV_DEG:g} deg horizontal FOV assumed")
    tiles, found, skipped = [], [], []
    for photo in photos:
        try:
            rgb = read_photo(photo)
        except LegodataError as exc:
            logger.warning("skipped %s", exc)
            skipped.append(photo.name)
            continue
        work, s = working_copy(rgb)
        K = None if kind == "mask" else scale_intrinsics(ctx.intrinsics(rgb.shape[1], rgb.shape[0], photo), s)
        for n, q in enumerate(queries):
            canvas, result = (_mask_tile if kind == "mask" else _rot_tile)(ctx, photo, work, q, n, K)
            tiles.append(canvas)
            found.append(result)
    if not tiles:
        raise LegodataError(f"PHOTOS_DIR {photos_dir}: none of its photos can be read ({', '.join(skipped)})")
    if skipped:
        notes.append(f"skipped (cannot be read): {', '.join(skipped)}")
    columns = layout_columns(len(tiles) // len(queries), len(queries))
    top = write_sheet(Path(out), tiles, columns, notes)
    placed = tuple(
        _at(r, (n % columns) * tile, top + (n // columns) * tile) for n, r in enumerate(found)
    )  # fmt: skip
    return SheetSummary(Path(out), kind, tuple(notes), placed)


def _at(result: TileResult, x0: int, y0: int) -> TileResult:
    from dataclasses import replace

    return replace(result, x0=x0, y0=y0)


def _crop_note(mask_run) -> str:
    if mask_run is not None:
        return f"crop: around the mask predicted by {Path(mask_run).name} (outlined)"
    return "crop: no --mask-run, the centre square of each photo taken as the part"


def _captions(canvas: np.ndarray, tint, top: list[str], photo: Path) -> None:
    for n, text in enumerate(top):
        caption(canvas, text, (6, 18 + 20 * n), tint if n == 0 else (255, 255, 255), 0.5)
    caption(canvas, photo.name, (6, canvas.shape[0] - 8), (255, 255, 255), 0.45)


def _mask_tile(ctx: _Context, photo: Path, rgb: np.ndarray, q: Query, n: int, K) -> tuple[np.ndarray, TileResult]:
    mask = ctx.predictor.predict(rgb, q.part_id, int(q.colour_code), ctx.threshold)
    tint = TINTS_BGR[n % len(TINTS_BGR)]
    canvas, place = tinted_tile(rgb, mask, tint, ctx.tile)
    coverage = float(mask.mean())
    _captions(canvas, tint, [q.label, f"mask: {100 * coverage:.1f}% of the photo"], photo)
    size = (rgb.shape[1], rgb.shape[0])
    return canvas, TileResult(photo, q, 0, 0, place, size, coverage)


def _rot_tile(ctx: _Context, photo: Path, rgb: np.ndarray, q: Query, n: int, K) -> tuple[np.ndarray, TileResult]:
    from legodata.geometry import crops as crop_ops
    from legodata.train.predict import mask_box

    h, w = rgb.shape[:2]
    tint = TINTS_BGR[n % len(TINTS_BGR)]
    size = (w, h)
    if ctx.masker is not None:
        mask = ctx.masker.predict(rgb, q.part_id, int(q.colour_code), ctx.threshold)
        canvas, place = tinted_tile(rgb, mask, tint, ctx.tile)
        if not mask.any():
            _captions(canvas, tint, [q.label, "no mask predicted: no rotation"], photo)
            return canvas, TileResult(photo, q, 0, 0, place, size, 0.0)
        box = mask_box(mask)
    else:
        side = min(w, h)
        box = ((w - side) // 2, (h - side) // 2, side)
        mask = np.zeros((h, w), bool)
        mask[box[1] : box[1] + side, box[0] : box[0] + side] = True
        canvas, place = tinted_tile(rgb, None, tint, ctx.tile)
    crop = crop_ops.crop_image(rgb, box, CROP_SIZE)
    crop_mask = crop_ops.crop_mask(mask.astype(np.uint8), 1, box, CROP_SIZE)
    pred = ctx.predictor.predict_crops([crop], [crop_mask], [q.part_id], K=K, boxes=[box])[0]
    draw_rotation(canvas, place, K, pred.R_m2c, box)
    _captions(canvas, tint, [q.label, f"rotation confidence {pred.confidence:.2f}"], photo)
    return canvas, TileResult(photo, q, 0, 0, place, size, float(mask.mean()), pred.confidence, pred.R_m2c)
