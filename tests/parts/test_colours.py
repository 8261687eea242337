import pytest

from legodata.parts.colours import Colour, UnknownColourError, get_colour, list_colours, parse_colour_list


def test_table_has_common_opaque_colours_sorted_by_code():
    colours = list_colours()
    codes = [c.code for c in colours]
    assert codes == sorted(codes) and len(codes) == len(set(codes)) == 25
    for code in (0, 1, 2, 4, 14, 15, 19, 25, 71, 72):  # the render defaults
        assert code in codes
    for c in colours:
        assert isinstance(c, Colour)
        assert c.rgb_hex.startswith("#") and len(c.rgb_hex) == 7 and c.rgb_hex == c.rgb_hex.upper()
        int(c.rgb_hex[1:], 16)


def test_known_ldconfig_values():
    assert get_colour(0) == Colour(0, "Black", "#1B2A34")
    assert get_colour(4).rgb_hex == "#B40000"
    assert get_colour(14).name == "Yellow" and get_colour(14).rgb_hex == "#FAC80A"
    assert get_colour(71).name == "Light Bluish Grey" and get_colour(71).rgb_hex == "#A0A5A9"
    assert get_colour("72").rgb_hex == "#6C6E68"


def test_rgb_is_in_unit_range():
    assert get_colour(15).rgb == pytest.approx((0xF4 / 255, 0xF4 / 255, 0xF4 / 255))
    assert get_colour(4).rgb == (0xB4 / 255, 0.0, 0.0)
    for c in list_colours():
        assert len(c.rgb) == 3 and all(0.0 <= v <= 1.0 for v in c.rgb)


def test_unknown_colour_error_is_one_line_naming_the_code():
    with pytest.raises(UnknownColourError) as info:
        get_colour(9999)
    message = str(info.value)
    assert "9999" in message and "\n" not in message and info.value.args[0] == message
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownColourError, match="'red'"):
        get_colour("red")


def test_parse_colour_list():
    assert [c.code for c in parse_colour_list("4,14,15")] == [4, 14, 15]
    assert [c.code for c in parse_colour_list(" 4 , 4,, 0")] == [4, 0]
    assert parse_colour_list("all") == list_colours()
    assert parse_colour_list("") == []
    with pytest.raises(UnknownColourError, match="13"):
        parse_colour_list("4,13")
