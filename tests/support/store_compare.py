"""Comparing two stores byte for byte: what a run leaves that depends on the data, not on how it was run."""

from pathlib import Path


def store_files(root: Path) -> dict[str, bytes]:
    """Scenes (less the worker's timing file), specs, and the record index's lines: the index is appended as
    scenes finish, so the same lines come in completion order, which depends on the executor."""
    found = [p for d in ("scenes", "specs") for p in (root / d).rglob("*") if p.is_file()]
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in found if not p.name.endswith("worker.json")}
    files["records.jsonl"] = b"\n".join(sorted((root / "records.jsonl").read_bytes().splitlines()))
    return files


def assert_same_store(root: Path, reference: Path) -> None:
    """Every data file of ``root`` equals the one of ``reference``, and there are no others."""
    got, want = store_files(root), store_files(reference)
    assert sorted(got) == sorted(want)
    differ = sorted(k for k in want if got[k] != want[k])
    assert not differ, f"{len(differ)} files differ from the reference run, e.g. {differ[:4]}"
