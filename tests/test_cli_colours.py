"""``legodata colours``: every built-in colour once, as code, sRGB hex and name, in a form ``--colours`` accepts."""

import re
import subprocess
import sys

from legodata.parts.colours import get_colour, list_colours, parse_colour_list

LINE = re.compile(r"^(\d+)\s+#([0-9A-F]{6})\s+(\S.*)$")


def test_colours_lists_the_built_in_table():
    r = subprocess.run([sys.executable, "-m", "legodata.cli", "colours"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [LINE.match(line) for line in r.stdout.splitlines()]
    assert all(rows), r.stdout
    codes = [int(m[1]) for m in rows]
    assert codes == sorted(codes) == [c.code for c in list_colours()]  # each once, by code
    for m in rows:
        colour = get_colour(int(m[1]))
        assert m[3].strip() == colour.name
        # the hex is the colour the renderer uses (sRGB in [0, 1])
        assert [int(m[2][i : i + 2], 16) for i in (0, 2, 4)] == [round(v * 255) for v in colour.rgb]
    by_code = {int(m[1]): (m[2], m[3].strip()) for m in rows}
    assert by_code[0] == ("1B2A34", "Black") and by_code[15][1] == "White" and by_code[4][1] == "Red"
    # what it prints is what --colours takes
    assert parse_colour_list(",".join(str(c) for c in codes)) == list_colours()
