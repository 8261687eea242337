"""`legodata preview` on an assembly store draws the per-step sheet (manual | observation | mask | axes)."""

import cv2
from support.assembly_records import assembly_store
from typer.testing import CliRunner

from legodata.cli import app


def test_preview_of_an_assembly_store_is_the_steps_sheet(tmp_path):
    assembly_store(tmp_path / "store")
    r = CliRunner().invoke(app, ["preview", str(tmp_path / "store"), "--out", str(tmp_path / "p.png"), "--n", "2"])
    assert r.exit_code == 0, r.output
    sheet = cv2.imread(str(tmp_path / "p.png"))
    assert sheet is not None
    assert sheet.shape[1] > 3 * sheet.shape[0] // 2  # rows of four tiles side by side: wider than tall
