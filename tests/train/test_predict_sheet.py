"""``legodata predict``: sheets of a real trained run's predictions on a folder of photos (here the cuboid store's
images, saved as files), checked pixel by pixel against the predictors' own answers."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from legodata.cli import app
from legodata.contact_sheet import letterbox
from legodata.errors import LegodataError
from legodata.geometry.crops import resize
from legodata.preview import AXIS_COLOURS_BGR
from legodata.train import data
from legodata.train.loop import TrainConfig, train
from legodata.train.predict import MaskPredictor, RotationPredictor
from legodata.train.predict_sheet import TILE, TINTS_BGR, default_intrinsics, predict_sheet

torch = pytest.importorskip("torch")


def _cfg(task, dataset, out, **kw):
    base = dict(epochs=2, batch_size=8, image_size=32 if task == "rot" else 64, lr=2e-3, quiet=True, base=8)
    return TrainConfig(task=task, dataset=str(dataset), out=str(out), **{**base, **kw})


@pytest.fixture(scope="module")
def runs(published, tmp_path_factory):
    """A mask run that has learnt 4 training scenes, and a one-epoch rotation run (real torch steps)."""
    root = tmp_path_factory.mktemp("predict")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(_cfg("mask", published.out, root / "mask", epochs=25, batch_size=4, image_size=32, lr=1e-2, limit=4))
        train(_cfg("rot", published.out, root / "rot", epochs=1, limit=8))
    finally:
        torch.set_num_threads(before)
    return root / "mask", root / "rot"


@pytest.fixture(scope="module")
def photos(published, tmp_path_factory):
    """The first 4 training images as PNG/JPEG files, one of them cut to 64x40 (not square), with their queries."""
    folder = tmp_path_factory.mktemp("photos")
    ids = data.open_dataset(str(published.out), "scenes")["train"]["record_id"][:4]
    by_id = {r.record_id: r for r in published.store.iter_records()}
    queries = []
    for n, rid in enumerate(ids):
        rec = by_id[rid]
        bgr = cv2.imread(str(published.store.root / rec.image_path), cv2.IMREAD_COLOR)
        if n == 3:
            bgr = bgr[12:52]
        cv2.imwrite(str(folder / f"p{n}.{'jpg' if n == 2 else 'png'}"), bgr)
        queries += [(i.part_id, i.colour_code) for i in rec.instances if i.px_count_visib > 0]
    return folder, queries


def _read_rgb(path: Path) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1])


def _tile(sheet: np.ndarray, t) -> np.ndarray:
    return sheet[t.y0 : t.y0 + TILE, t.x0 : t.x0 + TILE]


def test_mask_sheet_tints_exactly_the_predicted_mask(runs, photos, tmp_path):
    mask_run, _ = runs
    folder, queries = photos
    part, colour = queries[0]
    out = tmp_path / "sheet.png"
    summary = predict_sheet(mask_run, folder, out, part, str(colour), device="cpu")
    sheet = cv2.imread(str(out), cv2.IMREAD_COLOR)
    assert summary.kind == "mask" and len(summary.tiles) == 4
    predictor = MaskPredictor(mask_run)
    inside_px = 0
    for t in summary.tiles:
        rgb = _read_rgb(t.photo)
        assert t.work_size == (rgb.shape[1], rgb.shape[0])
        mask = predictor.predict(rgb, part, colour)
        assert t.coverage == pytest.approx(mask.mean())
        plain, place = letterbox(np.ascontiguousarray(rgb[:, :, ::-1]), TILE, background=32)
        assert place == t.place
        small = resize(mask.astype(np.uint8), place.width, place.height, nearest=True)
        got, want = place.region(_tile(sheet, t)).astype(int), place.region(plain).astype(int)
        tinted = np.clip(0.55 * want + 0.45 * np.array(TINTS_BGR[0]), 0, 255).astype(np.uint8).astype(int)
        free = np.zeros(small.shape, bool)  # away from the outline and the captions
        free[max(0, 50 - place.y0) : max(0, TILE - 24 - place.y0)] = True
        kernel = np.ones((7, 7), np.uint8)
        # the outline runs along the photo's edge too where the mask touches it: the edge is not inside
        inside = (cv2.erode(small, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0) & free
        outside = (cv2.erode(1 - small, kernel) > 0) & free
        assert np.abs(got[inside] - tinted[inside]).max(initial=0) <= 1
        assert np.abs(got[outside] - want[outside]).max(initial=0) == 0
        inside_px += int(inside.sum())
    assert inside_px > 500  # the model masked something, and the sheet shows it
    assert any(t.place.width != t.place.height for t in summary.tiles)  # the cut photo kept its shape


def test_several_queries_one_column_each_through_the_cli(runs, photos, tmp_path):
    mask_run, _ = runs
    folder, queries = photos
    (a, ca), (b, cb) = queries[0], next(q for q in queries if q[0] != queries[0][0])
    out = tmp_path / "two.png"
    args = ["predict", str(mask_run), str(folder), "--out", str(out), "--part", f"{a},{b}", "--colour", f"{ca},{cb}"]
    r = CliRunner().invoke(app, [*args, "--device", "cpu"])
    assert r.exit_code == 0, r.output
    sheet = cv2.imread(str(out), cv2.IMREAD_COLOR)
    assert sheet.shape[1] == 2 * TILE and sheet.shape[0] > 4 * TILE  # 4 photos x 2 queries, under a header
    lines = r.output.strip().splitlines()
    assert len(lines) == 9 and lines[-1] == f"{out}: 8 tiles" and f"p0.png  {a} / {ca}" in lines[0]


def test_rotation_sheet_draws_the_predicted_axes(runs, photos, tmp_path):
    _, rot_run = runs
    folder, queries = photos
    part = queries[0][0]
    out = tmp_path / "rot.png"
    summary = predict_sheet(rot_run, folder, out, part, None, device="cpu")
    sheet = cv2.imread(str(out), cv2.IMREAD_COLOR)
    assert summary.kind == "rot" and any("centre square" in n for n in summary.notes)
    assert any("60 deg" in n for n in summary.notes)
    predictor = RotationPredictor(rot_run)
    for t in summary.tiles:
        rgb = _read_rgb(t.photo)
        h, w = rgb.shape[:2]
        side = min(w, h)
        box = ((w - side) // 2, (h - side) // 2, side)
        K = default_intrinsics()(w, h, t.photo)
        crop = cv2.resize(rgb[box[1] : box[1] + side, box[0] : box[0] + side], (128, 128), interpolation=cv2.INTER_AREA)
        want = predictor.predict_crops([crop], [np.ones((128, 128), np.uint8)], [part], K=K, boxes=[box])[0]
        np.testing.assert_allclose(t.R_m2c, want.R_m2c, atol=1e-5)
        tile = _tile(sheet, t).astype(int)
        centre = np.array(t.place.to_tile((box[0] + (side - 1) / 2, box[1] + (side - 1) / 2)), float)
        p = np.linalg.solve(K, [box[0] + (side - 1) / 2, box[1] + (side - 1) / 2, 1.0])
        seen = 0
        for k, colour in enumerate(AXIS_COLOURS_BGR):
            ys, xs = np.nonzero(np.abs(tile - colour).sum(axis=2) == 0)
            q = K @ (p + 1e-3 * t.R_m2c[:, k])
            expected = q[:2] / q[2] - (K @ p)[:2]  # where a small step along the predicted axis goes in the image
            if len(xs) < 15:  # an axis seen nearly end-on is a dot under the others
                assert np.linalg.norm(expected) < 0.5e-3 * K[0, 0], (t.photo.name, k, len(xs))
                continue
            seen += 1
            drawn = np.array([xs.mean(), ys.mean()]) - centre
            cos = drawn @ expected / np.linalg.norm(drawn) / np.linalg.norm(expected)
            assert cos > 0.9, (t.photo.name, k, cos)
        assert seen >= 2


def test_rotation_sheet_crops_around_a_mask_runs_mask(runs, photos, tmp_path):
    mask_run, rot_run = runs
    folder, queries = photos
    part, colour = queries[0]
    summary = predict_sheet(rot_run, folder, tmp_path / "r.png", part, str(colour), mask_run=mask_run, device="cpu")
    assert any("mask predicted by" in n for n in summary.notes)
    masker = MaskPredictor(mask_run)
    with_mask = [t for t in summary.tiles if t.confidence is not None]
    assert with_mask
    for t in summary.tiles:
        assert t.coverage == pytest.approx(masker.predict(_read_rgb(t.photo), part, colour).mean())
        assert (t.confidence is None) == (t.coverage == 0)


def test_bad_input_is_one_line(runs, photos, tmp_path):
    mask_run, rot_run = runs
    folder, queries = photos
    part, colour = queries[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a photo")
    with pytest.raises(LegodataError, match="holds no photos"):
        predict_sheet(mask_run, empty, tmp_path / "s.png", part, str(colour), device="cpu")
    with pytest.raises(LegodataError, match="no such folder"):
        predict_sheet(mask_run, tmp_path / "nope", tmp_path / "s.png", part, str(colour), device="cpu")
    with pytest.raises(LegodataError, match="--colour is needed"):
        predict_sheet(mask_run, folder, tmp_path / "s.png", part, None, device="cpu")
    with pytest.raises(LegodataError, match="not one the model was trained on"):
        predict_sheet(mask_run, folder, tmp_path / "s.png", "9999", str(colour), device="cpu")
    with pytest.raises(LegodataError, match="--mask-run is for rotation runs"):
        predict_sheet(mask_run, folder, tmp_path / "s.png", part, str(colour), mask_run=mask_run, device="cpu")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(LegodataError, match="bad.jpg"):
        predict_sheet(mask_run, broken, tmp_path / "s.png", part, str(colour), device="cpu")
    assert not (tmp_path / "s.png").exists()

    # a readable photo beside the broken one: the sheet is made, the broken file named on stderr and on the sheet
    cv2.imwrite(str(broken / "good.png"), cv2.imread(str(next(folder.glob("p0.png")))))
    out = tmp_path / "mixed.png"
    args = ["predict", str(rot_run), str(broken), "-o", str(out), "--part", part, "--device", "cpu"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "bad.jpg" in r.stderr and "cannot be read" in r.stderr
    assert r.stdout.splitlines()[-1] == f"{out}: 1 tiles"
    for bad, match in (
        ([str(mask_run), str(empty), "-o", str(out), "--part", part, "--colour", str(colour)], "holds no photos"),
        ([str(mask_run), str(folder), "-o", str(out), "--part", part], "--colour is needed"),
        ([str(mask_run), str(folder), "-o", str(tmp_path / "s.jpg"), "--part", part, "--colour", "4"], ".png"),
    ):
        r = CliRunner().invoke(app, ["predict", *bad, "--device", "cpu"])
        assert r.exit_code != 0 and isinstance(r.exception, LegodataError) and match in str(r.exception)
        assert "\n" not in str(r.exception)
