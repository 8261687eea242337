"""The one contact-sheet tiler (legodata.contact_sheet) behind both previews: letterbox, grid, caption."""

import cv2
import numpy as np

from legodata.contact_sheet import caption, grid, letterbox, palette_bgr
from legodata.publish.preview import TILE, PreviewSheet


def test_letterbox_centres_the_scaled_image_and_maps_pixel_centres():
    image = np.full((10, 20, 3), 200, np.uint8)
    tile, place = letterbox(image, 40)
    assert tile.shape == (40, 40, 3) and (place.width, place.height, place.x0, place.y0) == (40, 20, 0, 10)
    assert (tile[10:30] == 200).all() and not tile[:10].any() and not tile[30:].any()  # black bars
    assert place.to_tile((0, 0)) == (0, 10) and place.to_tile((9.75, 4.75)) == (20, 20)  # x -> 2x + 0.5 + offset
    assert place.region(tile).shape == (20, 40, 3)
    small, place = letterbox(np.zeros((100, 50), np.uint16), 10)  # shrinking, any dtype and channel count
    assert small.shape == (10, 10) and small.dtype == np.uint16 and (place.width, place.x0) == (5, 2)
    grey, _ = letterbox(np.zeros((4, 8, 3), np.uint8), 8, background=40)
    assert (grey[:2] == 40).all() and not grey[2:6].any()


def test_grid_fills_rows_and_leaves_empty_cells_as_background():
    tiles = [np.full((4, 4, 3), v, np.uint8) for v in (10, 20, 30)]
    sheet = grid(tiles, columns=2, background=7)
    assert sheet.shape == (8, 8, 3)
    assert (sheet[:4, :4] == 10).all() and (sheet[:4, 4:] == 20).all() and (sheet[4:, :4] == 30).all()
    assert (sheet[4:, 4:] == 7).all()


def test_caption_and_palette():
    img = np.zeros((20, 60, 3), np.uint8)
    caption(img, "3001", (2, 15), palette_bgr(1))
    assert img.any()
    assert palette_bgr(3) == palette_bgr(3) != palette_bgr(4) and palette_bgr(1, 200) != palette_bgr(1)


def test_publish_preview_sheet_is_a_grid_of_letterboxed_tiles(tmp_path):
    sheet = PreviewSheet(limit=5)
    rng = np.random.default_rng(0)
    for g in "abcdef":
        mask = np.zeros((30, 60), np.uint16)
        mask[5:15, 10:30] = 1
        sheet.offer(g, rng.integers(0, 255, (30, 60, 3), dtype=np.uint8), mask)
    assert len(sheet.tiles) == 5 and all(t.shape == (TILE, TILE, 3) for t in sheet.tiles)
    assert not sheet.tiles[0][: TILE // 4].any()  # letterboxed: black bar above a 2:1 image
    assert sheet.write(tmp_path / "p.png")
    assert cv2.imread(str(tmp_path / "p.png")).shape == (2 * TILE, 4 * TILE, 3)
