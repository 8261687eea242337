"""Metrics, losses, the 6D head and the in-plane augmentation label, on hand-made cases."""

import cv2
import numpy as np
import pytest
from train_synth import draw_part, intrinsics

from legodata.geometry.rotations import axis_angle_to_matrix, random_rotations
from legodata.parts.catalogue import get_part
from legodata.train import data, metrics

torch = pytest.importorskip("torch")


def test_iou_of_known_masks():
    target = np.zeros((4, 4), bool)
    target[:2, :] = True  # 8 pixels
    pred = np.zeros((4, 4), bool)
    pred[:, :2] = True  # 8 pixels, 4 shared
    assert metrics.iou(pred, target) == pytest.approx(4 / 12)
    assert metrics.iou(target, target) == 1.0
    assert metrics.iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0  # nothing to find, nothing found
    assert metrics.iou(np.zeros((3, 3)), np.ones((3, 3))) == 0.0
    m = metrics.mask_metrics(np.array([1.0, 0.5, 0.0]), np.array([0, 0, 1]), ["3001", "3039"])
    assert m["iou"] == pytest.approx(0.5)
    assert m["per_part"]["3001"] == {"n": 2, "iou": 0.75} and m["per_part"]["3039"]["iou"] == 0.0


def test_geodesic_error_of_known_rotations():
    rng = np.random.default_rng(0)
    R = random_rotations(rng, 4)
    angles = np.array([0.0, 10.0, 45.0, 170.0])
    delta = np.stack([axis_angle_to_matrix(np.array([1.0, 2.0, -0.5]), np.radians(a)) for a in angles])
    pred = R @ delta
    ident = np.tile(np.eye(3), (4, 1, 1, 1))
    assert metrics.symmetric_angle_deg(pred, R, ident) == pytest.approx(angles, abs=1e-6)
    m = metrics.rotation_metrics(angles, np.array([0, 0, 1, 1]), ["a", "b"])
    assert m["median_deg"] == pytest.approx(27.5) and m["acc15"] == 0.5 and m["acc30"] == 0.5
    assert m["per_part"]["b"]["median_deg"] == pytest.approx(107.5)


def test_brick_2x4_turned_180_about_its_vertical_axis_has_error_zero():
    group = get_part("3001").symmetry.rotations  # found from the mesh: {I, 180 deg about Y}
    assert len(group) == 2
    ry180 = axis_angle_to_matrix(np.array([0.0, 1.0, 0.0]), np.pi)
    R = random_rotations(np.random.default_rng(1), 3)
    pred = R @ ry180
    sym = np.broadcast_to(group, (3, *group.shape))
    assert metrics.symmetric_angle_deg(pred, R, sym) == pytest.approx(0.0, abs=1e-5)
    assert metrics.symmetric_angle_deg(pred, R, np.eye(3)[None, None].repeat(3, 0)) == pytest.approx(180.0, abs=1e-5)
    # a 90 degree turn is not a symmetry of the 2x4 brick
    ry90 = axis_angle_to_matrix(np.array([0.0, 1.0, 0.0]), np.pi / 2)
    assert metrics.symmetric_angle_deg(R @ ry90, R, sym) == pytest.approx(90.0, abs=1e-5)
    # the training loss agrees
    from legodata.train.losses import symmetric_geodesic

    t = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
    loss = symmetric_geodesic(t(pred), t(R), t(sym))
    assert loss.max().item() < np.radians(0.2)


def test_6d_output_is_a_rotation():
    from legodata.train.models import rotation_6d_to_matrix

    x = torch.randn(64, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    R = rotation_6d_to_matrix(x)
    eye = torch.eye(3, dtype=torch.float64).expand(64, 3, 3)
    assert torch.allclose(R.transpose(1, 2) @ R, eye, atol=1e-10)
    assert torch.allclose(torch.linalg.det(R), torch.ones(64, dtype=torch.float64), atol=1e-10)
    # the first column follows the first 3-vector
    assert torch.allclose(R[:, :, 0], x[:, :3] / x[:, :3].norm(dim=1, keepdim=True), atol=1e-12)


def _axes_image(R, size=97):
    """The model's x axis (red) and y axis (green) projected from 0.5 m straight ahead."""
    K = intrinsics(size)
    t = np.array([0.0, 0.0, 0.5])
    uv = lambda p: tuple(int(round(c * 16)) for c in (K @ p)[:2] / (K @ p)[2])  # noqa: E731
    image = np.zeros((size, size, 3), np.uint8)
    o = uv(t)
    cv2.line(image, o, uv(R @ [0.09, 0, 0] + t), (255, 0, 0), 3, cv2.LINE_AA, 4)
    cv2.line(image, o, uv(R @ [0, 0.06, 0] + t), (0, 255, 0), 3, cv2.LINE_AA, 4)
    return image


def _centroids(image):
    out = []
    for c in (0, 1):
        ys, xs = np.nonzero(image[:, :, c] > 128)
        out.append((xs.mean(), ys.mean()))
    return np.array(out)


@pytest.mark.parametrize("angle_deg", [35.0, -120.0, 90.0])
def test_inplane_augmentation_changes_the_label_by_rz(angle_deg):
    R = random_rotations(np.random.default_rng(3), 1)[0]
    a = np.radians(angle_deg)
    rotated = data.rotate_inplane(_axes_image(R), a)
    expected = _axes_image(data.rz(a) @ R)
    wrong = _axes_image(data.rz(-a) @ R)
    err = np.abs(_centroids(rotated) - _centroids(expected)).max()
    assert err < 0.6, err
    assert np.abs(_centroids(rotated) - _centroids(wrong)).max() > 3


def test_allocentric_label_matches_the_centred_view_of_an_off_centre_part():
    """A crop of an off-centre part looks like the part straight ahead with R_ray^T R_m2c (the label we learn)."""
    from legodata.publish import crops

    size = 256
    K = intrinsics(size)
    R = random_rotations(np.random.default_rng(5), 1)[0]
    t = np.array([0.12, -0.09, 0.45])

    def render(R, t):
        image = np.zeros((size, size, 3), np.uint8)
        mask = np.zeros((size, size), np.uint16)
        draw_part(image, mask, "3039", 4, R, t, K, 1)
        ys, xs = np.nonzero(mask)
        box = crops.crop_box((xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1), 0.1)
        return crops.crop_mask(mask, 1, box, 64) > 0, box

    off, box = render(R, t)
    ray = data.crop_ray(K, *box)
    centred_t = np.array([0.0, 0.0, np.linalg.norm(t)])
    allo, _ = render(ray.T @ R, centred_t)
    naive, _ = render(R, centred_t)
    iou_allo, iou_naive = metrics.iou(off, allo), metrics.iou(off, naive)
    assert iou_allo > 0.9 and iou_allo > iou_naive + 0.03, (iou_allo, iou_naive)
    assert np.allclose(ray @ [0, 0, 1], t / np.linalg.norm(t), atol=0.02)
