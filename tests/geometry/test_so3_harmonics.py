import numpy as np
import pytest

from legodata.geometry.so3_grid import super_fibonacci_rotations
from legodata.geometry.so3_harmonics import grid_basis, harmonic_dimension, polynomial_basis


def _random_rotations(n: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1
    return q


def _residual(basis: np.ndarray, values: np.ndarray) -> float:
    """How far ``values`` (n,) lies from the column space of ``basis`` (relative)."""
    rest = values - basis @ (basis.T @ values)
    return float(np.linalg.norm(rest) / np.linalg.norm(values))


@pytest.mark.parametrize("degree", [0, 1, 2, 3, 4])
def test_basis_is_orthonormal_with_the_wigner_dimension(degree):
    basis = polynomial_basis(_random_rotations(600, degree), degree)
    assert basis.shape == (600, harmonic_dimension(degree))
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-9)
    assert harmonic_dimension(degree) == [1, 10, 35, 84, 165][degree]


def test_basis_holds_exactly_the_polynomials_of_its_degree():
    rotations = _random_rotations(800, 1)
    entries = rotations.reshape(-1, 9)
    cubic = entries[:, 0] * entries[:, 4] * entries[:, 8] + entries[:, 1] ** 3 - 0.5 * entries[:, 5]
    quadratic = entries[:, 2] * entries[:, 6] + 0.3
    for degree, inside, outside in ((2, quadratic, cubic), (3, cubic, None)):
        basis = polynomial_basis(rotations, degree)
        assert _residual(basis, inside) < 1e-9
        if outside is not None:
            assert _residual(basis, outside) > 1e-3  # a true cubic is not a quadratic on SO(3)


def test_space_is_invariant_under_turning_every_rotation():
    """The band-limited functions of f(R) are those of f(Q R): the basis on Q X spans the basis on X."""
    x = _random_rotations(500, 2)
    q = _random_rotations(1, 3)[0]
    basis = polynomial_basis(x, 3)
    turned = polynomial_basis(q @ x, 3)  # values of the polynomials p(Q .) at X
    assert max(_residual(basis, turned[:, k]) for k in range(turned.shape[1])) < 1e-9


def test_too_few_rotations_for_the_degree_is_an_error():
    with pytest.raises(ValueError, match="cannot hold"):
        polynomial_basis(_random_rotations(50, 4), 3)


def test_grid_basis_is_cached_and_read_only():
    a = grid_basis(512, 2)
    assert a is grid_basis(512, 2)
    assert not a.flags.writeable
    np.testing.assert_allclose(a, polynomial_basis(super_fibonacci_rotations(512), 2))
