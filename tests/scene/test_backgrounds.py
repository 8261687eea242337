"""--backgrounds: a bad folder is one line naming it (or the bad file); good images are copied in by hash."""

import hashlib
import subprocess
import sys

import cv2
import numpy as np
import pytest

from legodata.errors import LegodataError
from legodata.scene.backgrounds import import_backgrounds, spec_images, write_textures
from legodata.scene.textures import TRAIN_FAMILIES


def cli(*args):
    return subprocess.run([sys.executable, "-m", "legodata.cli", *args], capture_output=True, text=True, timeout=120)


def image(seed=0, size=(40, 60)):
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _folder(tmp_path, case):
    d = tmp_path / "bg"
    if case == "missing":
        return d, str(d)
    if case == "a file":
        d.write_text("x")
        return d, str(d)
    d.mkdir()
    if case == "no images":
        (d / "notes.txt").write_text("not an image")
        return d, str(d)
    cv2.imwrite(str(d / "good.png"), image())
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return d, "broken.jpg"


@pytest.mark.parametrize("case", ["missing", "a file", "empty", "no images", "unreadable"])
def test_bad_backgrounds_folder_is_a_one_line_error_and_leaves_no_store(tmp_path, case):
    if case == "empty":
        (tmp_path / "bg").mkdir()
        folder, needle = tmp_path / "bg", str(tmp_path / "bg")
    else:
        folder, needle = _folder(tmp_path, case)
    out = tmp_path / "out"
    result = cli("render", "--out", str(out), "--domain", "randomised", "--backgrounds", str(folder), "-q")
    assert result.returncode == 2, result.stderr
    err = result.stderr.strip()
    assert err.startswith("legodata: error:") and "--backgrounds" in err and needle in err and "\n" not in err
    assert "Traceback" not in result.stderr
    assert not (out / "manifest.json").exists()


def test_backgrounds_need_a_randomised_domain(tmp_path):
    (tmp_path / "bg").mkdir()
    result = cli("render", "--out", str(tmp_path / "o"), "--backgrounds", str(tmp_path / "bg"))
    assert result.returncode == 2 and "--backgrounds" in result.stderr and "\n" not in result.stderr.strip()


def test_images_are_copied_by_hash_deduplicated_and_re_encoded_when_needed(tmp_path):
    folder, root = tmp_path / "bg", tmp_path / "store"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), image(1))
    (folder / "same_as_a.png").write_bytes((folder / "a.png").read_bytes())
    cv2.imwrite(str(folder / "b.bmp"), image(2))
    cv2.imwrite(str(folder / "big.jpeg"), image(3, (3000, 100)))
    (folder / "readme.md").write_text("ignored: not an image")
    paths = import_backgrounds(folder, root)
    assert len(paths) == 3 and list(paths) == sorted(paths)
    digest = hashlib.sha256((folder / "a.png").read_bytes()).hexdigest()[:16]
    assert f"backgrounds/{digest}.png" in paths
    assert (root / f"backgrounds/{digest}.png").read_bytes() == (folder / "a.png").read_bytes()
    for rel in paths:
        img = cv2.imread(str(root / rel))
        assert img is not None and max(img.shape[:2]) <= 2048
    assert sum(p.endswith(".jpg") for p in paths) == 1 and sum(p.endswith(".png") for p in paths) == 2
    assert import_backgrounds(folder, root) == paths  # a resumed run finds the same files


def test_unreadable_file_is_named(tmp_path):
    folder, _ = _folder(tmp_path, "unreadable")
    with pytest.raises(LegodataError, match="broken.jpg"):
        import_backgrounds(folder, tmp_path / "store")


def test_randomised_specs_reference_store_images_that_exist(tmp_path):
    from legodata.config import RenderConfig
    from legodata.jobs.render_job import make_spec, prepare_store

    folder = tmp_path / "bg"
    folder.mkdir()
    for k in range(6):
        cv2.imwrite(str(folder / f"{k}.png"), image(k))
    cfg = RenderConfig(out=str(tmp_path / "s"), scenes=3, domain="randomised", backgrounds=str(folder)).validate()
    job = prepare_store(cfg)
    assert len(job.backgrounds) == 6
    for i in range(3):
        spec = make_spec(job, i)
        for rel in spec_images(spec):
            assert (job.store.root / rel).is_file(), rel
    write_textures(spec, job.store.root)  # idempotent
    manifest = job.store.read_manifest()
    assert manifest["settings"]["backgrounds"] == str(folder) and manifest["settings"]["domain"] == "randomised"
    assert manifest["domain"]["textures"] == list(TRAIN_FAMILIES) and "cable" in manifest["domain"]["kinds"]
    clean = prepare_store(RenderConfig(out=str(tmp_path / "c"), scenes=1).validate()).store.read_manifest()
    assert "domain" not in clean and "domain" not in clean["settings"] and "backgrounds" not in clean["settings"]
