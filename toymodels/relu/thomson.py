"""The Thomson problem: ``N`` points on the sphere ``S^{m−1}`` with least Coulomb energy.

The notes (Section 3.1) ask how the ReLU output model connects to the Thomson problem
{cite}`thomson1904structure`, as the Toy Models paper suggests. This module solves the
problem numerically so the chapter can set the two side by side::

    E(x_1, …, x_N) = Σ_{i<j} 1 / ‖x_i − x_j‖^s,   ‖x_i‖ = 1        (s = 1: Coulomb)

The solver minimises ``E(y_1/‖y_1‖, …, y_N/‖y_N‖)`` over unconstrained ``y`` with L-BFGS
(analytic gradient) from many seeded random starts and keeps the best; the result is
deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from toymodels._checks import as_rng, check_finite_array, check_float, check_int
from toymodels.limits import refuse_if_too_big

__all__ = ["PUBLISHED_ENERGIES", "coulomb_energy", "energy_gradient", "ThomsonSolution",
           "solve_thomson", "random_sphere_points"]

#: Minimal Coulomb energies of N = 2..12 points on S², as published by Wales & Ulker (2006)
#: (Cambridge Cluster Database; also tabulated on Wikipedia's "Thomson problem" page).
PUBLISHED_ENERGIES = {
    2: 0.500000000, 3: 1.732050808, 4: 3.674234614, 5: 6.474691495, 6: 9.985281374,
    7: 14.452977414, 8: 19.675287861, 9: 25.759986531, 10: 32.716949460, 11: 40.596450510,
    12: 49.165253058,
}


def _check_points(X, name="X"):
    X = check_finite_array(X, name, ndim=2)
    if X.shape[0] < 2:
        raise ValueError(f"{name} must hold at least 2 points (rows), got {X.shape[0]}")
    N, m = X.shape
    refuse_if_too_big(f"the energy of {N} points {name} in R^{m}", memory=8.0 * 3 * N * N * m,
                      work=10.0 * N * N * m, advice=f"pass fewer points {name}")
    return X


def coulomb_energy(X, s: float = 1.0) -> float:
    """``Σ_{i<j} ‖x_i − x_j‖^{−s}`` for the rows ``x_i`` of ``X`` (``s = 1``: Coulomb).

    Coincident points give ``inf``. The points are not normalised: pass unit vectors for the
    Thomson energy.
    """
    X = _check_points(X)
    s = check_float(s, "s", positive=True)
    iu = np.triu_indices(X.shape[0], 1)
    r = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1)[iu]
    with np.errstate(divide="ignore"):
        return float(np.sum(r ** (-s)))


def energy_gradient(X, s: float = 1.0) -> np.ndarray:
    """The gradient of :func:`coulomb_energy` with respect to the points, shape ``(N, m)``:
    ``∂E/∂x_i = −s Σ_{j≠i} (x_i − x_j) / ‖x_i − x_j‖^{s+2}``."""
    X = _check_points(X)
    s = check_float(s, "s", positive=True)
    diff = X[:, None, :] - X[None, :, :]
    r2 = (diff**2).sum(-1)
    np.fill_diagonal(r2, 1.0)
    f = r2 ** (-(s + 2) / 2)
    np.fill_diagonal(f, 0.0)
    return -s * (f[:, :, None] * diff).sum(1)


def random_sphere_points(N: int, m: int, *, rng=None) -> np.ndarray:
    """``N`` points uniform on ``S^{m−1}`` (normalised Gaussians), shape ``(N, m)``."""
    N = check_int(N, "N", minimum=1)
    m = check_int(m, "m", minimum=1)
    refuse_if_too_big(f"random_sphere_points with N = {N}, m = {m}", memory=16.0 * N * m,
                      work=10.0 * N * m, advice="ask for fewer points N")
    rng = as_rng(rng, "rng")
    Y = rng.standard_normal((N, m))
    return Y / np.linalg.norm(Y, axis=1, keepdims=True)


@dataclass(frozen=True)
class ThomsonSolution:
    """The best configuration found: ``X`` (unit rows), its ``energy``, the energies of every
    restart (sorted) and how many restarts reached the best energy (within ``1e-7``)."""

    X: np.ndarray
    energy: float
    restart_energies: np.ndarray
    hits: int


def _fun(y, N, m, s):
    Y = y.reshape(N, m)
    n = np.linalg.norm(Y, axis=1, keepdims=True)
    X = Y / n
    E = coulomb_energy(X, s)
    G = energy_gradient(X, s)
    # chain rule through x = y/‖y‖: ∂x/∂y = (I − x xᵀ)/‖y‖
    gy = (G - (G * X).sum(1, keepdims=True) * X) / n
    return E, gy.ravel()


def solve_thomson(N: int, m: int = 3, *, s: float = 1.0, restarts: int = 20, seed: int = 0,
                  tol: float = 1e-12) -> ThomsonSolution:
    """Minimise the Riesz ``s``-energy (Coulomb for ``s = 1``) of ``N`` points on ``S^{m−1}``.

    L-BFGS on ``y ↦ E(y/‖y‖)`` from ``restarts`` random starts drawn from a generator seeded by
    ``seed``; returns the best. The Thomson problem has many local minima for larger ``N``: the
    number of restarts that found the best energy (``hits``) says how easy it was. ``tol`` is
    L-BFGS's relative tolerance on the energy, in ``(0, 1)``.
    """
    N = check_int(N, "N", minimum=2)
    m = check_int(m, "m", minimum=2)
    restarts = check_int(restarts, "restarts", minimum=1)
    s = check_float(s, "s", positive=True)
    tol = check_float(tol, "tol", positive=True, maximum=1.0, max_open=True)
    refuse_if_too_big(f"solve_thomson with N = {N}, m = {m}, restarts = {restarts}",
                      work=restarts * 5000.0 * 20 * N * N * m, memory=8.0 * 4 * N * N * m,
                      advice="use fewer points N or fewer restarts")
    rng = as_rng(seed, "seed")
    best, energies = None, []
    for _ in range(restarts):
        y0 = random_sphere_points(N, m, rng=rng).ravel()
        res = minimize(_fun, y0, args=(N, m, s), jac=True, method="L-BFGS-B",
                       options={"maxiter": 5000, "ftol": tol, "gtol": 1e-10})
        Y = res.x.reshape(N, m)
        X = Y / np.linalg.norm(Y, axis=1, keepdims=True)
        E = coulomb_energy(X, s)
        energies.append(E)
        if best is None or E < best[1]:
            best = (X, E)
    energies = np.sort(np.array(energies))
    hits = int(np.sum(energies <= best[1] + 1e-7))
    return ThomsonSolution(best[0], float(best[1]), energies, hits)
