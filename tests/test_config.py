import pytest

from legodata.config import RenderConfig, build_config, load_config_file, parse_shard
from legodata.errors import LegodataError


def test_cli_overrides_file_overrides_defaults(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("out: from_file\nscenes: 7\nparts-per-scene: [2, 3]\nparts: [3001, 3003]\n")
    cfg = build_config(load_config_file(f), {"scenes": 9, "seed": None})
    assert cfg.out == "from_file" and cfg.scenes == 9 and cfg.parts_per_scene == (2, 3) and cfg.parts == "3001,3003"


def test_toml_render_table(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[render]\nout = "o"\norientation = "canonical"\n')
    assert build_config(load_config_file(f), {}).orientation == "canonical"


def test_unknown_key_in_config_file_is_named(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("out: o\nsceens: 3\n")
    with pytest.raises(LegodataError, match="unknown setting 'sceens'"):
        load_config_file(f)


def test_broken_yaml_names_the_file_and_line(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("out: o\nscenes: [1,\n")
    with pytest.raises(LegodataError, match=r"c.yaml.*line"):
        load_config_file(f)


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("scenes", 0, "--scenes 0"),
        ("orientation", "flying", "use one of uniform, resting, canonical"),
        ("preset", "ultra", "use one of fast, default, high"),
        ("device", "tpu", "use one of auto, cpu, gpu"),
        ("parts_per_scene", (5, 2), "--parts-per-scene"),
        ("shard", "4/4", "--shard '4/4'"),
        ("domain", "dirty", "use one of clean, randomised, shift"),
        ("backgrounds", "bg", "needs --domain randomised"),
        ("executor", "slurm", "use one of local, ray"),
        ("address", "auto", "use it with --executor ray"),
    ],
)
def test_bad_values_get_one_line_errors(field, value, needle):
    with pytest.raises(LegodataError, match=needle.replace("[", r"\[")):
        build_config({}, {"out": "o", field: value})


def test_shard_parsing():
    assert parse_shard("0/1") == (0, 1) and parse_shard("3/4") == (3, 4)
    for bad in ("1", "a/b", "-1/3", "2/2"):
        with pytest.raises(LegodataError):
            parse_shard(bad)


def test_data_settings_exclude_job_control():
    a = RenderConfig(out="x", workers=1, shard="0/2").data_settings()
    b = RenderConfig(out="y", workers=4, shard="1/2").data_settings()
    assert a == b and "workers" not in a and "shard" not in a
    c = RenderConfig(out="z", executor="ray", address="auto").data_settings()
    assert c == a  # where scenes are rendered does not change the data


def test_new_data_settings_stay_out_of_old_manifests_at_their_defaults():
    assert not {"domain", "backgrounds", "ldraw_hires"} & set(RenderConfig(out="x").data_settings())
    assert RenderConfig(out="x", domain="randomised").data_settings()["domain"] == "randomised"


# --- training and publishing settings ----------------------------------------------------------------------------


def test_train_config_fills_per_task_defaults_and_keeps_given_values():
    from legodata.train.config import TASK_DEFAULTS, TrainConfig

    rot = TrainConfig(task="rot", dataset="d", out="o")
    assert (rot.epochs, rot.batch_size, rot.image_size, rot.lr) == (20, 32, 64, 1e-3)
    mask = TrainConfig(task="mask", dataset="d", out="o")
    assert (mask.epochs, mask.batch_size, mask.image_size, mask.lr) == (20, 16, 128, 2e-3)
    assert TrainConfig(task="mask", dataset="d", out="o", lr=5e-4, epochs=3).lr == 5e-4
    assert TASK_DEFAULTS["mask"].lr == 2e-3
    with pytest.raises(LegodataError, match="task 'seg': expected one of mask, rot"):
        TrainConfig(task="seg", dataset="d", out="o")


def test_train_config_round_trips_through_config_json_and_old_import_path():
    from legodata.train.config import TrainConfig, config_from_dict

    cfg = TrainConfig(task="rot", dataset="d", out="o", epochs=3, limit=5)
    assert config_from_dict({**cfg.to_json(), "unknown_old_key": 1}) == cfg
    pytest.importorskip("torch")
    from legodata.train.loop import TrainConfig as FromLoop  # the import bench/ and tests/train use

    assert FromLoop is TrainConfig


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("epochs", 0, "--epochs 0: must be at least 1"),
        ("batch_size", 0, "--batch-size 0: must be at least 1"),
        ("image_size", 8, "--image-size 8: must be at least 16"),
        ("lr", 0.0, "--lr 0.0: must be positive"),
        ("workers", -1, "--workers -1: must be 0 or more"),
        ("limit", 0, "--limit 0: must be at least 1"),
        ("max_minutes", -2.0, "--max-minutes -2.0: must be positive"),
    ],
)
def test_bad_train_settings_name_the_flag(field, value, message):
    from legodata.train.config import TrainConfig

    with pytest.raises(LegodataError) as err:
        TrainConfig(task="mask", dataset="d", out="o", **{field: value}).validate()
    assert str(err.value) == message


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("crop_size", 4, "--crop-size 4: must be at least 8 pixels"),
        ("shard_rows", 0, "--shard-rows 0: must be at least 1"),
        ("min_px", 0, "--min-px 0: must be at least 1"),
        ("crop_margin", 3.0, "crop_margin=3.0: must be between 0 and 2"),  # Python-only: no --crop-margin flag
        ("workers", 0, "workers=0: must be at least 1"),
        ("split", "0.5,0.6,0.1", "--split 0.5,0.6,0.1: expected three non-negative ratios"),
    ],
)
def test_bad_publish_settings_name_the_flag_or_field(field, value, message):
    from legodata.publish.config import PublishConfig

    with pytest.raises(LegodataError) as err:
        PublishConfig(**{field: value}).validate()
    assert str(err.value).startswith(message)


def test_every_publish_setting_error_names_an_existing_flag_or_a_python_field():
    import typer.main

    from legodata.cli import app
    from legodata.publish.config import CLI_FIELDS, PublishConfig, as_given

    flags = {o for p in typer.main.get_command(app).commands["publish"].params for o in p.opts}
    for name in PublishConfig.__dataclass_fields__:
        text = as_given(name, 1)
        if text.startswith("--"):
            assert text.split()[0] in flags and name in CLI_FIELDS, name
        else:
            assert f"--{name.replace('_', '-')}" not in flags, name
