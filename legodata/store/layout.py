"""Where a scene lives in a store: the chunk rule, in one place (pure functions, no I/O).

A store of the chunked layout keeps scene ``<id>`` in ``scenes/<chunk>/<id>/``, as the BOP datasets keep at most
1,000 images per folder, so no directory grows with the store:

- an id of ASCII digits only (``render``: ``000123``) is chunked by number, 1,000 scenes a chunk:
  ``int(id) // 1000``, zero-padded to 3 digits (``000123`` -> ``000``, ``004567`` -> ``004``);
- any other id (robot episodes ``ep00017``, assembly models, Label Studio groups) goes to one of 4,096 hash buckets,
  ``h`` + the first 3 hex digits of the SHA-1 of the id (``ep00017`` -> ``h`` + 3 hex): stable on every machine
  and Python version, about 250 scenes a bucket at a million scenes. The ``h`` keeps the two kinds of chunk apart.

Stores made before the chunked layout (no ``store_layout`` key in ``manifest.json``) keep every scene in
``scenes/<id>/``: :data:`FLAT`. They are read as they are; writing into one needs ``legodata migrate``.
"""

from __future__ import annotations

import hashlib
import re

LAYOUT_KEY = "store_layout"  # manifest.json key; absent in stores of the flat layout
CHUNKED = "chunked-1000"
FLAT = "flat"
SCENES_PER_CHUNK = 1000
_DIGITS = re.compile(r"[0-9]+")


def scene_chunk(scene_id: str) -> str:
    """The chunk folder of ``scene_id`` in the chunked layout (see the module doc)."""
    if _DIGITS.fullmatch(scene_id):
        return f"{int(scene_id) // SCENES_PER_CHUNK:03d}"
    return "h" + hashlib.sha1(scene_id.encode("utf-8")).hexdigest()[:3]


def scene_rel(scene_id: str, layout: str = CHUNKED) -> str:
    """The scene's directory relative to the store root, POSIX style (``scenes/000/000123``): the prefix of every
    path its records carry."""
    if layout == FLAT:
        return f"scenes/{scene_id}"
    return f"scenes/{scene_chunk(scene_id)}/{scene_id}"


def is_chunk_name(name: str) -> bool:
    """True for a folder name :func:`scene_chunk` can return."""
    return bool(_DIGITS.fullmatch(name) and len(name) >= 3) or bool(re.fullmatch(r"h[0-9a-f]{3}", name))
