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
