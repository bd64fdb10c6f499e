"""The linear autoencoder ``x ↦ ABx`` of Section 1 of the notes, in numpy float64.

Everything is written in terms of the second-moment matrix ``Σ = Σ_t x_t x_tᵀ`` (a sum
over data points, not a mean), using

    L(A, B) = Σ_t ‖x_t − AB x_t‖² = tr Σ − 2 tr(ABΣ) + tr(ABΣ(AB)ᵀ).

Shapes follow the notes: ``A`` is the decoder (D×d), ``B`` the encoder (d×D).
Index sets ``I`` are tuples of *0-based* indices into the eigenvalues sorted in
decreasing order; :func:`label` prints them 1-based, as in the notes.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np

from toymodels._checks import as_rng, check_finite_array, check_float, check_int, check_symmetric_pd
from toymodels.limits import refuse_if_too_big

__all__ = [
    "RepeatedEigenvalueWarning",
    "second_moment",
    "check_sigma",
    "eigh_desc",
    "loss",
    "loss_from_data",
    "gradient",
    "relative_gradient_norm",
    "projection",
    "CriticalPoint",
    "critical_points",
    "critical_levels",
    "random_invertible",
    "perturbation",
    "perturbation_drop",
    "principal_angles",
    "label",
]


class RepeatedEigenvalueWarning(UserWarning):
    """Σ has (numerically) repeated eigenvalues: critical points form continuous families."""


def label(I) -> str:
    """``(0, 2)`` → ``"{1,3}"``: an index set printed 1-based, as in the notes."""
    return "{" + ",".join(str(i + 1) for i in _index_set(I, "I")) + "}"


def _index_set(I, name: str, D: int | None = None) -> tuple:
    """``I`` as a tuple of distinct non-negative ints (below ``D`` when given)."""
    if isinstance(I, (str, bytes)) or not hasattr(I, "__iter__"):
        raise TypeError(f"{name} must be a sequence of integer indices, got {I!r}")
    I = tuple(check_int(i, f"{name} (an index in it)", minimum=0,
                        maximum=None if D is None else D - 1) for i in I)
    if len(set(I)) != len(I):
        raise ValueError(f"{name} must hold distinct indices, got {I}")
    return I


def second_moment(X) -> np.ndarray:
    """Σ = Σ_t x_t x_tᵀ = XᵀX for data ``X`` of shape (T, D) (notes, definition of Σ).

    A sum over data points, not a mean, exactly as in the notes.
    """
    X = check_finite_array(X, "X", ndim=2)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have at least one row and one column, got shape {X.shape}")
    return X.T @ X


def check_sigma(Σ, name: str = "Σ", *, allow_singular: bool = True,
                rtol: float = 1e-10) -> np.ndarray:
    """Return Σ as float64 after checking it is square, symmetric and positive (semi-)definite.

    ``allow_singular=False`` demands positive definiteness (the notes' assumption (a)).
    """
    if not allow_singular:
        return check_symmetric_pd(Σ, name, rtol=rtol)
    Σ = check_finite_array(Σ, name, ndim=2)
    if Σ.shape[0] != Σ.shape[1]:
        raise ValueError(f"{name} must be square, got shape {Σ.shape}")
    scale = max(np.abs(Σ).max(), np.finfo(float).tiny)
    if np.abs(Σ - Σ.T).max() > rtol * scale:
        asym = np.abs(Σ - Σ.T).max()
        raise ValueError(f"{name} must be symmetric; max |{name} - {name}ᵀ| = {asym:.3g}")
    Σ = (Σ + Σ.T) / 2
    λ_min = np.linalg.eigvalsh(Σ).min()
    if λ_min < -1e-8 * scale:
        raise ValueError(f"{name} must be positive semi-definite (a second-moment matrix), "
                         f"but its smallest eigenvalue is {λ_min:.3g}")
    return Σ


def eigh_desc(Σ, *, distinct: bool = True, allow_singular: bool = False, gap_rtol: float = 1e-8):
    """Σ = UΛUᵀ with λ_1 > ... > λ_D (notes (8)); returns ``(λ, U)``.

    Checks the notes' assumptions: (a) Σ invertible (unless ``allow_singular``) and
    (b) distinct eigenvalues. With ``distinct=True`` repeated eigenvalues (relative gap
    below ``gap_rtol``) raise ``ValueError``; with ``distinct=False`` they only warn
    (:class:`RepeatedEigenvalueWarning`), since U is then not unique. Each eigenvector's
    sign is fixed (largest entry positive) so results are reproducible.
    """
    Σ = check_sigma(Σ, allow_singular=allow_singular)
    λ, U = np.linalg.eigh(Σ)
    λ, U = λ[::-1].copy(), U[:, ::-1].copy()
    gaps = -np.diff(λ)
    if gaps.size and gaps.min() <= gap_rtol * max(abs(λ[0]), np.finfo(float).tiny):
        i = int(np.argmin(gaps))
        msg = (f"Σ has repeated eigenvalues (λ_{i + 1} = {λ[i]:.6g}, λ_{i + 2} = {λ[i + 1]:.6g}); "
               "the notes assume distinct eigenvalues: critical points then form continuous "
               "families and the eigenvectors are not unique")
        if distinct:
            raise ValueError(msg + " (pass distinct=False to eigh_desc, or allow_repeated=True to "
                             "critical_points, to proceed with a warning)")
        warnings.warn(msg, RepeatedEigenvalueWarning, stacklevel=2)
    idx = np.argmax(np.abs(U), axis=0)
    U *= np.sign(U[idx, np.arange(U.shape[1])])
    return λ, U


def _check_AB(A, B, D: int | None = None, names=("A", "B")):
    nA, nB = names
    A = check_finite_array(A, nA, ndim=2)
    B = check_finite_array(B, nB, ndim=2)
    if A.shape != B.T.shape:
        raise ValueError(f"{nA} must be D×d and {nB} d×D; got {nA} of shape {A.shape} "
                         f"and {nB} of shape {B.shape}")
    if D is not None and A.shape[0] != D:
        raise ValueError(f"{nA} and {nB} must act on R^{D} (the size of Σ), got {nA} of shape "
                         f"{A.shape}")
    return A, B


def loss(A, B, Σ) -> float:
    """L(A,B) = tr Σ − 2 tr(ABΣ) + tr(ABΣ(AB)ᵀ) = Σ_t ‖x_t − ABx_t‖² (notes (12))."""
    Σ = check_sigma(Σ)
    A, B = _check_AB(A, B, Σ.shape[0])
    M = A @ B
    return float(np.trace(Σ) - 2 * np.trace(M @ Σ) + np.trace(M @ Σ @ M.T))


def loss_from_data(A, B, X) -> float:
    """L = Σ_t ‖x_t − ABx_t‖² computed directly from the data ``X`` (T×D)."""
    X = check_finite_array(X, "X", ndim=2)
    A, B = _check_AB(A, B, X.shape[1])
    R = X - X @ (A @ B).T
    return float(np.sum(R * R))


def gradient(A, B, Σ):
    """∇L = (∂L/∂A, ∂L/∂B) = (−2(ΣBᵀ − ABΣBᵀ), −2(AᵀΣ − AᵀABΣ)) (notes (1), (2), (19)).

    Note the order: the notes' (19) lists ∂L/∂B first; this function returns ∂L/∂A first.
    """
    Σ = check_sigma(Σ)
    A, B = _check_AB(A, B, Σ.shape[0])
    return _gradient(A, B, Σ - A @ B @ Σ)


def _gradient(A, B, R):
    """(19) from the residual ``R = (I − AB)Σ``, unchecked: ``(−2RBᵀ, −2AᵀR)`` (for loops)."""
    return -2 * R @ B.T, -2 * A.T @ R


def relative_gradient_norm(A, B, Σ) -> float:
    """‖∇L‖_F divided by the size of its two terms, ‖Σ‖(‖A‖+‖B‖)(1+‖A‖‖B‖).

    Zero at a critical point; about 1e-16 in floating point when the point is exact.
    """
    Σ = check_sigma(Σ)
    A, B = _check_AB(A, B, Σ.shape[0])
    gA, gB = gradient(A, B, Σ)
    nA, nB, nΣ = np.linalg.norm(A), np.linalg.norm(B), np.linalg.norm(Σ)
    scale = nΣ * (nA + nB) * (1 + nA * nB)
    return float(np.sqrt(np.sum(gA**2) + np.sum(gB**2)) / max(scale, np.finfo(float).tiny))


def projection(A) -> np.ndarray:
    """P_A = A(AᵀA)⁻¹Aᵀ, the orthogonal projection onto col(A) (notes (5)); any rank."""
    A = check_finite_array(A, "A", ndim=2)
    Q, s, _ = np.linalg.svd(A, full_matrices=False)
    r = int(np.sum(s > max(A.shape) * np.finfo(float).eps * (s[0] if s.size else 0)))
    Q = Q[:, :r]
    return Q @ Q.T


@dataclass(frozen=True)
class CriticalPoint:
    """One critical point (A, B) = (U_I C, C⁻¹U_Iᵀ) (notes (⋆)); rank-deficient if ``rank < d``."""

    I: tuple
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    level: float  # Σ_{i∉I} λ_i, the loss Proposition 1 predicts

    @property
    def rank(self) -> int:
        return len(self.I)

    @property
    def label(self) -> str:
        return label(self.I)


def random_invertible(d: int, rng=None, *, cond_max: float = 10.0) -> np.ndarray:
    """A random d×d matrix with condition number at most ``cond_max`` (a test C for (⋆))."""
    d = check_int(d, "d", minimum=1)
    cond_max = check_float(cond_max, "cond_max", minimum=1.0)
    refuse_if_too_big(f"random_invertible with d = {d}", work=10.0 * d**3, memory=48.0 * d * d,
                      advice="choose a smaller d")
    rng = as_rng(rng, "rng")
    Q1, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Q2, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.exp(rng.uniform(0, np.log(cond_max), d))
    return Q1 @ np.diag(s) @ Q2


def _check_d(d, D):
    d = check_int(d, "d", minimum=1)
    if d >= D:
        raise ValueError(f"d must be smaller than D = {D} (the notes assume d < D), got d = {d}")
    return d


def critical_points(Σ, d, *, C=None, rank: int | None = None, allow_repeated: bool = False):
    """Every critical point of L, one per index set I (notes Proposition 1 and (⋆)).

    For ``rank=None`` (= d) this lists all ``binom(D, d)`` points A = U_I C, B = C⁻¹U_Iᵀ with
    U_I the D×d matrix of eigenvectors u_i, i ∈ I. For ``rank=r < d`` it lists the
    rank-deficient critical points that Proposition 1 omits: A = [U_J, 0] C,
    B = C⁻¹[U_Jᵀ; 0] with |J| = r, so that AB is the projection onto span{u_j : j ∈ J}.
    ``C`` is the free invertible d×d matrix (default the identity).

    Σ must be symmetric positive definite with distinct eigenvalues (the notes'
    assumptions); with ``allow_repeated=True`` repeated eigenvalues only warn, and the
    list is then one representative of each continuous family, not every critical point.
    """
    λ, U = eigh_desc(Σ, distinct=not allow_repeated)
    D = λ.size
    d = _check_d(d, D)
    r = d if rank is None else check_int(rank, "rank", minimum=0, maximum=d)
    count = math.comb(D, r)
    refuse_if_too_big(f"critical_points with D = {D}, d = {d}, rank = {r} (binom(D, rank) = "
                      f"{count:,} points)", items=count, memory=count * (16.0 * D * d + 600),
                      work=count * 2.0 * D * d * d, advice="choose a smaller d or D")
    if C is None:
        C = np.eye(d)
    C = check_finite_array(C, "C", ndim=2)
    if C.shape != (d, d):
        raise ValueError(f"C must be d×d = {d}×{d}, got shape {C.shape}")
    if np.linalg.cond(C) > 1e12:
        raise ValueError(f"C must be invertible, got condition number {np.linalg.cond(C):.3g}")
    C_inv = np.linalg.inv(C)
    points = []
    for I in itertools.combinations(range(D), r):
        U_I = np.zeros((D, d))
        U_I[:, :r] = U[:, list(I)]
        level = float(λ.sum() - λ[list(I)].sum())
        points.append(CriticalPoint(I=I, A=U_I @ C, B=C_inv @ U_I.T, C=C, level=level))
    return points


def critical_levels(λ, d: int, *, with_rank_deficient: bool = True):
    """The distinct critical values Σ_{i∉J} λ_i, |J| = d (and |J| < d), sorted decreasing,
    with their index sets: a list of ``(level, J)``."""
    λ = np.sort(check_finite_array(λ, "λ", ndim=1))[::-1]
    d = _check_d(d, λ.size)
    sizes = range(d + 1) if with_rank_deficient else [d]
    count = sum(math.comb(λ.size, r) for r in sizes)
    refuse_if_too_big(f"critical_levels with {λ.size} eigenvalues λ and d = {d} ({count:,} index "
                      "sets)", items=count, memory=count * (200.0 + 8 * d), work=count * d,
                      advice="pass fewer eigenvalues λ or a smaller d")
    out = [(float(λ.sum() - λ[list(J)].sum()), J)
           for r in sizes for J in itertools.combinations(range(λ.size), r)]
    return sorted(out, key=lambda t: (-t[0], t[1]))


def perturbation(Σ, I, j: int, k: int, ε: float, *, C=None):
    """The perturbed point (Ã, B̃) = (Ũ_I C, C⁻¹Ũ_Iᵀ) of notes (13)-(14).

    Ũ_I is U_I with u_j replaced by ũ_j = (u_j + ε u_k)/√(1+ε²); needs j ∈ I, k ∉ I
    (0-based indices into the decreasing eigenvalues).
    """
    λ, U = eigh_desc(Σ)
    D = λ.size
    I = _index_set(I, "I", D)
    d = _check_d(len(I), D)
    j = check_int(j, "j", minimum=0, maximum=D - 1)
    k = check_int(k, "k", minimum=0, maximum=D - 1)
    if j not in I:
        raise ValueError(f"j must belong to I = {I}, got j = {j}")
    if k in I:
        raise ValueError(f"k must be an index in 0..{D - 1} outside I = {I}, got k = {k}")
    ε = check_float(ε, "ε")
    C = np.eye(d) if C is None else check_finite_array(C, "C", ndim=2)
    U_t = U[:, list(I)].copy()
    U_t[:, I.index(j)] = (U[:, j] + ε * U[:, k]) / np.sqrt(1 + ε**2)
    return U_t @ C, np.linalg.inv(C) @ U_t.T


def perturbation_drop(λ, j: int, k: int, ε: float) -> float:
    """L(A,B) − L(Ã,B̃) = ε²/(1+ε²) (λ_k − λ_j) (notes (18)); positive when λ_k > λ_j."""
    λ = np.sort(check_finite_array(λ, "λ", ndim=1))[::-1]
    j = check_int(j, "j", minimum=0, maximum=λ.size - 1)
    k = check_int(k, "k", minimum=0, maximum=λ.size - 1)
    ε = check_float(ε, "ε")
    return float(ε**2 / (1 + ε**2) * (λ[k] - λ[j]))


def principal_angles(X, Y) -> np.ndarray:
    """Principal angles (radians, increasing) between col(X) and col(Y).

    The cosines are the singular values of Q_XᵀQ_Y for orthonormal bases Q_X, Q_Y; the
    sines are computed from the complementary projection for accuracy at small angles.
    """
    X = check_finite_array(X, "X", ndim=2)
    Y = check_finite_array(Y, "Y", ndim=2)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows, got {X.shape} and {Y.shape}")
    Qx, Qy = np.linalg.qr(X)[0], np.linalg.qr(Y)[0]
    if Qx.shape[1] < Qy.shape[1]:
        Qx, Qy = Qy, Qx
    cos = np.linalg.svd(Qx.T @ Qy, compute_uv=False)
    sin = np.linalg.svd(Qy - Qx @ (Qx.T @ Qy), compute_uv=False)[::-1]
    θ = np.where(cos**2 < 0.5, np.arccos(np.clip(cos, -1, 1)), np.arcsin(np.clip(sin, 0, 1)))
    return np.sort(θ)
