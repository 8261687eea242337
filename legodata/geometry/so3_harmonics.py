"""Band-limited functions on SO(3) sampled on a rotation grid: an orthonormal basis of the polynomials of degree
at most ``L`` in the entries of the rotation matrix.

These polynomials span exactly the Wigner-D functions of degree ``l <= L`` (the matrix entries are the degree-1
Wigner-D functions, products of degree-``l`` ones and them span degree ``l + 1``), a space of dimension
``sum_{l <= L} (2l + 1)^2``. A rotation model that predicts the coefficients of its score in this basis, instead of
one free score per grid rotation, gives near rotations near scores from the first step (the smoothness prior of
Image2Sphere, Klee et al., ICLR 2023), which is what lets it learn from a few hundred crops.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from legodata.geometry.so3_grid import super_fibonacci_rotations

Array = np.ndarray


def harmonic_dimension(degree: int) -> int:
    """``sum_{l <= degree} (2l + 1)^2``: the dimension of the band-limited functions of that degree."""
    return sum((2 * l + 1) ** 2 for l in range(degree + 1))  # noqa: E741 (l is the degree's usual name)


def _top_directions(columns: Array, count: int, what: str) -> Array:
    """Orthonormal columns spanning the ``count`` strongest directions of ``columns`` (from the small Gram matrix:
    ``columns`` is tall)."""
    values, vectors = np.linalg.eigh(columns.T @ columns)
    values, vectors = values[::-1][:count], vectors[:, ::-1][:, :count]
    if len(values) < count or values[-1] < 1e-9 * values[0]:
        raise ValueError(f"{what}: the grid is too small to resolve {count} directions; use a larger grid")
    directions = columns @ (vectors / np.sqrt(values))
    q, _ = np.linalg.qr(directions)  # one more pass against the rounding of the Gram matrix
    return q


def polynomial_basis(rotations: Array, degree: int) -> Array:
    """An orthonormal basis ``(n, harmonic_dimension(degree))`` of the polynomials of degree ``<= degree`` in the
    entries of ``rotations`` ``(n, 3, 3)``, as values on those rotations (columns ordered by degree)."""
    if degree < 0:
        raise ValueError(f"degree {degree}: must be 0 or more")
    n = len(rotations)
    if n < harmonic_dimension(degree):
        raise ValueError(f"{n} rotations cannot hold the {harmonic_dimension(degree)} functions of degree {degree}")
    entries = np.asarray(rotations, np.float64).reshape(n, 9)
    basis = np.full((n, 1), 1.0 / np.sqrt(n))
    newest = basis  # the degree-l block: products of it with the entries span degree l + 1 modulo lower degrees
    for l in range(1, degree + 1):  # noqa: E741
        products = (newest[:, :, None] * entries[:, None, :]).reshape(n, -1)
        products -= basis @ (basis.T @ products)  # keep only what is new in degree l
        newest = _top_directions(products, (2 * l + 1) ** 2, f"degree {l} on {n} rotations")
        basis = np.concatenate([basis, newest], axis=1)
    return basis


@lru_cache(maxsize=8)
def grid_basis(bins: int, degree: int) -> Array:
    """:func:`polynomial_basis` on the super-Fibonacci grid of ``bins`` rotations (cached: a model build's cost)."""
    basis = polynomial_basis(super_fibonacci_rotations(bins), degree)
    basis.setflags(write=False)
    return basis
