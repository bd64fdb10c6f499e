"""The Hessian of the linear autoencoder's loss and its inertia (notes Section 1, Prop. 3).

Parameters are flattened as θ = (vec A, vec B), both row-major, so θ has 2Dd entries.
The Hessian is exact (no finite differences): it is the derivative of the gradient (19),

    d(∂L/∂A)[δA, δB] = −2(−δM ΣBᵀ + (I − AB)Σ δBᵀ),
    d(∂L/∂B)[δA, δB] = −2(δAᵀ(I − AB)Σ − Aᵀ δM Σ),       δM = δA B + A δB,

applied to each of the 2Dd coordinate directions.
"""

from __future__ import annotations

import numpy as np

from toymodels._checks import as_rng, check_finite_array, check_float, check_int
from toymodels.limits import refuse_if_too_big
from toymodels.linear.autoencoder import _check_AB, _check_d, _gradient, check_sigma

__all__ = ["hessian", "find_critical_point", "hessian_quadratic_form", "inertia",
           "predicted_inertia", "pair_block"]


def _hvp(A, B, Σ, dA, dB):
    D = Σ.shape[0]
    R = np.eye(D) - A @ B
    dM = dA @ B + A @ dB
    hA = -2 * (-dM @ Σ @ B.T + R @ Σ @ dB.T)
    hB = -2 * (dA.T @ R @ Σ - A.T @ dM @ Σ)
    return hA, hB


def hessian(A, B, Σ) -> np.ndarray:
    """The (2Dd)×(2Dd) Hessian of L(A,B) = tr Σ − 2tr(ABΣ) + tr(ABΣ(AB)ᵀ), in float64.

    Exact: each column is the directional derivative of the gradient (notes (19)) along one
    coordinate of θ = (vec A, vec B).
    """
    Σ = check_sigma(Σ)
    A, B = _check_AB(A, B, Σ.shape[0])
    D, d = A.shape
    n = D * d
    refuse_if_too_big(f"hessian with D = {D}, d = {d} (a {2 * n}×{2 * n} matrix)",
                      memory=8.0 * 2 * (2 * n) ** 2, work=2.0 * n * 8 * D * D * d,
                      advice="choose smaller A, B and Σ")
    H = np.empty((2 * n, 2 * n))
    for c in range(2 * n):
        e = np.zeros(2 * n)
        e[c] = 1.0
        hA, hB = _hvp(A, B, Σ, e[:n].reshape(D, d), e[n:].reshape(d, D))
        H[:, c] = np.concatenate([hA.ravel(), hB.ravel()])
    return (H + H.T) / 2


def hessian_quadratic_form(A, B, Σ, dA, dB) -> float:
    """δθᵀ H δθ = 2[tr(δM Σ δMᵀ) − 2 tr(δAδB Σ(I − AB)ᵀ)], δM = δA B + A δB.

    This is twice the second-order term of L(A+δA, B+δB) (expand the trace form of L).
    """
    Σ = check_sigma(Σ)
    A, B = _check_AB(A, B, Σ.shape[0])
    dA, dB = _check_AB(dA, dB, Σ.shape[0], names=("dA", "dB"))
    dM = dA @ B + A @ dB
    R = np.eye(Σ.shape[0]) - A @ B
    return float(2 * (np.trace(dM @ Σ @ dM.T) - 2 * np.trace(dA @ dB @ Σ @ R.T)))


def inertia(H, *, rtol: float = 1e-9):
    """(#negative, #zero, #positive) eigenvalues of the symmetric matrix H.

    An eigenvalue counts as zero when |μ| ≤ rtol · max|μ|.
    """
    H = check_finite_array(H, "H", ndim=2)
    rtol = check_float(rtol, "rtol", minimum=0.0)
    if H.shape[0] != H.shape[1] or np.abs(H - H.T).max() > 1e-8 * max(np.abs(H).max(), 1e-300):
        raise ValueError(f"H must be a symmetric square matrix, got shape {H.shape}")
    μ = np.linalg.eigvalsh((H + H.T) / 2)
    tol = rtol * max(np.abs(μ).max(), np.finfo(float).tiny)
    return int(np.sum(μ < -tol)), int(np.sum(np.abs(μ) <= tol)), int(np.sum(μ > tol))


def predicted_inertia(λ, I, d: int | None = None):
    """Predicted inertia (#negative, #zero, #positive) at the critical point with index set I.

    λ are the eigenvalues in decreasing order, I the 0-based index set, d the hidden size
    (default ``len(I)``). For a full-rank point (|I| = d): #negative =
    #{(j, k): j ∈ I, k ∉ I, λ_k > λ_j} (one per pair, from the 2×2 block of
    :func:`pair_block`), #zero = d² (the orbit A → AC, B → C⁻¹B of GL(d)), the rest positive.
    For a rank-deficient point (|I| = r < d) each of the d − r unused hidden units adds one
    negative direction per k ∉ I, i.e. (d − r)(D − r) more, and #zero = r(2d − r).
    The total is always 2Dd.
    """
    from toymodels.linear.autoencoder import _index_set

    λ = check_finite_array(λ, "λ", ndim=1)
    I = _index_set(I, "I", λ.size)
    d = len(I) if d is None else check_int(d, "d", minimum=1)
    D, r = λ.size, len(I)
    if r > d or d >= D:
        raise ValueError(f"need |I| <= d < D, got |I| = {r}, d = {d}, D = {D}")
    neg = sum(1 for j in I for k in range(D) if k not in I and λ[k] > λ[j]) + (d - r) * (D - r)
    zero = r * (2 * d - r)
    return neg, zero, 2 * D * d - neg - zero


def pair_block(λ_j: float, λ_k: float) -> np.ndarray:
    """The 2×2 Hessian block of the pair (j ∈ I, k ∉ I) in the directions
    δA = α u_k e_jᵀ, δB = β e_j u_kᵀ (C = identity): 2[[λ_j, −λ_k], [−λ_k, λ_k]].

    Its determinant is 4λ_k(λ_j − λ_k): negative, so one negative eigenvalue, iff λ_k > λ_j.
    """
    λ_j, λ_k = check_float(λ_j, "λ_j"), check_float(λ_k, "λ_k")
    return 2 * np.array([[λ_j, -λ_k], [-λ_k, λ_k]], dtype=float)


def find_critical_point(Σ, d: int, seed=0, *, scale: float = 1.0):
    """Solve ∇L(A, B) = 0 blindly from a random start (entries N(0, scale²), drawn with seed).

    A Gauss-Newton/trust-region least-squares solve of the gradient (19) with the exact
    Hessian as its Jacobian. It knows nothing of Proposition 1, so the points it returns are
    an independent test of the proposition. Returns ``(A, B)``.
    """
    from scipy.optimize import least_squares

    Σ = check_sigma(Σ)
    D = Σ.shape[0]
    d = _check_d(d, D)
    scale = check_float(scale, "scale", positive=True)
    n = D * d
    refuse_if_too_big(f"find_critical_point with D = {D}, d = {d}", memory=8.0 * 4 * (2 * n) ** 2,
                      work=100.0 * (2 * n) ** 3, advice="choose a smaller Σ or d")
    rng = as_rng(seed, "seed")

    def unpack(θ):
        return θ[:n].reshape(D, d), θ[n:].reshape(d, D)

    def residual(θ):
        A, B = unpack(θ)
        gA, gB = _gradient(A, B, Σ - A @ B @ Σ)
        return np.concatenate([gA.ravel(), gB.ravel()])

    θ0 = scale * rng.standard_normal(2 * n)
    sol = least_squares(residual, θ0, jac=lambda θ: hessian(*unpack(θ), Σ),
                        xtol=1e-15, ftol=1e-15, gtol=1e-15)
    return unpack(sol.x)
