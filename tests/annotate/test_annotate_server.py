"""A real Label Studio: rendered images with known ground truth pushed as photos (with camera files), labelled
through the API by a simulated annotator (ground-truth keypoints projected + 2 px noise, exact masks), pulled into
a store that validates, publishes and loads with ``datasets``."""

from __future__ import annotations

import json
import urllib.request

import cv2
import numpy as np
import pytest
from conftest import PARTS, photo_folders
from support.label_studio import simulated_results

from legodata.annotate.project import init_project
from legodata.annotate.push import _brush_result, _choice_result, keypoint_result, push
from legodata.core.rotations import symmetric_geodesic_angle
from legodata.jobs.annotate_pull import pull
from legodata.parts.catalogue import get_part
from legodata.store.store import Store

pytestmark = pytest.mark.slow

NOISE_PX = 2.0


def _truth(rendered):
    return {r.record_id: r for r in rendered.iter_records()}


def _gt_mask(store, rec):
    return cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED) == rec.instances[0].instance_id


def _push_all(client, project, folders, truth):
    added = 0
    for rid, folder in folders.items():
        part = truth[rid].instances[0].part_id
        added += push(folder, project, camera=folder / "camera.yaml", parts=part, client=client).added
    return added


def _tasks(client, project_id):
    return list(client.tasks.list(project=project_id, fields="all"))


def _annotate(client, rendered, truth, tasks, rng, noise=NOISE_PX):
    for task in tasks:
        lego = task.data["legodata"]
        rec = truth[lego["photo"].rsplit("/", 1)[-1].removesuffix(".png")]
        inst = rec.instances[0]
        results = simulated_results(inst.part_id, np.asarray(rec.K), np.asarray(inst.R_m2c), np.asarray(inst.t_m2c),
                                    _gt_mask(rendered, rec), rec.width, rec.height, rng, noise)  # fmt: skip
        client.annotations.create(id=task.id, result=results, lead_time=float(rng.uniform(20, 60)))


@pytest.fixture(scope="module")
def labelled(ls_server, rendered, tmp_path_factory):
    """Project 'rot': every rendered view pushed as a photo, labelled once, pulled into a store."""
    root = tmp_path_factory.mktemp("labelled")
    truth = _truth(rendered)
    folders = photo_folders(rendered, root / "photos")
    init = init_project("rot", "rotation", PARTS, client=ls_server.client)
    added = _push_all(ls_server.client, "rot", folders, truth)
    tasks = _tasks(ls_server.client, init.project_id)
    _annotate(ls_server.client, rendered, truth, tasks, np.random.default_rng(0))
    summary = pull("rot", root / "store", client=ls_server.client)
    return {"root": root, "truth": truth, "folders": folders, "init": init, "added": added, "tasks": tasks,
            "summary": summary, "store": Store(root / "store")}  # fmt: skip


def _get(server, path: str) -> bytes:
    req = urllib.request.Request(server.url + path, headers={"Authorization": f"Token {server.creds.token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def test_photos_are_served_from_disk_and_pushed_once(labelled, ls_server):
    truth, tasks = labelled["truth"], labelled["tasks"]
    assert labelled["added"] == len(truth) == len(tasks)
    task = tasks[0]
    photo = task.data["legodata"]["photo"]
    assert task.data["image"].startswith("/data/local-files/?d=")
    assert _get(ls_server, task.data["image"]) == open(photo, "rb").read()  # served as it is, nothing uploaded
    ref = cv2.imdecode(np.frombuffer(_get(ls_server, task.data["reference"]), np.uint8), cv2.IMREAD_COLOR)
    assert ref is not None and ref.shape[0] > 600  # the part from above and below, keypoints numbered
    assert len(task.data["legodata"]["candidates_R"]) in (6, 12, 24)
    rid, folder = next(iter(labelled["folders"].items()))
    again = push(folder, "rot", camera=folder / "camera.yaml", parts=truth[rid].instances[0].part_id,
                 client=ls_server.client)  # fmt: skip
    assert (again.added, again.skipped) == (0, 1)
    assert len(_tasks(ls_server.client, labelled["init"].project_id)) == len(truth)


def test_recovered_rotations_masks_and_records(labelled, rendered, capsys):
    store, truth = labelled["store"], labelled["truth"]
    s = labelled["summary"]
    assert (s.added, s.rejected) == (len(truth), 0), s
    errors, t_errors = [], []
    for rec in store.iter_records():
        assert rec.source == "label_studio" and rec.meta["annotator"] == "admin@legodata.local"
        assert 20 <= rec.meta["lead_time_s"] <= 60 and rec.meta["reprojection_error_px"] < 5
        gt = truth[rec.meta["photo"].rsplit("/", 1)[-1].removesuffix(".png")]
        gi, inst = gt.instances[0], rec.instances[0]
        assert inst.part_id == gi.part_id and np.allclose(rec.K, gt.K)
        sym = get_part(inst.part_id).symmetry.sampled()
        errors.append(float(np.degrees(symmetric_geodesic_angle(np.asarray(inst.R_m2c), np.asarray(gi.R_m2c), sym))))
        t_errors.append(float(np.linalg.norm(np.asarray(inst.t_m2c) - np.asarray(gi.t_m2c))))
        mask = cv2.imread(str(store.root / rec.mask_path), cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint16 and np.array_equal(mask == 1, _gt_mask(rendered, gt))  # masks exact
        assert np.array_equal(mask > 0, mask == 1)
        photo = cv2.imread(str(store.root / rec.image_path), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(photo, cv2.imread(str(rendered.root / gt.image_path), cv2.IMREAD_UNCHANGED))
        assert rec.meta["iou_projected"] > 0.8
    median = float(np.median(errors))
    with capsys.disabled():
        t_mm = np.median(t_errors) * 1000
        print(f"\nrecovered rotation error over {len(errors)} photos ({NOISE_PX:g} px click noise): median "
              f"{median:.2f} deg, max {max(errors):.2f} deg; translation median {t_mm:.2f} mm")  # fmt: skip
    assert median < 4.0 and max(errors) < 12.0
    assert np.median(t_errors) < 0.002


def test_records_pass_the_publisher_and_load_with_datasets(labelled, tmp_path):
    datasets = pytest.importorskip("datasets")
    from legodata.publish import publish
    from legodata.publish.stores import iter_source_records, merged_catalogue, open_sources
    from legodata.publish.validate import load_and_check

    store = labelled["store"]
    sources = open_sources([store.root])
    catalogue = merged_catalogue(sources)
    checked = [load_and_check(sr, catalogue) for sr in iter_source_records(sources)]
    assert len(checked) == len(labelled["truth"])
    out = tmp_path / "hf"
    summary = publish([store.root], out, split="0.6,0.2,0.2", seed=1, crop_size=64)
    assert summary.records == len(checked)
    rows = {r["record_id"] if "record_id" in r else i: r for i, r in enumerate(datasets.concatenate_datasets(
        list(datasets.load_dataset(str(out), "parts").values())))}  # fmt: skip
    assert len(rows) == len(checked)
    by_id = {r.record_id: r for r in store.iter_records()}
    for row in rows.values():
        rid = row.get("record_id")
        if rid in by_id:
            assert row["part_id"] is not None
            assert np.allclose(np.asarray(row["R_m2c"]), np.asarray(by_id[rid].instances[0].R_m2c), atol=1e-5)
    scenes = datasets.load_dataset(str(out), "scenes")
    assert sum(len(s) for s in scenes.values()) == len(checked)


def test_bad_annotations_are_kept_aside_and_pull_is_idempotent(ls_server, rendered, tmp_path):
    truth = _truth(rendered)
    folders = dict(list(photo_folders(rendered, tmp_path / "photos").items())[:3])
    init = init_project("rot-bad", "rotation", PARTS, client=ls_server.client)
    _push_all(ls_server.client, "rot-bad", folders, truth)
    tasks = _tasks(ls_server.client, init.project_id)
    rng = np.random.default_rng(1)
    _annotate(ls_server.client, rendered, truth, tasks, rng)  # one good annotation per task
    t0 = tasks[0]
    lego = t0.data["legodata"]
    w, h = lego["width"], lego["height"]
    good = ls_server.client.annotations.list(id=t0.id)[0].result
    kps = [r for r in good if r["type"] == "keypointlabels"]
    bad = {
        "too few keypoints": kps[:3],
        "unknown label": kps + [keypoint_result(99, 10.0, 10.0, w, h)],
        "mask outside the image": kps + [_brush_result(np.ones((h, w + 40), bool), w + 40, h)],
        "names no control": kps + [{**_choice_result("orientation", "1")}],
    }
    expected = {
        "too few keypoints": "at least 4 are needed",
        "unknown label": "unknown label '99'",
        "mask outside the image": f"but the photo is {w}x{h}",
        "names no control": "names no control",
    }
    ids = {}
    for name, result in bad.items():
        ids[name] = ls_server.client.annotations.create(id=t0.id, result=result, lead_time=5.0).id
    second = simulated_results(*_truth_args(truth, tasks[1], rendered), np.random.default_rng(2), NOISE_PX)
    ls_server.client.annotations.create(id=tasks[1].id, result=second, lead_time=9.0)  # a second annotator's view

    out = tmp_path / "store"
    s = pull("rot-bad", out, client=ls_server.client)
    assert (s.added, s.rejected) == (len(tasks) + 1, 4), s
    rejected = {json.loads(line)["annotation_id"]: json.loads(line) for line in (out / "rejected.jsonl").open()}
    for name, ann_id in ids.items():
        assert expected[name] in rejected[ann_id]["reason"], (name, rejected[ann_id]["reason"])
        assert rejected[ann_id]["annotation"]["result"]  # kept as it was
    records = list(Store(out).iter_records())
    assert len(records) == len(tasks) + 1  # nothing else lost
    pair = [r for r in records if r.meta["task_id"] == tasks[1].id]
    assert len(pair) == 2 and all(len(r.meta["agreement"]) == 1 for r in pair)
    agreement = pair[0].meta["agreement"][0]
    assert agreement["angle_deg"] < 10 and agreement["mask_iou"] == 1.0 and not agreement["flagged"]

    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and ".pull.lock" not in p.name}
    again = pull("rot-bad", out, client=ls_server.client)
    assert (again.added, again.updated, again.rejected, again.unchanged) == (0, 0, 0, len(tasks) + 5)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and ".pull.lock" not in p.name}
    assert after == before  # pulling twice changes nothing

    # an annotator fixes a rejected annotation: the next pull turns it into a record and forgets the rejection
    fixed = ids["too few keypoints"]
    ls_server.client.annotations.update(id=fixed, result=kps, lead_time=7.0)
    third = pull("rot-bad", out, client=ls_server.client)
    assert (third.added, third.rejected, third.rejected_total) == (1, 0, 3)


def _truth_args(truth, task, rendered):
    rec = truth[task.data["legodata"]["photo"].rsplit("/", 1)[-1].removesuffix(".png")]
    inst = rec.instances[0]
    return (inst.part_id, np.asarray(rec.K), np.asarray(inst.R_m2c), np.asarray(inst.t_m2c), _gt_mask(rendered, rec),
            rec.width, rec.height)  # fmt: skip


CHROMIUM = "/usr/bin/chromium"


def test_an_annotator_labels_a_task_in_the_browser(ls_server, rendered, tmp_path):
    """Headless Chromium opens the task in Label Studio's own UI, places the visible keypoints and submits; `pull`
    sees the annotation. The screenshot of the task page is kept in the test's tmp dir."""
    sync_api = pytest.importorskip("playwright.sync_api")
    import os
    import re

    from legodata.annotate.drawing import visible_keypoints
    from legodata.annotate.keypoints import catalogue_keypoints, keypoint_array
    from legodata.annotate.pnp import project_points

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no {CHROMIUM} (apt-get install -y chromium chromium-driver)")
    truth = _truth(rendered)
    rid, rec = next((r, rec) for r, rec in truth.items() if rec.instances[0].part_id == "3001")
    folder = photo_folders(rendered, tmp_path / "photos")[rid]
    init = init_project("in-browser", "rotation", PARTS, client=ls_server.client)
    push(folder, "in-browser", camera=folder / "camera.yaml", parts="3001", client=ls_server.client)
    task = _tasks(ls_server.client, init.project_id)[0]
    inst = rec.instances[0]
    K, R, t = np.asarray(rec.K), np.asarray(inst.R_m2c), np.asarray(inst.t_m2c)
    kps = catalogue_keypoints("3001")
    uv = project_points(keypoint_array(kps), K, R, t)
    seen = visible_keypoints(get_part("3001").mesh, kps, K, R, t, rec.width, rec.height)
    assert seen.sum() >= 4
    shot = tmp_path / "task-page.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            page.goto(f"{ls_server.url}/user/login/")
            page.fill("input[name=email]", ls_server.creds.username)
            page.fill("input[name=password]", ls_server.creds.password)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(f"{ls_server.url}/projects/{init.project_id}/data?task={task.id}")
            page.wait_for_selector("canvas", timeout=60_000)
            photo = page.locator('img[src^="blob:"]').first  # the photo, as the labeling canvas shows it
            photo.wait_for(timeout=30_000)
            box = photo.bounding_box()
            for k, (u, v), visible in zip(kps, uv, seen):
                if not visible:
                    continue
                page.locator("span.lsf-label__text").filter(has_text=re.compile(f"^{k.number}$")).first.click()
                page.mouse.click(box["x"] + (u + 0.5) / rec.width * box["width"],
                                 box["y"] + (v + 0.5) / rec.height * box["height"])  # fmt: skip
            page.screenshot(path=str(shot), full_page=True)
            page.get_by_role("button", name="Submit").click()
            page.wait_for_load_state("networkidle")
            for _ in range(50):
                if ls_server.client.annotations.list(id=task.id):
                    break
                page.wait_for_timeout(200)
        finally:
            browser.close()
    print(f"\nscreenshot of the task page: {shot}")
    s = pull("in-browser", tmp_path / "store", client=ls_server.client)
    assert (s.added, s.rejected) == (1, 0), s
    out = next(Store(tmp_path / "store").iter_records())
    assert out.meta["method"] == "keypoints" and out.meta["n_keypoints"] == int(seen.sum())
    assert out.meta["reprojection_error_px"] < 1.0  # clicks land within a screen pixel of where they were aimed
    err = np.degrees(
        symmetric_geodesic_angle(np.asarray(out.instances[0].R_m2c), R, get_part("3001").symmetry.sampled())
    )
    assert err < 3.0


def test_pre_annotations_from_trained_runs_and_fine_tuning_on_labelled_photos(ls_server, rendered, labelled, tmp_path):
    """train-mask/train-rot runs pre-annotate pushed tasks (brush mask, candidates, keypoints); `train-rot --weights`
    fine-tunes the synthetic rotation model on the pulled store of labelled photos."""
    pytest.importorskip("torch")
    pytest.importorskip("datasets")
    from typer.testing import CliRunner

    from legodata.annotate.rle import decode_mask
    from legodata.cli import app
    from legodata.publish import publish

    runner = CliRunner()
    synthetic = tmp_path / "synthetic-hf"
    publish([rendered.root], synthetic, split="0.6,0.2,0.2", seed=1, crop_size=64)
    small = ["--epochs", "1", "--batch-size", "4", "--image-size", "32", "--device", "cpu", "--limit", "4", "-q"]
    for command, run in (("train-mask", "mask-run"), ("train-rot", "rot-run")):
        r = runner.invoke(app, [command, str(synthetic), "--out", str(tmp_path / run), *small])
        assert r.exit_code == 0, r.output

    import shutil

    truth = _truth(rendered)
    rid = next(iter(truth))
    first = tmp_path / "first-scene"  # a store of the first scene only (2 views): enough to see the predictions
    for name in ("manifest.json", "models", rendered.scene_rel(truth[rid].group_id)):
        copy = shutil.copytree if (rendered.root / name).is_dir() else shutil.copy
        (first / name).parent.mkdir(parents=True, exist_ok=True)
        copy(rendered.root / name, first / name)
    init = init_project("prelabelled", "rotation", PARTS, client=ls_server.client)
    # a store: its masks crop the part for the rotation model
    s = push(first, "prelabelled", rot_model=tmp_path / "rot-run", client=ls_server.client)
    assert s.added == s.predictions == 2
    task = next(t for t in _tasks(ls_server.client, init.project_id) if t.data["legodata"]["source_record"] == rid)
    lego = task.data["legodata"]
    assert lego["candidates_from"] == "model:rot-run" and 1 <= len(lego["candidates_R"]) <= 4
    assert len(task.data["candidate_choices"]) == len(lego["candidates_R"])
    (pred,) = ls_server.client.predictions.list(task=task.id)
    assert pred.model_version == "legodata:rot-run"
    kinds = {}
    for r in pred.result:
        kinds.setdefault(r["from_name"], []).append(r)
    assert kinds["part"][0]["value"]["choices"] == [lego["part_id"]]
    assert kinds["candidate"][0]["value"]["choices"] == ["1"]  # the model's answer, pre-selected
    assert len(kinds.get("keypoints", [])) >= 2  # its visible keypoints, pre-placed for the annotator to move
    # photos: the masking model paints the part (a 1-epoch model may paint nothing; then there is no brush region)
    folder = photo_folders(rendered, tmp_path / "photos")[rid]
    colour = truth[rid].instances[0].colour_code
    s = push(folder, "prelabelled", camera=folder / "camera.yaml", parts=lego["part_id"], colour=colour,
             mask_model=tmp_path / "mask-run", client=ls_server.client)  # fmt: skip
    assert s.added == 1 and s.predictions <= 1  # counted only when the model painted something
    (photo_task,) = [
        t for t in _tasks(ls_server.client, init.project_id) if t.data["legodata"]["source_record"] is None
    ]
    (pred,) = ls_server.client.predictions.list(task=photo_task.id)
    assert pred.model_version == "legodata:mask-run"
    for r in pred.result:
        if r["from_name"] == "mask":
            assert decode_mask(r["value"]["rle"], lego["width"], lego["height"]).shape == (
                lego["height"],
                lego["width"],
            )

    real = tmp_path / "real-hf"
    publish([labelled["store"].root], real, split="0.6,0.2,0.2", seed=1, crop_size=64)
    r = runner.invoke(app, ["train-rot", str(real), "--out", str(tmp_path / "fine-tuned"),
                            "--weights", str(tmp_path / "rot-run" / "best.pt"), *small])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (tmp_path / "fine-tuned" / "best.pt").is_file()
    assert json.loads((tmp_path / "fine-tuned" / "config.json").read_text())["train"]["weights"].endswith("best.pt")


def test_review_project_accepts_and_rejects_poses(ls_server, rendered, tmp_path):
    """A review project shows each pose as an outline (overlay image) with the mask pre-painted; an accepted task
    becomes a record with that pose, a rejected one is kept aside with the reviewer's verdict."""
    truth = _truth(rendered)
    init = init_project("review", "review", PARTS, client=ls_server.client)
    s = push(rendered.root, "review", client=ls_server.client)
    assert s.added == s.predictions == len(truth)
    tasks = _tasks(ls_server.client, init.project_id)
    overlay = cv2.imdecode(np.frombuffer(_get(ls_server, tasks[0].data["overlay"]), np.uint8), cv2.IMREAD_COLOR)
    assert overlay.shape[:2] == (256, 256)
    for task, verdict in zip(tasks[:2], ("pose and mask are right", "pose is wrong")):
        (pred,) = ls_server.client.predictions.list(task=task.id)
        kept = [r for r in pred.result if r["from_name"] == "mask"]  # the reviewer keeps the pre-painted mask
        ls_server.client.annotations.create(id=task.id, result=kept + [_choice_result("verdict", verdict)])
    s = pull("review", tmp_path / "store", client=ls_server.client)
    assert (s.added, s.rejected) == (1, 1), s
    (rec,) = Store(tmp_path / "store").iter_records()
    gt = truth[rec.meta["source_record"]]
    assert rec.meta["method"] == "task pose, reviewed" and rec.meta["mask_source"] == "painted"
    assert np.allclose(rec.instances[0].R_m2c, gt.instances[0].R_m2c, atol=1e-6) or rec.meta["symmetry_index"] > 0
    mask = cv2.imread(str(tmp_path / "store" / rec.mask_path), cv2.IMREAD_UNCHANGED) > 0
    assert np.array_equal(mask, _gt_mask(rendered, gt))
    (line,) = (tmp_path / "store" / "rejected.jsonl").read_text().splitlines()
    assert json.loads(line)["reason"] == "the reviewer said: pose is wrong"
