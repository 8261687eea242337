"""What a real camera does to an image after the light reaches it, as pure numpy/OpenCV post-processing of the RGB.

Applied in linear light, in this order: white balance, auto exposure (the mean brightness brought to mid grey) times
the exposure bias, vignetting, defocus (disc) blur, motion
(line) blur, sensor noise (shot + read), then back to sRGB 8 bit and through a JPEG round trip. Masks and depth are
never touched: a camera effect moves no object. :func:`apply_camera_effects` is deterministic for the effects'
``seed`` (the noise comes from it).
"""

from __future__ import annotations

import cv2
import numpy as np

from legodata.core.spec import CameraEffects

AUTO_EXPOSURE_TARGET = 0.18


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] -> linear light."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB in [0, 1] (clipped)."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def _disc_kernel(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    k = np.clip(radius + 0.5 - np.hypot(x, y), 0.0, 1.0)  # anti-aliased disc
    return (k / k.sum()).astype(np.float32)


def _line_kernel(length: float, angle_deg: float) -> np.ndarray:
    r = int(np.ceil(length / 2.0)) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    a = np.radians(angle_deg)
    d = np.array([np.cos(a), np.sin(a)]) * length / 2.0
    p0, p1 = np.array([r, r]) - d, np.array([r, r]) + d
    cv2.line(k, tuple(int(v) for v in np.rint(p0 * 16)), tuple(int(v) for v in np.rint(p1 * 16)), 1.0, 1,
             cv2.LINE_AA, shift=4)  # fmt: skip
    return k / k.sum()


def vignette_gain(width: int, height: int, strength: float) -> np.ndarray:
    """Per-pixel gain falling from 1 at the centre to ``1 - strength`` at the corners (cos^4-like)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((x - (width - 1) / 2) ** 2 + (y - (height - 1) / 2) ** 2) / (((width - 1) / 2) ** 2 + ((height - 1) / 2) ** 2)
    return 1.0 - strength * r2**2 * 0.5 - strength * r2 * 0.5


def auto_exposure_gain(linear: np.ndarray) -> float:
    """The gain that brings the mean brightness of a linear image to mid grey (0.18), within 1/4..4: a camera's
    auto exposure (the exposure bias then over- or under-exposes on purpose)."""
    mean = float(linear.mean())
    return float(np.clip(AUTO_EXPOSURE_TARGET / max(mean, 1e-6), 0.25, 4.0))


def apply_camera_effects(bgr: np.ndarray, fx: CameraEffects) -> np.ndarray:
    """``bgr`` (H, W, 3 uint8, as OpenCV reads it) as the camera described by ``fx`` would have recorded it."""
    img = srgb_to_linear(bgr.astype(np.float32) / 255.0)
    h, w = img.shape[:2]
    img = img * np.asarray(fx.white_balance, np.float32)[::-1][None, None, :]  # spec is RGB, the image BGR
    img = img * (fx.exposure * auto_exposure_gain(img))
    if fx.vignette > 0:
        img = img * vignette_gain(w, h, fx.vignette)[..., None]
    if fx.defocus_px > 0.25:
        img = cv2.filter2D(img, -1, _disc_kernel(fx.defocus_px), borderType=cv2.BORDER_REFLECT)
    if fx.motion_px > 0.5:
        img = cv2.filter2D(img, -1, _line_kernel(fx.motion_px, fx.motion_deg), borderType=cv2.BORDER_REFLECT)
    if fx.noise > 0:
        rng = np.random.default_rng(fx.seed)
        sigma = np.sqrt((fx.noise * 0.3) ** 2 + fx.noise**2 * np.clip(img, 0.0, None))  # read + shot noise
        img = img + sigma * rng.standard_normal(img.shape).astype(np.float32)
    out = np.clip(np.rint(linear_to_srgb(img) * 255.0), 0, 255).astype(np.uint8)
    if fx.jpeg_quality > 0:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(fx.jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out
