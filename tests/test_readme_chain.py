"""The README's first command line, run as written (only made tiny): render -> publish -> train-mask -> train-rot,
then evaluate both runs. The commands are read from the README, so a flag the README names that the CLI no longer
takes, or a step that no longer reads what the previous one wrote, fails here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LEGODATA = Path(sys.executable).with_name("legodata")
# Made tiny: 4 scenes (seed 1 still puts one in every split), 2 views of 64 px, fast preset, 1 epoch each.
TINY = {
    "render": ["--scenes", "4", "--views", "2", "--resolution", "64", "--preset", "fast", "--quiet"],
    "publish": ["--quiet"],
    "train-mask": ["--epochs", "1", "--quiet"],
    "train-rot": ["--epochs", "1", "--quiet"],
}


def readme_commands() -> list[list[str]]:
    """The ``legodata`` commands of the README's first bash block (the "Two commands" section), as argv lists."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)[1]
    out = []
    for part in block.replace("\\\n", " ").split("&&"):
        words = part.split()
        if words and words[0] == ".venv/bin/legodata":
            out.append(words[1:])
    return out


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    r = subprocess.run([str(LEGODATA), *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"legodata {' '.join(args)}:\n{r.stderr[-3000:]}"
    return r


def test_readme_render_publish_train_evaluate(tmp_path):
    commands = readme_commands()
    assert [c[0] for c in commands] == ["render", "publish", "train-mask", "train-rot"]
    out = {}
    for args in commands:  # later flags win: the README's own flags are all passed, the tiny ones override
        out[args[0]] = run([*args, *TINY[args[0]]], tmp_path).stdout

    assert "4 scenes rendered (8 frames" in out["render"] and "0 failed" in out["render"]
    store = tmp_path / "demo" / "store"
    assert len((store / "records.jsonl").read_text().splitlines()) == 8
    hf = tmp_path / "demo" / "hf"
    rows = json.loads((hf / "publish.json").read_text())["rows"]
    assert sum(rows["scenes"].values()) == 8 and all(rows["scenes"][s] > 0 for s in ("train", "validation", "test"))
    assert all(rows["parts"][s] > 0 for s in ("train", "validation", "test"))

    for task, run_dir, key, fmt in (
        ("mask", "mask-run", "iou", "IoU {:.3f}"),
        ("rot", "rot-run", "median_deg", "median {:.1f} deg"),
    ):
        metrics = json.loads((tmp_path / "demo" / run_dir / "metrics.json").read_text())
        assert metrics["task"] == task and metrics["epochs_done"] == 1
        assert metrics["test"]["n"] > 0 and metrics["validation"]["n"] > 0
        config = json.loads((tmp_path / "demo" / run_dir / "config.json").read_text())
        assert config["train"]["image_size"] == 64  # the README's --image-size reached the run
        assert f"test: {fmt.format(metrics['test'][key])}" in out[f"train-{task}"]
        # evaluate re-scores the run's best checkpoint on the test split: the same numbers
        ev = run(["evaluate", f"demo/{run_dir}", "demo/hf"], tmp_path).stdout
        assert ev.startswith(f"{task} test: {fmt.format(metrics['test'][key])}"), ev
        saved = json.loads((tmp_path / "demo" / run_dir / "eval-test.json").read_text())
        assert saved[key] == pytest.approx(metrics["test"][key]) and saved["n"] == metrics["test"]["n"]
