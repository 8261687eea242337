"""The commands as a user runs them: serve -> init -> push photos with a camera file -> (label) -> pull -> publish
-> stop, in subprocesses, with the user's config and data directories in a temporary home."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import urllib.request

import cv2
import numpy as np
import pytest
from conftest import photo_folders
from support.label_studio import TEST_CREDS, simulated_results

from legodata.annotate import credentials, server

pytestmark = pytest.mark.slow


def _run(env, *args, check=True):
    r = subprocess.run([sys.executable, "-m", "legodata.cli", *args], env=env, capture_output=True, text=True)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.fixture
def user_env(tmp_path, ls_migrated, monkeypatch):
    """A fresh user: empty config and data dirs (the server venv is shared), credentials matching the copy of the
    migrated data dir, no LABEL_STUDIO_* in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "share"),
        LEGODATA_LABEL_STUDIO_VENV=str(server.venv_dir()),
        PORT="9999",  # leaks into Label Studio unless stripped: it would listen there
        USERNAME="someone-else",
    )
    for key in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "LEGODATA_LABEL_STUDIO_VENV"):
        monkeypatch.setenv(key, env[key])
    for key in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    credentials.save(TEST_CREDS)  # what `serve` generated when this data dir was made
    shutil.copytree(ls_migrated, tmp_path / "ls-data")
    yield env
    _run(env, "annotate", "stop", check=False)


def test_serve_label_pull_publish_stop_as_a_user(user_env, rendered, tmp_path):
    env = user_env
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    busy = held.getsockname()[1]
    r = _run(env, "annotate", "serve", "--port", str(busy), "--data-dir", str(tmp_path / "ls-data"), check=False)
    held.close()
    assert (
        r.returncode == 2
        and r.stderr.strip() == f"legodata: error: port {busy} on 127.0.0.1 is busy: choose another with --port"
    )

    port = server.free_port()
    r = _run(env, "annotate", "serve", "--port", str(port), "--data-dir", str(tmp_path / "ls-data"))
    url = f"http://127.0.0.1:{port}"
    assert f"Label Studio is up at {url}" in r.stdout
    assert TEST_CREDS.token not in r.stdout + r.stderr and TEST_CREDS.password not in r.stdout + r.stderr
    path = credentials.credentials_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and json.loads(path.read_text())["url"] == url
    with urllib.request.urlopen(f"{url}/health", timeout=10) as h:
        assert json.loads(h.read())["status"] == "UP"
    again = _run(env, "annotate", "serve", "--port", str(port + 1), check=False)
    assert again.returncode == 2 and "already running at" in again.stderr

    truth = {rec.record_id: rec for rec in rendered.iter_records()}
    rid, rec = next((k, v) for k, v in truth.items() if v.instances[0].part_id == "3001")
    folder = photo_folders(rendered, tmp_path / "photos")[rid]
    r = _run(env, "annotate", "init", "--project", "photos", "--kind", "rotation", "--parts", "3001,3003")
    assert "project 'photos' created" in r.stdout and "keypoints 1..16" in r.stdout
    r = _run(env, "annotate", "push", str(folder), "--project", "photos", "--camera", str(folder / "camera.yaml"),
             "--parts", "3001")  # fmt: skip
    assert "1 tasks added" in r.stdout
    from label_studio_sdk import LabelStudio

    client = LabelStudio(base_url=url, api_key=TEST_CREDS.token)
    project = next(p for p in client.projects.list() if p.title == "photos")
    (task,) = client.tasks.list(project=project.id)
    inst = rec.instances[0]
    mask = cv2.imread(str(rendered.root / rec.mask_path), cv2.IMREAD_UNCHANGED) == inst.instance_id
    results = simulated_results("3001", np.asarray(rec.K), np.asarray(inst.R_m2c), np.asarray(inst.t_m2c), mask,
                                rec.width, rec.height, np.random.default_rng(0), 1.0)  # fmt: skip
    client.annotations.create(id=task.id, result=results, lead_time=20.0)

    store = tmp_path / "labelled"
    r = _run(env, "annotate", "pull", "--project", "photos", "--out", str(store))
    assert "1 records added" in r.stdout and "0 rejected" in r.stdout
    r = _run(env, "annotate", "pull", "--project", "photos", "--out", str(store))
    assert "0 records added, 0 updated, 1 unchanged" in r.stdout
    r = _run(env, "publish", str(store), "--out", str(tmp_path / "hf"), "--split", "1,0,0", "-q")
    assert "1 images, 1 part crops" in r.stdout

    r = _run(env, "annotate", "stop")
    assert f"stopped Label Studio at {url}" in r.stdout
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/health", timeout=3)
    assert "no server was running" in _run(env, "annotate", "stop").stdout
