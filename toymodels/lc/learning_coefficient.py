"""Exact learning coefficients and the free energy they enter (Chapter 5).

* :func:`rrr_learning_coefficient`: the learning coefficient of reduced-rank regression
  ``y = B A x`` (``A`` of shape ``H × M``, ``B`` of shape ``N × H``) at a true map of rank ``r``,
  with its multiplicity, from Aoyagi & Watanabe (2005), Theorem 1 — eq. (5.3) of Chapter 5.
* :func:`localised_quadratic_expectation`: the exact mean of the estimator (5.1) for a
  quadratic loss under the Gaussian localisation, eq. (5.4): the finite-``γ`` value an SGLD
  estimate of a regular model should reproduce.
* :func:`hessian_llc`: what the Hessian at a local minimum says about ``λ``: the bounds
  ``rank/2 ≤ λ ≤ rank/2 + nullity/4`` and the value ``rank/2`` when every null direction is
  tangent to the set of minima (the Morse–Bott case), Proposition 5.2.
* :func:`free_energy` and :func:`crossover_sample_size`: ``F_n ≈ n L + λ log n`` (5.5) and the
  sample size at which two configurations have equal free energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from toymodels._checks import check_finite_array, check_float, check_int

__all__ = ["RRRCoefficient", "rrr_learning_coefficient", "localised_quadratic_expectation",
           "HessianLLC", "hessian_llc", "free_energy", "crossover_sample_size"]


@dataclass(frozen=True)
class RRRCoefficient:
    """``λ`` (exact, a :class:`fractions.Fraction`), its multiplicity ``m`` and the case of
    Aoyagi & Watanabe's theorem that applies (1: the central case, 2–4: the boundary cases)."""

    λ: Fraction
    m: int
    case: int

    def __float__(self) -> float:
        return float(self.λ)


def rrr_learning_coefficient(M: int, N: int, H: int, r: int) -> RRRCoefficient:
    """The learning coefficient of reduced-rank regression, eq. (5.3) of Chapter 5.

    Model ``y = B A x`` with input dimension ``M``, output dimension ``N``, ``H`` hidden units,
    at a true map of rank ``r ≤ min(H, M, N)`` (Aoyagi & Watanabe 2005, Theorem 1):

    * case 4, ``M + N < H + r``: ``λ = MN/2``, ``m = 1``;
    * case 2, ``M + H < N + r``: ``λ = (HM − Hr + Nr)/2``, ``m = 1``;
    * case 3, ``N + H < M + r``: ``λ = (HN − Hr + Mr)/2``, ``m = 1``;
    * case 1, otherwise (``N + r ≤ M + H``, ``M + r ≤ N + H``, ``H + r ≤ M + N``):
      ``λ = (2(H + r)(M + N) − (M − N)² − (H + r)²)/8``, ``m = 1`` when ``M + N + H + r`` is
      even; add ``1/8`` and ``m = 2`` when it is odd.
    """
    M = check_int(M, "M (input dimension)", minimum=1, maximum=10**6)
    N = check_int(N, "N (output dimension)", minimum=1, maximum=10**6)
    H = check_int(H, "H (hidden dimension)", minimum=1, maximum=10**6)
    r = check_int(r, "r (rank of the true map)", minimum=0, maximum=min(H, M, N))
    if M + N < H + r:
        return RRRCoefficient(Fraction(M * N, 2), 1, 4)
    if M + H < N + r:
        return RRRCoefficient(Fraction(H * M - H * r + N * r, 2), 1, 2)
    if N + H < M + r:
        return RRRCoefficient(Fraction(H * N - H * r + M * r, 2), 1, 3)
    num = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
    if (M + N + H + r) % 2 == 0:
        return RRRCoefficient(Fraction(num, 8), 1, 1)
    return RRRCoefficient(Fraction(num + 1, 8), 2, 1)


def localised_quadratic_expectation(h, nβ: float, γ: float) -> float:
    """The exact mean of the estimator (5.1) for ``L(w) = L(w*) + ½ (w − w*)ᵀ H (w − w*)``,
    eq. (5.4) of Chapter 5.

    Under ``p(w) ∝ exp(−nβ L(w) − γ/2 ‖w − w*‖²)`` each eigendirection of ``H`` (eigenvalue
    ``h ≥ 0``) is Gaussian with precision ``nβh + γ``, so
    ``E[nβ (L − L*)] = ½ Σ_i nβh_i / (nβh_i + γ)``, which tends to ``rank(H)/2`` as
    ``γ/(nβ) → 0``. ``h``: the eigenvalues of ``H`` (non-negative).
    """
    h = check_finite_array(h, "h (Hessian eigenvalues)", ndim=1)
    if np.any(h < 0):
        raise ValueError(f"h (Hessian eigenvalues) must be non-negative at a minimum, got "
                         f"{h.min():.3g}")
    nβ = check_float(nβ, "nβ", positive=True)
    γ = check_float(γ, "γ", positive=True)
    return float(0.5 * np.sum(nβ * h / (nβ * h + γ)))


@dataclass(frozen=True)
class HessianLLC:
    """What the Hessian at a local minimum says about ``λ`` (Proposition 5.2).

    ``lower = rank/2`` and ``upper = rank/2 + nullity/4`` always bound ``λ``; ``value`` is
    ``rank/2`` when the given flat directions span the null space (Morse–Bott), else ``None``
    and ``unexplained`` counts the null directions no flat direction accounts for.
    """

    eigenvalues: np.ndarray
    rank: int
    nullity: int
    flat: int
    unexplained: int
    lower: float
    upper: float
    value: float | None


def hessian_llc(H, flat_directions=None, *, rtol: float = 1e-7) -> HessianLLC:
    """The Hessian's account of ``λ`` at a local minimum (Proposition 5.2 of Chapter 5).

    ``H``: the symmetric Hessian (``P × P``) of the loss at a local minimum.
    ``flat_directions``: ``(P, m)`` directions known to be tangent to the set of minima (the
    generators of a symmetry, or directions along which the loss is constant in a whole
    neighbourhood, e.g. the parameters of a dead ReLU). An eigenvalue counts as zero below
    ``rtol · max|eigenvalue|``. Refuses a Hessian with a negative eigenvalue beyond that
    tolerance (a saddle has no local learning coefficient of this kind).
    """
    H = check_finite_array(H, "H (Hessian)", ndim=2)
    if H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ValueError(f"H (Hessian) must be square and non-empty, got shape {H.shape}")
    if np.abs(H - H.T).max() > 1e-8 * max(np.abs(H).max(), 1e-300):
        raise ValueError("H (Hessian) must be symmetric")
    rtol = check_float(rtol, "rtol", positive=True, maximum=0.1)
    P = H.shape[0]
    ev, vec = np.linalg.eigh((H + H.T) / 2)
    tol = rtol * max(np.abs(ev).max(), 1e-300)
    if ev.min() < -tol:
        raise ValueError(f"H (Hessian) has a negative eigenvalue {ev.min():.3g}: w is a saddle, "
                         f"not a local minimum, and Proposition 5.2 does not apply")
    null = vec[:, np.abs(ev) <= tol]
    rank = int(np.sum(ev > tol))
    nullity = P - rank
    flat = 0
    if flat_directions is not None:
        F = check_finite_array(flat_directions, "flat_directions", ndim=2)
        if F.shape[0] != P:
            raise ValueError(f"flat_directions must have shape ({P}, m), got {F.shape}")
        if F.shape[1]:
            s = np.linalg.svd(F, compute_uv=False)
            flat = int(np.sum(s > 1e-8 * s[0])) if s[0] > 0 else 0
            # the flat directions must lie in the null space of H
            Fn = F / np.maximum(np.linalg.norm(F, axis=0), 1e-300)
            leak = np.linalg.norm(H @ Fn, axis=0).max() / max(np.abs(ev).max(), 1e-300)
            if leak > 1e3 * rtol:
                raise ValueError(f"flat_directions are not null directions of H (relative "
                                 f"‖H v‖ = {leak:.3g}); they cannot be tangent to the minima")
    unexplained = nullity - min(flat, nullity) if null.size else 0
    value = rank / 2 if unexplained == 0 else None
    return HessianLLC(eigenvalues=ev, rank=rank, nullity=nullity, flat=flat,
                      unexplained=unexplained, lower=rank / 2, upper=rank / 2 + nullity / 4,
                      value=value)


def free_energy(L, λ, n):
    """The asymptotic free energy ``F_n ≈ n L + λ log n`` of a neighbourhood, eq. (5.5)
    (Watanabe 2009), for arrays ``L`` (loss), ``λ`` and sample sizes ``n ≥ 1`` (broadcast)."""
    L = check_finite_array(L, "L (loss)")
    λ = check_finite_array(λ, "λ (learning coefficient)")
    n = check_finite_array(n, "n (sample size)")
    if np.any(n < 1):
        raise ValueError("n (sample size) must be >= 1")
    if np.any(λ < 0):
        raise ValueError("λ (learning coefficient) must be non-negative")
    out = n * L + λ * np.log(n)
    return float(out) if out.ndim == 0 else out


def crossover_sample_size(L_simple: float, λ_simple: float, L_complex: float,
                          λ_complex: float) -> float:
    """The sample size ``n_c > 1`` at which ``F_n`` (5.5) of a simpler, worse configuration
    (higher loss, lower ``λ``) equals that of a more complex, better one, eq. (5.6):
    ``n (L_simple − L_complex) = (λ_complex − λ_simple) log n``, the largest root. Below
    ``n_c`` the posterior prefers the simpler configuration, above it the better one.
    """
    Ls = check_float(L_simple, "L_simple")
    ls = check_float(λ_simple, "λ_simple", minimum=0)
    Lc = check_float(L_complex, "L_complex")
    lc = check_float(λ_complex, "λ_complex", minimum=0)
    ΔL, Δλ = Ls - Lc, lc - ls
    if ΔL <= 0:
        raise ValueError(f"L_simple must exceed L_complex (got {Ls:g} ≤ {Lc:g}): otherwise the "
                         f"simpler configuration wins at every n")
    if Δλ <= 0:
        raise ValueError(f"λ_complex must exceed λ_simple (got {lc:g} ≤ {ls:g}): otherwise the "
                         f"better configuration wins at every n")
    # n ΔL = Δλ log n; with a = ΔL/Δλ and n = e^u this is f(u) = a e^u − u = 0. f is convex,
    # so Newton from a point right of the larger root decreases monotonically onto it.
    a = ΔL / Δλ
    if a >= 1 / math.e:  # n a > log n for every n ≥ 1: no crossing, the better one always wins
        return 1.0
    u = 2 * (math.log(1 / a) + 1)  # f(u) = e^{L+2}·... − 2(L+1) > 0 with L = log(1/a)
    for _ in range(100):
        f = a * math.exp(u) - u
        step = f / (a * math.exp(u) - 1)
        u -= step
        if abs(step) < 1e-14 * max(u, 1):
            break
    return float(math.exp(u))
