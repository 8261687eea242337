"""The image files a randomised scene references, put into the store (the I/O edge of the domain randomisation).

* The user's ``--backgrounds`` folder: every image is checked (OpenCV must read it) and copied to
  ``ROOT/backgrounds/<first 16 hex of its sha256>.<ext>``; specs reference those store paths, so a store on a shared
  filesystem renders the same on every node and a resumed run finds the same images.
* Procedural prints (:mod:`legodata.scene.textures`): written to ``ROOT/textures/`` the first time a spec uses one.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import cv2
import numpy as np

from legodata.core.atomic import atomic_write_bytes
from legodata.core.spec import SceneSpec
from legodata.errors import LegodataError
from legodata.scene.textures import parse_texture_path, procedural_texture

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
COPIED_AS_IS = (".png", ".jpg", ".jpeg")  # other formats are re-encoded as PNG (what Blender surely reads)
MAX_SIDE_PX = 2048  # larger photos are shrunk on the way into the store: a table texture needs no more


def _image_files(folder: Path) -> list[Path]:
    if not folder.exists():
        raise LegodataError(f"--backgrounds: {folder} does not exist; give a folder of images (png, jpg, ...)")
    if not folder.is_dir():
        raise LegodataError(f"--backgrounds: {folder} is not a folder; give a folder of images (png, jpg, ...)")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise LegodataError(
            f"--backgrounds: {folder} holds no images; put table/backdrop photos there ({', '.join(IMAGE_SUFFIXES)})"
        )
    return files


def _read_image(path: Path) -> tuple[bytes, np.ndarray]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LegodataError(f"--backgrounds: cannot read {path} ({exc.strerror}); fix or remove the file") from None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if img is None or img.size == 0:
        raise LegodataError(f"--backgrounds: {path} is not a readable image; fix or remove the file")
    return data, img


def check_backgrounds(folder: str | Path) -> int:
    """The number of images in ``folder`` once each has been read; :class:`LegodataError` (one line) for a missing
    or empty folder or an unreadable image. Run before the store is created, so a bad folder leaves nothing behind."""
    files = _image_files(Path(folder).expanduser())
    for path in files:
        _read_image(path)
    return len(files)


def import_backgrounds(folder: str | Path, root: Path) -> tuple[str, ...]:
    """Check every image in ``folder`` and copy it into the store; returns their store paths sorted (by hash, so
    the order does not depend on file names). Raises :class:`LegodataError` as :func:`check_backgrounds`."""
    folder = Path(folder).expanduser()
    out = set()
    for path in _image_files(folder):
        data, img = _read_image(path)
        digest = hashlib.sha256(data).hexdigest()[:16]
        suffix = path.suffix.lower()
        big = max(img.shape[:2]) > MAX_SIDE_PX
        ext = ".jpg" if suffix == ".jpeg" else suffix if suffix in COPIED_AS_IS else ".png"
        rel = f"backgrounds/{digest}{ext}"
        target = root / rel
        if not target.exists():
            if big or suffix not in COPIED_AS_IS:
                scale = min(1.0, MAX_SIDE_PX / max(img.shape[:2]))
                small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if big else img
                ok, buf = cv2.imencode(ext, small)
                if not ok:
                    raise LegodataError(f"--backgrounds: cannot re-encode {path}; convert it to PNG or JPEG")
                data = buf.tobytes()
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data)
        out.add(rel)
    logger.info("%d background images from %s in %s/backgrounds", len(out), folder, root)
    return tuple(sorted(out))


def spec_images(spec: SceneSpec) -> list[str]:
    """Store paths of every image ``spec`` uses (table, backdrop, printed distractors)."""
    if spec.domain is None:
        return []
    d = spec.domain
    refs = [t.path for t in (d.table_texture, d.backdrop) if t is not None]
    return refs + [x.texture for x in d.distractors if x.texture]


def write_textures(spec: SceneSpec, root: Path) -> None:
    """Write every procedural texture ``spec`` uses that the store does not have yet."""
    for rel in spec_images(spec):
        parsed = parse_texture_path(rel)
        target = root / rel
        if parsed is None or target.exists():
            continue
        ok, buf = cv2.imencode(".png", procedural_texture(*parsed))
        if not ok:
            raise RuntimeError(f"cannot encode texture {rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, buf.tobytes())
