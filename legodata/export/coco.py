"""Export a store as a COCO instance-segmentation dataset (loads with ``pycocotools.coco.COCO``).

Layout written under ``OUT``::

    OUT/annotations.json
    OUT/images/<record_id>.png     copies of the store's RGB images; ``file_name`` is relative to OUT

``categories`` are the parts: ``id`` (the same number as the BOP ``obj_id``), ``name`` = part id,
``supercategory`` = part kind, plus ``part_name``. Every ``images`` entry carries ``K`` (3x3, pixels), ``record_id``
and ``group_id``. Each annotation has an RLE ``segmentation`` of the visible mask (pycocotools, ``counts`` as str),
the visible ``bbox`` (x, y, w, h), ``area`` (visible pixels), ``iscrowd`` 0, and the extra fields ``instance_id``,
``colour_code``, ``quat_m2c_wxyz``, ``R_m2c``, ``t_m2c`` (metres, OpenCV camera, model-to-camera) and
``visib_fract``. Instances with no visible pixel are left out (COCO cannot hold an empty mask).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from legodata import __version__
from legodata.errors import require
from legodata.export.common import copy_image, open_for_export, read_instance_mask, staged_dir
from legodata.store.store import Store

_SAFE = str.maketrans({c: "_" for c in '/\\:*?"<>| '})


def export_coco(store: str | Path | Store, out: str | Path) -> dict[str, int]:
    """Write ``store`` as COCO into ``out`` (replaced in one rename). Returns counts."""
    mask_util = require("pycocotools.mask", "export")
    store, catalogue, records, cat_of = open_for_export(store)
    categories = [
        {
            "id": cid,
            "name": part_id,
            "supercategory": (catalogue.get(part_id) or {}).get("kind", "part"),
            "part_name": (catalogue.get(part_id) or {}).get("name", part_id),
        }
        for part_id, cid in cat_of.items()
    ]
    images, annotations, skipped = [], [], 0
    with staged_dir(out) as root:
        (root / "images").mkdir()
        for image_id, rec in enumerate(records, 1):
            file_name = f"images/{rec.record_id.translate(_SAFE)}.png"
            copy_image(store.root / rec.image_path, root / file_name)
            images.append(
                {
                    "id": image_id,
                    "file_name": file_name,
                    "width": rec.width,
                    "height": rec.height,
                    "K": [list(row) for row in rec.K],
                    "record_id": rec.record_id,
                    "group_id": rec.group_id,
                }
            )
            ids = read_instance_mask(store, rec)
            for inst in rec.instances:
                m = ids == inst.instance_id
                if not m.any():
                    skipped += 1
                    continue
                rle = mask_util.encode(np.asfortranarray(m.astype(np.uint8)))
                ys, xs = np.nonzero(m)
                x0, y0 = int(xs.min()), int(ys.min())
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": cat_of[inst.part_id],
                        "segmentation": {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()},
                        "area": int(m.sum()),
                        "bbox": [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
                        "iscrowd": 0,
                        "instance_id": inst.instance_id,
                        "colour_code": inst.colour_code,
                        "quat_m2c_wxyz": list(inst.quat_m2c_wxyz),
                        "R_m2c": [list(row) for row in inst.R_m2c],
                        "t_m2c": list(inst.t_m2c),
                        "visib_fract": inst.visib_fract,
                    }
                )
        doc = {
            "info": {
                "description": f"legodata export of {store.root.name}",
                "version": __version__,
                "conventions": "R_m2c/t_m2c: model-to-camera, OpenCV camera frame, metres; quaternions wxyz, w >= 0; "
                "bbox: visible pixels, x y w h; category name = LDraw part id",
            },
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": categories,
        }
        (root / "annotations.json").write_text(json.dumps(doc))
    return {"images": len(images), "annotations": len(annotations), "skipped_hidden": skipped}
