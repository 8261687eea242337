"""The one stage-then-rename helper (legodata.core.atomic): a failure at any step leaves the old target whole."""

import os

import pytest

from legodata.core import atomic
from legodata.core.atomic import (
    StagedDir,
    atomic_open,
    atomic_write_bytes,
    atomic_write_text,
    check_replaceable,
    create_exclusive_text,
    replace_dir,
)
from legodata.errors import LegodataError


def _staged(target, **kw):
    return StagedDir(target, marker="ours.json", foreign="one of ours", error=LegodataError, **kw)


def _fill(d, **files):
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name.replace("_", ".")).write_text(text)
    return d


def _fail_nth_replace(monkeypatch, n):
    """Make the ``n``-th later call of os.replace (1-based) raise, as a full disk or a kill would."""
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == n:
            raise OSError("simulated failure")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    return calls


def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"old")
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(p, "new")
    assert p.read_bytes() == b"old" and [x.name for x in tmp_path.iterdir()] == ["f.bin"]


def test_atomic_open_streams_and_keeps_the_old_file_on_failure(tmp_path):
    p = tmp_path / "secret.json"
    with atomic_open(p, "w", encoding="utf-8", perms=0o600) as fh:
        fh.write("new")
    assert p.read_text() == "new" and p.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError):
        with atomic_open(p, "wb") as fh:
            fh.write(b"half")
            raise ValueError("writer failed")
    assert p.read_text() == "new" and [x.name for x in tmp_path.iterdir()] == ["secret.json"]


def test_create_exclusive_only_once(tmp_path):
    assert create_exclusive_text(tmp_path / "m.json", "a") is True
    assert create_exclusive_text(tmp_path / "m.json", "b") is False
    assert (tmp_path / "m.json").read_text() == "a" and len(list(tmp_path.iterdir())) == 1


def test_replace_dir_puts_the_old_target_back_when_the_final_rename_fails(tmp_path, monkeypatch):
    old, new = _fill(tmp_path / "out", a_txt="old"), _fill(tmp_path / "new", b_txt="new")
    _fail_nth_replace(monkeypatch, 2)  # 1: old aside, 2: new into place
    with pytest.raises(OSError, match="simulated"):
        replace_dir(new, old)
    assert (old / "a.txt").read_text() == "old" and not (old / "b.txt").exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["new", "out"]  # nothing renamed aside is left
    monkeypatch.undo()
    replace_dir(new, old)
    assert [x.name for x in old.iterdir()] == ["b.txt"] and sorted(x.name for x in tmp_path.iterdir()) == ["out"]


def test_staged_dir_failure_in_the_body_keeps_the_old_target(tmp_path):
    out = _fill(tmp_path / "out", ours_json="{}", a_txt="old")
    with pytest.raises(RuntimeError):
        with _staged(out, marker_text="x") as stage:
            (stage / "half.txt").write_text("half")
            raise RuntimeError("mid-stage")
    assert sorted(x.name for x in out.iterdir()) == ["a.txt", "ours.json"]
    assert [x.name for x in tmp_path.iterdir()] == ["out"]  # the stage is gone


def test_staged_dir_failure_in_the_swap_keeps_the_old_target(tmp_path, monkeypatch):
    out = _fill(tmp_path / "out", ours_json="{}", a_txt="old")
    staged = _staged(out, label="building")
    _fail_nth_replace(monkeypatch, 2)
    with pytest.raises(OSError, match="simulated"):
        with staged as stage:
            assert stage.parent == tmp_path and stage.name.startswith(".out.building-")
            _fill(stage, ours_json="{}", b_txt="new")
    assert (out / "a.txt").read_text() == "old" and [x.name for x in tmp_path.iterdir()] == ["out"]


def test_staged_dir_replaces_in_one_rename_and_writes_the_marker(tmp_path):
    out = tmp_path / "deep" / "out"
    with _staged(out, marker_text="mine\n") as stage:
        (stage / "a.txt").write_text("1")
    assert (out / "ours.json").read_text() == "mine\n"
    with _staged(out, marker_text="mine\n") as stage:  # ours now: replaced
        (stage / "b.txt").write_text("2")
    assert sorted(x.name for x in out.iterdir()) == ["b.txt", "ours.json"]
    assert [x.name for x in out.parent.iterdir()] == ["out"]


def test_staged_dir_refuses_what_is_not_ours_before_any_work(tmp_path):
    foreign = _fill(tmp_path / "mine", notes_txt="precious")
    with pytest.raises(LegodataError, match=r"^--out .*mine is a non-empty directory that is not one of ours$"):
        _staged(foreign)
    (tmp_path / "file").write_text("x")
    with pytest.raises(LegodataError, match=r"^--out .*file exists and is not a directory$"):
        _staged(tmp_path / "file")
    assert (foreign / "notes.txt").read_text() == "precious"
    check_replaceable(_fill(tmp_path / "empty"), "ours.json", "x", LegodataError)  # empty: fine
    check_replaceable(tmp_path / "absent", "ours.json", "x", LegodataError)
