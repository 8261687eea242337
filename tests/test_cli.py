import subprocess
import sys

import pytest


def cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "legodata.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_import_does_not_pull_heavy_modules():
    code = (
        "import sys, legodata, legodata.cli, legodata.jobs.render_job;"
        "heavy = [m for m in ('bpy', 'blenderproc', 'torch', 'datasets', 'label_studio_sdk') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_help_lists_commands():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("render", "parts", "colours"):
        assert command in result.stdout


def test_parts_lists_catalogue_with_symmetries():
    result = cli("parts")
    assert result.returncode == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert {"3001", "3003", "3039", "3069b", "3023"} <= set(lines)
    assert "symmetries=2" in lines["3001"] and "symmetries=1" in lines["3039"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--parts", "3001,99999"], "99999"),
        (["--colours", "4,123456"], "123456"),
        (["--orientation", "sideways"], "--orientation"),
        (["--resolution", "3"], "--resolution"),
        (["--shard", "2/2"], "--shard"),
        (["--config", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_render_input_gives_one_line_error(tmp_path, args, needle):
    result = cli("render", "--out", str(tmp_path / "o"), *args)
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.startswith("legodata: error:") and needle in err and "\n" not in err
    assert "Traceback" not in result.stderr


# --- one config per command, shared options, logging --------------------------------------------------------------


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    from legodata.log import reset

    reset()  # in-process commands configure the legodata logger


def _commands():
    import typer.main

    from legodata.cli import app

    return typer.main.get_command(app).commands


def _defaults(command):
    return {p.name: p.default for p in command.params if not p.required and p.name not in ("quiet", "verbose")}


def test_import_cli_stays_light():
    code = "import sys, legodata.cli; print(','.join(m for m in ('numpy', 'cv2', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""  # `legodata --help` reads the config dataclasses, nothing heavy


@pytest.mark.parametrize("command,task", [("train-mask", "mask"), ("train-rot", "rot")])
def test_train_flag_defaults_are_the_train_config_defaults(command, task):
    from legodata.train.config import TASK_DEFAULTS, TrainConfig

    defaults = _defaults(_commands()[command])
    cfg = TrainConfig(task=task, dataset="d", out="o")
    assert defaults.pop("lr") is None  # TrainConfig fills it: the task's default, lower with --weights
    assert defaults == {name: getattr(cfg, name) for name in defaults}
    # the values the README documents for the CLI
    documented = {"mask": (20, 16, 128, 2e-3), "rot": (20, 32, 64, 1e-3)}[task]
    assert (defaults["epochs"], defaults["batch_size"], defaults["image_size"], cfg.lr) == documented
    d = TASK_DEFAULTS[task]
    assert (d.epochs, d.batch_size, d.image_size, d.lr) == documented


def test_publish_flag_defaults_are_the_publish_config_defaults():
    from legodata.publish.config import CLI_FIELDS, PublishConfig

    defaults = _defaults(_commands()["publish"])
    assert set(defaults) == set(CLI_FIELDS)
    assert defaults == {name: getattr(PublishConfig(), name) for name in defaults}


def test_publish_function_defaults_are_the_publish_config_defaults():
    import inspect

    from legodata.publish import publish
    from legodata.publish.config import PublishConfig

    params = inspect.signature(publish).parameters
    cfg = PublishConfig()
    compared = [n for n in params if hasattr(cfg, n)]
    assert len(compared) == 14
    assert {n: params[n].default for n in compared} == {n: getattr(cfg, n) for n in compared}


def test_render_flags_are_render_config_fields():
    from dataclasses import fields

    from legodata.config import RenderConfig

    known = {f.name for f in fields(RenderConfig)}
    extra = {"config", "formats", "quiet", "verbose"}
    for p in _commands()["render"].params:
        assert p.name in known | extra, p.name
        if p.name in known and p.name != "ldraw_hires":
            assert p.default is None, p.name  # "not given": the config file or RenderConfig decides


SHARED = {
    "out": ["--out", "-o"],
    "seed": ["--seed"],
    "device": ["--device"],
    "quiet": ["--quiet", "-q"],
    "verbose": ["--verbose", "-v"],
}


def test_every_command_spells_the_shared_options_the_same_way():
    commands = _commands()
    assert {"render", "export", "preview", "parts", "colours", "publish", "train-mask", "train-rot", "evaluate"} <= set(
        commands
    )
    for name, command in commands.items():
        opts = {p.name: p.opts for p in command.params}
        assert "quiet" in opts and "verbose" in opts, name
        for param, flags in SHARED.items():
            if param in opts:
                assert opts[param] == flags, (name, param, opts[param])


def test_bad_train_flag_is_one_line_naming_it(tmp_path):
    result = cli("train-rot", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), "--epochs", "0")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "legodata: error: --epochs 0: must be at least 1"


def test_render_with_nothing_left_to_do_says_so(tmp_path):
    from typer.testing import CliRunner

    from legodata.cli import app
    from legodata.config import RenderConfig
    from legodata.jobs.render_job import prepare_store

    out = tmp_path / "store"
    args = ["--scenes", "3", "--views", "2", "--resolution", "32", "--parts", "3003", "--preset", "fast"]
    job = prepare_store(RenderConfig(out=str(out), scenes=3, views=2, resolution=32, parts="3003", preset="fast"))
    for scene_id in ("000000", "000001", "000002"):  # as if an earlier run had rendered them
        job.store.commit_scene(job.store.new_tmp_dir(scene_id), scene_id, [])
    result = CliRunner().invoke(app, ["render", "--out", str(out), *args, "-q"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{out}: nothing to render: 3 scenes already done"
    assert "nan" not in result.output
