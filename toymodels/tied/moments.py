"""Moments of the sparse uniform data of Section 2.1 of the notes, exact and estimated.

A data point has independent entries ``x_i = B_i U_i`` with ``B_i ~ Bernoulli(p_i)``,
``p_i = 1 - S_i``, and ``U_i ~ Uniform[0, 1]``. Every function accepts a sparsity ``S`` that
is a scalar or a per-feature vector of shape ``(D,)``. The closed forms are

    P(x_i = 0) = S_i,   E x_i = p_i/2,   E x_i² = p_i/3,   E x_i x_j = p_i p_j/4 (i ≠ j),

so the population second-moment matrix is ``E[xxᵀ] = diag(p/3 - p²/4) + (p/2)(p/2)ᵀ``; for a
scalar ``S`` this is ``a I + b 11ᵀ`` with ``a = p/3 - p²/4`` and ``b = p²/4``. The notes'
``Σ = Σ_t x_t x_tᵀ`` is a *sum*, so ``E Σ = T · E[xxᵀ]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toymodels._checks import check_finite_array, check_int, check_probability
from toymodels.limits import refuse_if_too_big

__all__ = [
    "Estimate",
    "zero_probability",
    "expected_nonzeros",
    "mean",
    "second_moment_diagonal",
    "second_moment_offdiagonal",
    "zero_probability_offdiagonal",
    "population_second_moment",
    "centred_covariance",
    "spike_and_bulk",
    "population_spectrum",
    "helmert_basis",
    "skeleton_probabilities",
    "monte_carlo",
    "empirical_spectra",
]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate with its standard error and the exact value it estimates."""

    name: str
    value: float
    se: float
    exact: float

    @property
    def z(self) -> float:
        """(estimate − exact)/standard error: |z| ≲ 3 when the closed form is right."""
        return (self.value - self.exact) / self.se if self.se > 0 else (
            0.0 if self.value == self.exact else np.inf)


def _S(S, D: int | None = None) -> np.ndarray:
    if D is None:
        return check_probability(S, "S")
    D = _check_D(D)
    return np.broadcast_to(check_probability(S, "S", shape=(D,)), (D,)).astype(np.float64)


def _check_D(D, *, matrix: bool = False, work_power: int = 1, what: str = "") -> int:
    """``D`` as a positive int, refused when the call's ``D``-vector (``D × D`` matrices with
    ``matrix``) or its ``D**work_power`` operations exceed :mod:`toymodels.limits`."""
    D = check_int(D, "D", minimum=1)
    refuse_if_too_big(f"{what or 'this call'} with D = {D}", memory=8.0 * 4 * D ** (2 if matrix else 1),
                      work=10.0 * float(D) ** work_power, advice="choose a smaller D")
    return D


def zero_probability(S):
    """``P(x_i = 0) = S`` (notes §2.1: ``B_i = 0``, and ``U_i = 0`` has probability 0)."""
    return _S(S) * 1.0


def expected_nonzeros(S, D: int) -> float:
    """Expected number of non-zero entries, ``Σ_i (1 - S_i)`` = ``(1 - S) D`` (notes §2.1)."""
    return float(np.sum(1.0 - _S(S, D)))


def mean(S):
    """``E x_i = (1 - S)/2`` (notes §2.1)."""
    return (1.0 - _S(S)) / 2


def second_moment_diagonal(S):
    """``E x_i² = (1 - S)/3`` (notes §2.1), the diagonal of ``E[x ⊗ x]``."""
    return (1.0 - _S(S)) / 3


def second_moment_offdiagonal(S):
    """``E x_i x_j = (1 - S)²/4`` for ``i ≠ j`` with equal sparsities (notes §2.1)."""
    return (1.0 - _S(S)) ** 2 / 4


def zero_probability_offdiagonal(S):
    """``P(x_i x_j = 0) = 1 - (1 - S)²`` for ``i ≠ j`` (notes §2.1); the diagonal entry
    ``x_i²`` is zero with probability ``S``."""
    return 1.0 - (1.0 - _S(S)) ** 2


def population_second_moment(S, D: int) -> np.ndarray:
    """``E[xxᵀ] = diag(p/3 - p²/4) + (p/2)(p/2)ᵀ`` (D×D), so ``E Σ = T · E[xxᵀ]``.

    For a scalar ``S`` this is ``a I + b 11ᵀ`` (see :func:`spike_and_bulk`).
    """
    p = 1.0 - _S(S, _check_D(D, matrix=True, work_power=2, what="population_second_moment"))
    m = p / 2
    return np.diag(p / 3 - p**2 / 4) + np.outer(m, m)


def centred_covariance(S, D: int) -> np.ndarray:
    """``Cov(x) = E[xxᵀ] - E[x]E[x]ᵀ = diag(p/3 - p²/4)``: diagonal, since features are
    independent; a multiple of ``I`` when all features share one sparsity."""
    p = 1.0 - _S(S, _check_D(D, matrix=True, work_power=2, what="centred_covariance"))
    return np.diag(p / 3 - p**2 / 4)


def spike_and_bulk(S) -> tuple[float, float]:
    """``(a, b)`` with ``E[xxᵀ] = a I + b 11ᵀ`` for a scalar sparsity ``S``:
    ``a = p/3 - p²/4`` (the variance of one feature), ``b = p²/4`` (the squared mean)."""
    S = check_probability(S, "S")
    if S.ndim != 0:
        raise ValueError(f"S must be a scalar here (a single sparsity), got shape {S.shape}")
    p = 1.0 - float(S)
    return p / 3 - p**2 / 4, p**2 / 4


def helmert_basis(D: int) -> np.ndarray:
    """An explicit orthonormal basis of ``Rᴰ`` whose first column is ``1/√D``.

    Columns ``k = 2..D`` are the Helmert contrasts ``(1, ..., 1, -(k-1), 0, ..., 0)`` normalised:
    an orthonormal basis of the complement ``1^⊥``, the bulk eigenspace of ``a I + b 11ᵀ``.
    """
    D = _check_D(D, matrix=True, work_power=2, what="helmert_basis")
    H = np.zeros((D, D))
    H[:, 0] = 1 / np.sqrt(D)
    for k in range(1, D):
        H[:k, k] = 1.0
        H[k, k] = -k
        H[:, k] /= np.sqrt(k * (k + 1))
    return H


def population_spectrum(S, D: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (decreasing) and eigenvectors (columns) of ``E[xxᵀ]``.

    Scalar ``S``: in closed form, ``λ_1 = a + bD`` with eigenvector ``1/√D`` (the mean
    direction) and ``λ_2 = ... = λ_D = a`` on ``1^⊥`` (a repeated eigenvalue, so the
    eigenvectors there are one choice among many: :func:`helmert_basis`). When ``S = 1``
    every eigenvalue is 0. Per-feature ``S``: numerically, with ``numpy.linalg.eigh``.
    """
    D = _check_D(D, matrix=True, work_power=3, what="population_spectrum")
    S_arr = check_probability(S, "S", shape=(D,))
    if S_arr.ndim == 0:
        a, b = spike_and_bulk(S_arr)
        λ = np.full(D, a)
        λ[0] = a + b * D
        return λ, helmert_basis(D)
    λ, U = np.linalg.eigh(population_second_moment(S_arr, D))
    return λ[::-1].copy(), U[:, ::-1].copy()


def skeleton_probabilities(S, D: int) -> np.ndarray:
    """``P(x ∈ Q_l)`` for ``l = 0..D``: the law of the number of non-zero entries.

    Binomial(D, 1 - S) for a scalar ``S``; the Poisson-binomial law for per-feature ``S``
    (computed by convolution, exact up to rounding).
    """
    p = 1.0 - _S(S, _check_D(D, work_power=2, what="skeleton_probabilities (a convolution of D "
                                                    "Bernoulli laws, D² operations)"))
    probs = np.zeros(p.size + 1)
    probs[0] = 1.0
    for pi in p:
        probs[1:] = probs[1:] * (1 - pi) + probs[:-1] * pi
        probs[0] *= 1 - pi
    return probs


def monte_carlo(x, S) -> list[Estimate]:
    """Estimate every claim of Section 2.1 from samples ``x`` (T×D, T ≥ 2, D ≥ 2) of the data
    with one scalar sparsity ``S``, with standard errors.

    Each estimate pools the features *within* a sample (e.g. the average of ``x_ti`` over ``i``)
    and then averages the ``T`` iid per-sample values, so its standard error is the sample
    standard deviation of those values over ``√T``: valid without assuming independent features.
    Returned in this order: ``P(x_i=0)``, ``#nonzero``, ``E x_i``, ``E x_i²``, ``E x_i x_j``,
    ``P(x_i²=0)``, ``P(x_i x_j=0)``.
    """
    x = check_finite_array(x, "x", ndim=2)
    T, D = x.shape
    if T < 2 or D < 2:
        raise ValueError(f"x must have at least 2 rows and 2 columns, got shape {x.shape}")
    S = check_probability(S, "S")
    if S.ndim != 0:
        raise ValueError(f"S must be a scalar, got shape {S.shape}")
    S = float(S)
    k = np.count_nonzero(x, axis=1).astype(np.float64)
    s1, s2 = x.sum(axis=1), (x * x).sum(axis=1)
    pairs = D * (D - 1)
    per_sample = {
        "P(x_i=0)": (1 - k / D, zero_probability(S)),
        "#nonzero": (k, expected_nonzeros(S, D)),
        "E x_i": (s1 / D, mean(S)),
        "E x_i^2": (s2 / D, second_moment_diagonal(S)),
        "E x_i x_j": ((s1**2 - s2) / pairs, second_moment_offdiagonal(S)),
        "P(x_i^2=0)": (1 - k / D, zero_probability(S)),
        "P(x_i x_j=0)": (1 - k * (k - 1) / pairs, zero_probability_offdiagonal(S)),
    }
    return [Estimate(name, float(v.mean()), float(v.std(ddof=1) / np.sqrt(T)), float(exact))
            for name, (v, exact) in per_sample.items()]


def empirical_spectra(x, Ts) -> np.ndarray:
    """Eigenvalues (decreasing) of ``Σ_T / T`` for the first ``T`` rows of ``x``, for each
    ``T`` in ``Ts`` (increasing): shape ``(len(Ts), D)``. ``Σ_T = Σ_{t ≤ T} x_t x_tᵀ`` is
    accumulated incrementally, so the cost is that of one pass over the largest ``T``."""
    x = check_finite_array(x, "x", ndim=2)
    Ts = np.asarray(Ts)
    if Ts.ndim != 1 or Ts.size == 0 or not np.issubdtype(Ts.dtype, np.integer):
        raise TypeError(f"Ts must be a non-empty 1-d sequence of integers, got {Ts!r}")
    refuse_if_too_big(f"empirical_spectra with {Ts.size} sizes Ts and D = {x.shape[1]}",
                      work=Ts.size * 10.0 * x.shape[1] ** 3, advice="pass fewer sizes Ts")
    if np.any(np.diff(Ts) <= 0) or Ts[0] < 1 or Ts[-1] > x.shape[0]:
        raise ValueError(f"Ts must increase strictly within 1..{x.shape[0]}, got {Ts.tolist()}")
    Σ = np.zeros((x.shape[1], x.shape[1]))
    out, start = [], 0
    for T in Ts:
        block = x[start:T]
        Σ += block.T @ block
        start = T
        out.append(np.linalg.eigvalsh(Σ / T)[::-1])
    return np.array(out)
