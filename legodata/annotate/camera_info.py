"""Camera intrinsics of real photos from the files calibration tools write.

Accepted:

- OpenCV ``cv::FileStorage`` YAML/XML/JSON (``%YAML:1.0``, ``!!opencv-matrix``), as ``calibrateCamera`` samples
  and many tools write: ``camera_matrix`` (or ``K``, ``cameraMatrix``), ``distortion_coefficients`` (or ``D``,
  ``dist_coeffs``), ``image_width``/``image_height``.
- ROS ``camera_info`` YAML, as ``camera_calibration`` writes (``ost.yaml``): ``image_width``, ``image_height``,
  ``camera_matrix: {rows, cols, data}``, ``distortion_model``, ``distortion_coefficients: {rows, cols, data}``.
- A ``sensor_msgs/CameraInfo`` message dumped as YAML (``rostopic echo -n1`` / ``ros2 topic echo --once``):
  ``width``, ``height``, ``K``/``k`` (9 numbers), ``D``/``d``, ``distortion_model``.

Errors are one line naming the file and the key. Distortion models: ``plumb_bob``, ``rational_polynomial`` (and no
distortion); fisheye/equidistant lenses are refused (undistort the photos first).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from legodata.errors import LegodataError

_K_KEYS = ("camera_matrix", "K", "k", "cameraMatrix", "intrinsic_matrix", "intrinsics")
_D_KEYS = ("distortion_coefficients", "D", "d", "dist_coeffs", "distCoeffs", "distortion")
_W_KEYS = ("image_width", "width", "imageWidth")
_H_KEYS = ("image_height", "height", "imageHeight")
_PINHOLE_MODELS = {"", "plumb_bob", "rational_polynomial", "radtan", "pinhole", "none"}


class CameraInfoError(LegodataError):
    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"camera file {path}: {problem}")


@dataclass(frozen=True)
class CameraInfo:
    """Pinhole intrinsics ``K`` (3x3, pixel centres at integer coordinates), the calibrated image size and the
    OpenCV distortion coefficients (empty when none)."""

    K: np.ndarray
    width: int
    height: int
    dist: np.ndarray
    distortion_model: str = ""
    path: str = ""

    @property
    def has_distortion(self) -> bool:
        return bool(self.dist.size and np.any(self.dist != 0))

    def for_image(self, width: int, height: int, image: str | Path = "") -> CameraInfo:
        """These intrinsics for a photo of ``width x height``: the same size, or the calibrated size scaled by one
        factor (a resized photo). Another aspect ratio is an error naming the photo and the file."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        if abs(sx - sy) > 0.01 * max(sx, sy):
            raise CameraInfoError(
                self.path,
                f"calibrated for {self.width}x{self.height}, but photo {image} is {width}x{height} "
                "(another aspect ratio: crop or calibrate for this size)",
            )
        K = self.K.copy()
        # pixel centres at integer coordinates: u' = s (u + 0.5) - 0.5
        K[0, 0] *= sx
        K[1, 1] *= sy
        K[0, 1] *= sx
        K[0, 2] = sx * (K[0, 2] + 0.5) - 0.5
        K[1, 2] = sy * (K[1, 2] + 0.5) - 0.5
        return CameraInfo(K, width, height, self.dist, self.distortion_model, self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "K": self.K.tolist(),
            "width": self.width,
            "height": self.height,
            "dist": self.dist.tolist(),
            "distortion_model": self.distortion_model,
            "path": self.path,
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> CameraInfo:
        return CameraInfo(
            np.asarray(d["K"], float),
            int(d["width"]),
            int(d["height"]),
            np.asarray(d.get("dist", []), float).ravel(),
            str(d.get("distortion_model", "")),
            str(d.get("path", "")),
        )


def load_camera_info(path: str | Path) -> CameraInfo:
    """Read a calibration file (see the module doc) into :class:`CameraInfo`."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise CameraInfoError(path, "does not exist") from None
    except OSError as exc:
        raise CameraInfoError(path, f"cannot be read ({exc.strerror})") from None
    head = text.lstrip()[:64]
    if head.startswith("%YAML:") or "!!opencv-matrix" in text or head.startswith("<?xml") or path.suffix == ".xml":
        values = _read_filestorage(path)
    else:
        values = _read_yaml(path, text)
    return _from_values(path, values)


def _read_yaml(path: Path, text: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CameraInfoError(path, f"is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise CameraInfoError(path, "is not a YAML mapping of calibration keys")
    if isinstance(data.get("camera_info"), dict):  # some tools nest the message
        data = data["camera_info"]
    return data


def _read_filestorage(path: Path) -> dict[str, Any]:
    import cv2

    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except cv2.error:
        raise CameraInfoError(path, "cannot be parsed as an OpenCV FileStorage file") from None
    if not fs.isOpened():
        raise CameraInfoError(path, "cannot be parsed as an OpenCV FileStorage file")
    try:
        out: dict[str, Any] = {}
        root = fs.root()
        for key in root.keys():
            node = fs.getNode(key)
            if node.isInt() or node.isReal():
                out[key] = node.real()
            elif node.isString():
                out[key] = node.string()
            elif node.isSeq():
                out[key] = [node.at(i).real() for i in range(node.size())]
            elif node.isMap():
                mat = node.mat()  # an !!opencv-matrix
                if mat is not None:
                    out[key] = np.asarray(mat, float)
        return out
    finally:
        fs.release()


def _pick(values: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if key in values and values[key] is not None:
            return key, values[key]
    return None, None


def _matrix(path: Path, key: str, value: Any) -> np.ndarray:
    """A matrix from a numpy array, a flat list, or ``{rows, cols, data}``."""
    if isinstance(value, dict):
        if "data" not in value:
            raise CameraInfoError(path, f"key {key}: has no 'data'")
        data = value["data"]
        rows, cols = value.get("rows"), value.get("cols")
        try:
            arr = np.asarray(data, dtype=float)
        except (TypeError, ValueError):
            raise CameraInfoError(path, f"key {key}: 'data' must be numbers") from None
        if rows is not None and cols is not None:
            if arr.size != int(rows) * int(cols):
                raise CameraInfoError(path, f"key {key}: {arr.size} numbers, but rows x cols is {rows}x{cols}")
            arr = arr.reshape(int(rows), int(cols))
        return arr
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CameraInfoError(path, f"key {key}: must be numbers") from None


def _from_values(path: Path, values: dict[str, Any]) -> CameraInfo:
    k_key, k_val = _pick(values, _K_KEYS)
    if k_key is None:
        raise CameraInfoError(path, f"has no camera matrix (looked for {', '.join(_K_KEYS[:3])})")
    K = _matrix(path, k_key, k_val)
    if K.size != 9:
        raise CameraInfoError(path, f"key {k_key}: needs 9 numbers (3x3), got {K.size}")
    K = K.reshape(3, 3)
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]):
        raise CameraInfoError(path, f"key {k_key}: not a camera matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]]")
    if abs(K[1, 0]) > 1e-9:
        raise CameraInfoError(path, f"key {k_key}: row 2 must start with 0")

    size = {}
    for name, keys in (("width", _W_KEYS), ("height", _H_KEYS)):
        key, val = _pick(values, keys)
        if key is None:
            raise CameraInfoError(path, f"has no image {name} (looked for {', '.join(keys[:2])})")
        try:
            size[name] = int(round(float(val)))
        except (TypeError, ValueError):
            raise CameraInfoError(path, f"key {key}: {val!r} is not a number") from None
        if size[name] <= 0:
            raise CameraInfoError(path, f"key {key}: must be positive, got {size[name]}")

    model = str(values.get("distortion_model", "") or "").strip().lower()
    if model not in _PINHOLE_MODELS:
        raise CameraInfoError(
            path, f"key distortion_model: {model!r} is not supported (plumb_bob, rational_polynomial); undistort first"
        )
    d_key, d_val = _pick(values, _D_KEYS)
    dist = np.zeros(0)
    if d_key is not None:
        dist = _matrix(path, d_key, d_val).ravel()
        if dist.size not in (0, 4, 5, 8, 12, 14):
            raise CameraInfoError(path, f"key {d_key}: {dist.size} coefficients (OpenCV takes 4, 5, 8, 12 or 14)")
        if not np.all(np.isfinite(dist)):
            raise CameraInfoError(path, f"key {d_key}: must be finite numbers")
    return CameraInfo(K, size["width"], size["height"], dist, model, str(path))


def write_ros_camera_info(path: str | Path, K: np.ndarray, width: int, height: int, dist=None, name: str = "camera"):
    """Write a ROS ``camera_info`` YAML (as ``camera_calibration`` does): for tests and for rendered stores."""
    import yaml

    K = np.asarray(K, float)
    dist = np.zeros(5) if dist is None else np.asarray(dist, float).ravel()
    P = np.concatenate([K, np.zeros((3, 1))], axis=1)
    data = {
        "image_width": int(width),
        "image_height": int(height),
        "camera_name": name,
        "camera_matrix": {"rows": 3, "cols": 3, "data": K.ravel().tolist()},
        "distortion_model": "plumb_bob",
        "distortion_coefficients": {"rows": 1, "cols": int(dist.size), "data": dist.tolist()},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": np.eye(3).ravel().tolist()},
        "projection_matrix": {"rows": 3, "cols": 4, "data": P.ravel().tolist()},
    }
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
