"""A real Label Studio for the annotate tests, started in seconds from a copy of a migrated data dir.

``ls_migrated`` (session): the server venv (made once per machine by ``legodata.annotate.server.ensure_server_env``,
also what ``.ci/run`` and users get) and one data dir migrated once per session (~50 s: Label Studio's migrations);
``LEGODATA_TEST_LS_MIGRATED=DIR`` reuses a migrated dir between sessions while developing. ``ls_server`` (per test
module): a copy of it started on a free port (~7 s), stopped after the module.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from legodata.annotate.credentials import Credentials

TEST_CREDS = Credentials(
    url="", token="1e90d7a1c0ffee0123456789abcdef0123456789", username="admin@legodata.local", password="test-pw-9c7"
)


@dataclass(frozen=True)
class Server:
    url: str
    creds: Credentials
    data_dir: Path
    client: object
    start_s: float


def migrate(target: Path) -> float:
    """Start a server once on an empty ``target`` (runs the migrations), stop it; returns the seconds it took."""
    from legodata.annotate import server

    info = server.start_server(server.free_port(), target, TEST_CREDS, timeout=600)
    server.stop_server(info)
    (target / "label-studio.log").unlink(missing_ok=True)
    return info.started_s


@pytest.fixture(scope="session")
def ls_migrated(tmp_path_factory) -> Path:
    pytest.importorskip("label_studio_sdk")
    from legodata.annotate import server

    server.ensure_server_env()
    reuse = os.environ.get("LEGODATA_TEST_LS_MIGRATED")
    if reuse:
        path = Path(reuse)
        if not (path / "label_studio.sqlite3").is_file():
            path.mkdir(parents=True, exist_ok=True)
            migrate(path)
        return path
    path = tmp_path_factory.mktemp("ls-migrated") / "data"
    migrate(path)
    return path


def start_copy(migrated: Path, target: Path, files_root: Path | str = "/"):
    """A copy of ``migrated`` at ``target``, started: ``(Server, ServerInfo)``."""
    from label_studio_sdk import LabelStudio

    from legodata.annotate import server

    shutil.copytree(migrated, target)
    info = server.start_server(server.free_port(), target, TEST_CREDS, files_root=files_root, timeout=300)
    creds = Credentials(info.url, TEST_CREDS.token, TEST_CREDS.username, TEST_CREDS.password)
    return Server(info.url, creds, target, LabelStudio(base_url=info.url, api_key=creds.token), info.started_s), info


@pytest.fixture(scope="module")
def ls_server(ls_migrated, tmp_path_factory):
    from legodata.annotate import server

    srv, info = start_copy(ls_migrated, tmp_path_factory.mktemp("ls") / "data")
    try:
        yield srv
    finally:
        server.stop_server(info)


def simulated_results(part_id, K, R, t, mask, width, height, rng, noise_px=2.0, max_keypoints=None):
    """What a careful annotator submits: every keypoint the camera sees, clicked within ``noise_px`` (Gaussian,
    per axis), and the exact mask painted. Returns Label Studio results."""
    import numpy as np

    from legodata.annotate.drawing import visible_keypoints
    from legodata.annotate.keypoints import catalogue_keypoints, keypoint_array
    from legodata.annotate.pnp import project_points
    from legodata.annotate.push import _brush_result, keypoint_result
    from legodata.parts.catalogue import get_part

    kps = catalogue_keypoints(part_id)
    uv = project_points(keypoint_array(kps), K, R, t)
    seen = visible_keypoints(get_part(part_id).mesh, kps, K, R, t, width, height)
    out = []
    for k, (u, v), s in zip(kps, uv, seen):
        if not s:
            continue
        du, dv = rng.normal(0.0, noise_px, 2) if noise_px else (0.0, 0.0)
        u, v = float(np.clip(u + du, -0.5, width - 0.5)), float(np.clip(v + dv, -0.5, height - 0.5))
        out.append(keypoint_result(k.number, u, v, width, height))
        if max_keypoints and len(out) == max_keypoints:
            break
    if mask is not None:
        out.append(_brush_result(mask, width, height))
    return out
