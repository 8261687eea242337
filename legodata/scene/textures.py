"""Procedural surface prints: a pure function of (family, index) -> a BGR uint8 image (numpy + OpenCV drawing).

Each family is a kind of surface a robot's camera meets that is not LEGO: paper with handwriting, text and ruled
lines, wood grain, cutting mats, speckled desks (training families), and fabric, newsprint, stone and polka dots
(held out for ``--domain shift``). A scene references a texture by its store path ``textures/<family>-<index>.png``
(:func:`texture_path`); the image is made once per store from that name alone, so every machine makes the same one.
"""

from __future__ import annotations

import re
import zlib

import cv2
import numpy as np

TEXTURE_PX = 512
POOL = 48  # textures per family: bounded disk use, and still many different prints
TRAIN_FAMILIES = ("paper", "wood", "cutting_mat", "desk")
SHIFT_FAMILIES = ("fabric", "newsprint", "stone", "dots")
_PATH = re.compile(r"^textures/([a-z_]+)-(\d{3})\.png$")
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+=/."


def texture_path(family: str, index: int) -> str:
    """The store-relative path of procedural texture ``index`` of ``family``."""
    return f"textures/{family}-{index:03d}.png"


def parse_texture_path(path: str) -> tuple[str, int] | None:
    """``(family, index)`` of a procedural texture path, or None for any other path (e.g. a user's background)."""
    m = _PATH.match(path)
    if m is None or m.group(1) not in TRAIN_FAMILIES + SHIFT_FAMILIES:
        return None
    return m.group(1), int(m.group(2))


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a ``cells`` x ``cells`` random grid upsampled (bicubic) to ``size``."""
    grid = rng.random((cells, cells)).astype(np.float32)
    img = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / max(hi - lo, 1e-6)


def _base(rng: np.random.Generator, size: int, bgr: np.ndarray, spread: float) -> np.ndarray:
    """A surface of colour ``bgr`` (0-255) with a soft blotchy variation of +-``spread``."""
    shade = 1.0 + spread * (2.0 * smooth_noise(rng, size, 6) - 1.0)
    return np.clip(bgr[None, None, :] * shade[..., None], 0, 255).astype(np.float32)


def _ink(rng: np.random.Generator) -> tuple[float, float, float]:
    inks = ((40, 20, 10), (140, 40, 20), (20, 20, 160), (30, 110, 30), (60, 60, 60))
    b, g, r = inks[rng.integers(len(inks))]
    return float(b), float(g), float(r)


def _strokes(img: np.ndarray, rng: np.random.Generator, n: int, width: tuple[int, int]) -> None:
    """Handwriting-like ink: smooth random polylines."""
    size = img.shape[0]
    for _ in range(n):
        p = rng.uniform(0, size, 2)
        heading = rng.uniform(0, 2 * np.pi)
        pts = []
        for _ in range(int(rng.integers(8, 40))):
            heading += rng.normal(0, 0.6)
            p = p + 6.0 * np.array([np.cos(heading), np.sin(heading)])
            pts.append(p.copy())
        cv2.polylines(img, [np.int32(pts)], False, _ink(rng), int(rng.integers(*width)), cv2.LINE_AA)


def _text(img: np.ndarray, rng: np.random.Generator, lines: int, scale: tuple[float, float], ink=None) -> None:
    """Text-like marks: rows of random letters in Hershey fonts."""
    size = img.shape[0]
    y = rng.uniform(10, 40)
    for _ in range(lines):
        words = " ".join("".join(rng.choice(list(_LETTERS), rng.integers(1, 9))) for _ in range(rng.integers(2, 8)))
        s = float(rng.uniform(*scale))
        colour = ink or _ink(rng)
        cv2.putText(img, words, (int(rng.uniform(0, 60)), int(y)), int(rng.integers(0, 8)), s, colour, 1, cv2.LINE_AA)
        y += 30.0 * s + rng.uniform(4, 20)
        if y > size:
            break


def _lines(img: np.ndarray, step: float, colour, width: int, vertical: bool = False, offset: float = 0.0) -> None:
    size = img.shape[0]
    for x in np.arange(offset % step, size, step):
        a, b = ((int(x), 0), (int(x), size)) if vertical else ((0, int(x)), (size, int(x)))
        cv2.line(img, a, b, colour, width, cv2.LINE_AA)


def _paper(rng, size):
    img = _base(rng, size, rng.uniform([200, 205, 210], [250, 252, 255]), 0.04)
    if rng.random() < 0.5:
        _lines(img, rng.uniform(14, 30), (200, 170, 150), 1, offset=rng.uniform(0, 30))
    if rng.random() < 0.3:
        _lines(img, rng.uniform(14, 30), (200, 170, 150), 1, vertical=True)
    _text(img, rng, int(rng.integers(3, 14)), (0.4, 1.0))
    _strokes(img, rng, int(rng.integers(2, 10)), (1, 4))
    return img


def _wood(rng, size):
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    warp = 40.0 * smooth_noise(rng, size, 5)
    grain = 0.5 + 0.5 * np.sin((y + warp) * rng.uniform(0.08, 0.25) + 3.0 * smooth_noise(rng, size, 12))
    dark, light = rng.uniform([20, 50, 80], [60, 90, 130]), rng.uniform([70, 120, 160], [130, 180, 220])
    img = dark[None, None] + (light - dark)[None, None] * grain[..., None]
    if rng.random() < 0.5:
        _strokes(img, rng, int(rng.integers(1, 4)), (1, 3))
    return img.astype(np.float32)


def _cutting_mat(rng, size):
    colours = ([60, 110, 40], [90, 90, 90], [120, 70, 30], [40, 40, 40])
    img = _base(rng, size, np.array(colours[rng.integers(len(colours))], float), 0.05)
    step, light = rng.uniform(16, 40), (200, 210, 200)
    _lines(img, step, light, 1)
    _lines(img, step, light, 1, vertical=True)
    _lines(img, step * 5, light, 2)
    _lines(img, step * 5, light, 2, vertical=True)
    _text(img, rng, int(rng.integers(1, 4)), (0.3, 0.6), ink=light)
    return img


def _desk(rng, size):
    img = _base(rng, size, rng.uniform(40, 230, 3), 0.12)
    img += rng.normal(0, rng.uniform(2, 10), img.shape).astype(np.float32)
    _strokes(img, rng, int(rng.integers(0, 5)), (1, 3))
    if rng.random() < 0.5:
        _text(img, rng, int(rng.integers(1, 5)), (0.4, 1.2))
    return img


def _fabric(rng, size):
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    a, b = rng.uniform(20, 230, 3), rng.uniform(20, 230, 3)
    fx, fy = rng.uniform(0.05, 0.3, 2)
    weave = 0.5 + 0.25 * np.sin(x * fx) + 0.25 * np.sin(y * fy)
    return (a[None, None] * weave[..., None] + b[None, None] * (1 - weave[..., None])).astype(np.float32)


def _newsprint(rng, size):
    img = _base(rng, size, rng.uniform([170, 175, 180], [215, 220, 225]), 0.03)
    cols = int(rng.integers(2, 5))
    w = size // cols
    for c in range(cols):
        block = img[:, c * w + 4 : (c + 1) * w - 4]
        _text(block, rng, 40, (0.3, 0.45), ink=(30, 30, 30))
        if rng.random() < 0.4:
            y0 = int(rng.uniform(0, size * 0.6))
            block[y0 : y0 + int(rng.uniform(40, 120))] = rng.uniform(60, 160)
    return img


def _stone(rng, size):
    img = _base(rng, size, rng.uniform(120, 230, 3), 0.15)
    for _ in range(int(rng.integers(100, 400))):
        c = tuple(float(v) for v in rng.uniform(30, 250, 3))
        centre = (int(rng.uniform(0, size)), int(rng.uniform(0, size)))
        axes = (int(rng.uniform(2, 12)), int(rng.uniform(2, 12)))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, c, -1, cv2.LINE_AA)
    return img


def _dots(rng, size):
    img = _base(rng, size, rng.uniform(30, 240, 3), 0.03)
    step, r = rng.uniform(20, 60), rng.uniform(3, 12)
    colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
    for y in np.arange(0, size + step, step):
        for x in np.arange((y / step % 2) * step / 2, size + step, step):
            cv2.circle(img, (int(x), int(y)), int(r), colour, -1, cv2.LINE_AA)
    return img


_MAKERS = {
    "paper": _paper,
    "wood": _wood,
    "cutting_mat": _cutting_mat,
    "desk": _desk,
    "fabric": _fabric,
    "newsprint": _newsprint,
    "stone": _stone,
    "dots": _dots,
}


def procedural_texture(family: str, index: int, size: int = TEXTURE_PX) -> np.ndarray:
    """Texture ``index`` of ``family``: a (size, size, 3) BGR uint8 image, the same on every machine."""
    if family not in _MAKERS:
        raise ValueError(f"unknown texture family {family!r}; use one of {', '.join(_MAKERS)}")
    rng = np.random.default_rng([zlib.crc32(family.encode()), index])
    img = _MAKERS[family](rng, size)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
