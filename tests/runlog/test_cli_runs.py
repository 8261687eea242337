"""The run commands from the command line: simulate-run -> import-log, and their one-line errors."""

import json
import subprocess
import sys


def cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "legodata.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_simulate_then_import(tmp_path):
    log, store = tmp_path / "log", tmp_path / "store"
    r = cli(
        "simulate-run", "--out", str(log), "--episodes", "2", "--resolution", "32", "--renderer", "silhouette", "-q"
    )
    assert r.returncode == 0, r.stderr
    assert "2 episodes" in r.stdout and (log / "log.jsonl").is_file() and (log / "ground_truth.jsonl").is_file()
    r = cli("import-log", str(log), "--out", str(store), "-q")
    assert r.returncode == 0, r.stderr
    assert "2 episodes imported" in r.stdout and (store / "quarantine.jsonl").read_text() == ""
    # a bad line: quarantined and reported, or with --strict one line naming file:line and the field
    lines = (log / "log.jsonl").read_text().splitlines()
    d = json.loads(lines[3])
    d["episode"] = "nope"
    (log / "log.jsonl").write_text("\n".join(lines[:4] + [json.dumps(d)] + lines[4:]) + "\n")
    r = cli("import-log", str(log), "--out", str(store), "-q")
    assert r.returncode == 0 and "1 problems" in r.stderr and "quarantine.jsonl" in r.stderr
    r = cli("import-log", str(log), "--out", str(tmp_path / "strict"), "--strict", "-q")
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("legodata: error: ") and "log.jsonl:5: " in line and "unknown episode 'nope'" in line


def test_one_line_errors(tmp_path):
    r = cli("import-log", str(tmp_path / "missing"), "--out", str(tmp_path / "s"))
    assert r.returncode == 2 and "no such log file" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("simulate-run", "--out", str(tmp_path / "x"), "--parts", "3001,zzz", "--renderer", "silhouette")
    assert r.returncode == 2 and "--parts" in r.stderr and "zzz" in r.stderr
