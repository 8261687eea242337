"""Metrics, losses, the rotation grid and 6D projection, and the in-plane augmentation label, on hand-made cases."""

import cv2
import numpy as np
import pytest
from support.cuboids import draw_part, intrinsics

from legodata.core.rotations import axis_angle_to_matrix, geodesic_angle, random_rotations
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
    assert m["iou"] == pytest.approx(0.5) and m["misses"] == 1 and m["iou_found"] == pytest.approx(0.75)
    assert m["per_part"]["3001"] == {"n": 2, "iou": 0.75, "misses": 0, "iou_found": 0.75}
    assert m["per_part"]["3039"]["iou"] == 0.0 and m["per_part"]["3039"]["misses"] == 1
    assert np.isnan(m["per_part"]["3039"]["iou_found"])


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
    from legodata.geometry import crops

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


def _grid(bins=4096):
    from legodata.train.models import RotationGrid

    return RotationGrid(bins).double()


def test_grid_decode_refines_below_the_grid_spacing():
    grid = _grid()
    R = random_rotations(np.random.default_rng(3), 64)
    Rt = torch.tensor(R)
    d = grid.angles_to(Rt, torch.eye(3, dtype=torch.float64).expand(64, 1, 3, 3))
    nearest = np.degrees(d.min(dim=1).values.numpy())
    # scores shaped like the training target: decoding lands far closer than the nearest grid rotation
    out = grid.decode(-(d**2) / (2 * np.radians(8.0) ** 2)).numpy()
    err = np.degrees(geodesic_angle(out, R))
    assert np.median(nearest) > 5.0
    assert np.median(err) < 2.0 and err.max() < 4.0
    assert np.allclose(np.swapaxes(out, 1, 2) @ out, np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(out), 1.0)


def test_grid_loss_target_treats_symmetric_poses_alike():
    from legodata.train.losses import grid_rotation_loss

    grid = _grid()
    group = torch.tensor(get_part("3001").symmetry.rotations)[None]  # {I, 180 deg about Y}
    no_sym = torch.eye(3, dtype=torch.float64)[None, None]
    R = torch.tensor(random_rotations(np.random.default_rng(5), 1))
    ry = lambda deg: torch.tensor(axis_angle_to_matrix(np.array([0.0, 1.0, 0.0]), np.radians(deg)))[None]  # noqa: E731
    # the label and the label turned 180 deg about Y are the same pose of a 2x4 brick: identical distances
    assert torch.allclose(grid.angles_to(R, group), grid.angles_to(R @ ry(180), group), atol=1e-9)
    assert not torch.allclose(grid.angles_to(R, no_sym), grid.angles_to(R @ ry(180), no_sym), atol=1e-3)
    sigma = np.radians(8.0)
    scores = lambda R_, sym: -(grid.angles_to(R_, sym) ** 2) / (2 * sigma**2)  # noqa: E731
    loss = lambda logits, sym, w=0.0: grid_rotation_loss(logits, grid, R, sym, sigma, w).item()  # noqa: E731
    both, one = scores(R, group), scores(R, no_sym)
    # a prediction that scores both equivalent poses beats one that scores only the label, and a flat one
    assert loss(both, group) < loss(torch.zeros_like(one), group)
    assert loss(both, group) < loss(one, group)
    # the geodesic term scores the decoded rotation: ~0 for either symmetric answer, the real angle otherwise
    geo = lambda logits: loss(logits, group, 1.0) - loss(logits, group)  # noqa: E731
    assert geo(one) < np.radians(4.0)  # decoding is within 4 deg (test above)
    assert geo(scores(R @ ry(180), no_sym)) < np.radians(4.0)
    assert geo(scores(R @ ry(90), no_sym)) == pytest.approx(np.pi / 2, abs=np.radians(4.0))
