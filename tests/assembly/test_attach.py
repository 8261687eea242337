"""Where parts go: the part they attach to, stud offsets as seen in the manual, and the sentence."""

import numpy as np
import pytest
from support.assembly_models import three_step_ldr

from legodata.assembly.attach import attachments, colour_phrase, part_phrase, sentence, view_axes
from legodata.assembly.specs import R_LDRAW_TO_Z_UP, manual_camera
from legodata.assembly.steps import load_assembly
from legodata.parts.catalogue import get_part

# a camera in front (LDraw -Z) looking at +Z: image x = build +X, towards the viewer = build -Z
FRONT = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])


@pytest.fixture()
def three(tmp_path):
    path = tmp_path / "three_steps.ldr"
    path.write_text(three_step_ldr())
    a = load_assembly(path)
    return a, {pid: get_part(pid).mesh for pid in a.part_keys()}


def test_three_step_model_attachments_and_sentences(three):
    a, meshes = three
    att = attachments(a, meshes, FRONT)
    assert [(x.base, x.relation) for x in att] == [(None, "table"), (0, "on"), (0, "on"), (1, "on")]
    # red 2x2 brick on the 2x4 plate's left half, flush with its left and front edges
    assert (att[1].from_left, att[1].from_front, att[1].level) == (0, 0, 1)
    # yellow 1x2 plate across the right end: 3 studs from the left, flush front, crosswise
    assert (att[2].from_left, att[2].from_front, att[2].crosswise) == (3, 0, True)
    # blue 1x2 brick across the red 2x2 brick: 1 stud from its left
    assert (att[3].from_left, att[3].from_front) == (1, 0)
    names = {"3020": "Plate 2 x 4", "3003": "Brick 2 x 2", "3023": "Plate 1 x 2", "3004": "Brick 1 x 2"}
    text = sentence(att[2], "yellow " + part_phrase(names["3023"]), "black " + part_phrase(names["3020"]))
    assert text == (
        "place the yellow 1x2 plate on the black 2x4 plate, 3 studs from the left and at the front edge, crosswise"
    )
    assert sentence(att[0], "black 2x4 plate", None) == "place the black 2x4 plate on the table"
    removal = sentence(att[3], "blue 1x2 brick", "red 2x2 brick", remove=True)
    assert removal == "remove the blue 1x2 brick from the red 2x2 brick"


def test_offsets_follow_the_manual_view(three):
    a, meshes = three
    # from behind (camera at +Z looking at -Z): left and right swap
    behind = np.array([[-1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]])
    att = attachments(a, meshes, behind)
    assert att[2].from_left == 0 and att[1].from_left == 2
    # the manual camera of the specs looks from the front-left and above: right = +X, front = -Z
    pts = np.concatenate([meshes[p.part_id].vertices @ p.R.T + p.t for p in a.parts]) @ R_LDRAW_TO_Z_UP.T
    view = manual_camera(pts, 128, 96)
    right, front = view_axes(np.asarray(view.R_w2c) @ R_LDRAW_TO_Z_UP)
    assert np.allclose(right, [1, 0, 0]) and np.allclose(front, [0, 0, -1])


def test_overhang_and_under():
    from legodata.assembly.attach import Attachment

    assert "overhanging the left edge by 1 stud" in sentence(Attachment(1, 0, "on", -1, 2, 3, False), "a", "b")
    assert "2 studs from the front" in sentence(Attachment(1, 0, "on", -1, 2, 3, False), "a", "b")
    assert sentence(Attachment(1, 0, "under", 0, 0, -3, False), "a", "b").startswith("place the a under the b")


@pytest.mark.parametrize(
    "name, phrase",
    [
        ("Brick 2 x 4", "2x4 brick"),
        ("Slope Brick 45 2 x 2", "2x2 slope brick 45"),
        ("Plate  1 x  2 with Clip", "1x2 plate with clip"),
        ("Brick 1 x 2 x 5", "1x2x5 brick"),
        ("Steering Wheel", "steering wheel"),
    ],
)
def test_part_phrases(name, phrase):
    assert part_phrase(name) == phrase


def test_colour_phrase():
    assert colour_phrase("Light_Bluish_Grey") == "light bluish grey"
    assert colour_phrase("Trans Yellow") == "trans yellow"
