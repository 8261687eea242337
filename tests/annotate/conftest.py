"""Fixtures of the annotate tests: a real Label Studio (tests/support/label_studio.py) and rendered "photos"."""

from pathlib import Path

import pytest
from support.label_studio import ls_migrated, ls_server  # noqa: F401

PARTS = "3001,3039,3003,3023"


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """Real BlenderProc renders with exact ground truth, one part per scene (so a part fills ~60% of the view)."""
    import legodata
    from legodata.store.store import Store

    out = tmp_path_factory.mktemp("rendered") / "store"
    s = legodata.render(
        str(out), scenes=5, views=2, resolution=256, seed=11, parts=PARTS, parts_per_scene=(1, 1), preset="fast"
    )
    assert s.scenes_failed == 0
    return Store(out)


def photo_folders(store, root: Path) -> dict[str, Path]:
    """Each rendered view as a folder of one "photo" with the camera file a calibration tool would write (views
    have different fields of view, so one camera file each). ``{record_id: folder}``."""
    import shutil

    import numpy as np

    from legodata.annotate.camera_info import write_ros_camera_info

    out = {}
    for rec in store.iter_records():
        folder = root / rec.record_id
        folder.mkdir(parents=True)
        shutil.copy(store.root / rec.image_path, folder / f"{rec.record_id}.png")
        write_ros_camera_info(folder / "camera.yaml", np.asarray(rec.K), rec.width, rec.height)
        out[rec.record_id] = folder
    return out
