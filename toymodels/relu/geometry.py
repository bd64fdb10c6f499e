"""Geometry of learned embeddings: superposition measures, tight frames, polygons.

``W`` has shape ``(..., d, D)``: its columns ``w_i ∈ ℝ^d`` embed the features (the notes'
convention, Section 3.1); leading axes are instances. The measures are those of the Toy
Models paper {cite}`elhage2022superposition`:

* dimensions per feature ``d / ‖W‖_F²`` (``‖W‖_F² = Σ_i ‖w_i‖²`` counts represented features);
* per-feature dimensionality ``D_i = ‖w_i‖² / Σ_j (ŵ_i · w_j)²`` (``ŵ = w/‖w‖``);
* interference (how much feature ``i`` shares its direction) ``Σ_{j≠i} (ŵ_i · w_j)²``;

plus frame theory: ``W`` is a *tight frame* of ``ℝ^d`` when ``WWᵀ = (‖W‖_F²/d) I``, and the
frame potential ``Σ_{i,j} ⟨w_i, w_j⟩²`` — the interference term of the energy (28′) —
is minimised over ``N ≥ d`` unit vectors exactly by the equal-norm tight frames (minimum
``N²/d``; for ``N < d`` the minimisers are the orthonormal sets, with potential ``N``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import linear_sum_assignment

from toymodels._checks import check_finite_array, check_float, check_int
from toymodels.limits import refuse_if_too_big

__all__ = [
    "feature_norms",
    "gram",
    "dimensions_per_feature",
    "feature_dimensionality",
    "interference",
    "frame_potential",
    "tight_frame_defect",
    "is_equal_norm_tight_frame",
    "Polygon",
    "polygon",
    "FeatureGroup",
    "feature_groups",
    "nearest_fraction",
    "pairwise_angles",
    "aligned_distance",
    "TWO_IN_ONE_PHASES",
    "two_in_one_phase",
]


def _W(W, name="W"):
    W = check_finite_array(W, name)
    if W.ndim < 2:
        raise ValueError(f"{name} must have shape (..., d, D) with feature columns, got {W.shape}")
    return W


def feature_norms(W) -> np.ndarray:
    """``‖w_i‖`` for every column, shape ``(..., D)``."""
    return np.linalg.norm(_W(W), axis=-2)


def dimensions_per_feature(W) -> np.ndarray:
    """``d / ‖W‖_F²`` (shape ``(...)``): hidden dimensions per (norm-weighted) feature."""
    W = _W(W)
    F2 = (W**2).sum((-2, -1))
    with np.errstate(divide="ignore"):
        return np.where(F2 > 0, W.shape[-2] / np.where(F2 > 0, F2, 1), np.inf)[()]


def _overlaps(W, eps):
    """``M[i, j] = ŵ_i · w_j`` (rows of dropped features, ``‖w_i‖ ≤ eps``, are zero)."""
    n = np.linalg.norm(W, axis=-2)
    Ŵ = W / np.where(n > eps, n, np.inf)[..., None, :]
    return np.swapaxes(Ŵ, -1, -2) @ W, n


def feature_dimensionality(W, eps: float = 1e-8) -> np.ndarray:
    """``D_i = ‖w_i‖² / Σ_j (ŵ_i · w_j)²`` (shape ``(..., D)``; ``0`` for a dropped feature).

    ``D_i = 1`` when ``w_i`` is orthogonal to every other feature, ``1/2`` for an antipodal
    pair, ``r/k`` for ``k`` equal-norm vectors forming a tight frame of an ``r``-dimensional
    subspace orthogonal to the rest (the chapter proves it).
    """
    W = _W(W)
    eps = check_float(eps, "eps", minimum=0.0)
    M, n = _overlaps(W, eps)
    den = (M**2).sum(-1)
    return np.where(n > eps, n**2 / np.where(den > 0, den, 1), 0.0)


def interference(W, eps: float = 1e-8) -> np.ndarray:
    """``Σ_{j≠i} (ŵ_i · w_j)²`` (shape ``(..., D)``): how much of feature ``i``'s direction other
    features share (the colour of the Toy Models paper's norm bars)."""
    W = _W(W)
    eps = check_float(eps, "eps", minimum=0.0)
    M, n = _overlaps(W, eps)
    M2 = M**2
    return M2.sum(-1) - np.diagonal(M2, axis1=-2, axis2=-1)


def gram(W) -> np.ndarray:
    """``M = WᵀW`` (D×D): diagonal ``‖w_i‖²``, off-diagonal the interference ``⟨w_i, w_j⟩``.

    ``W`` may carry leading axes (e.g. a trajectory of shape ``(n_t, d, D)``).
    """
    W = _W(W)
    return np.swapaxes(W, -1, -2) @ W


def frame_potential(W) -> np.ndarray:
    """``FP(W) = Σ_{i,j} ⟨w_i, w_j⟩² = ‖WᵀW‖_F²``. For ``D`` unit vectors in ``ℝ^d``,
    ``FP ≥ D²/d`` with equality iff they form a tight frame (Benedetto–Fickus)."""
    return (gram(_W(W)) ** 2).sum((-2, -1))


def tight_frame_defect(W) -> np.ndarray:
    """``‖WWᵀ − c I‖_F / c`` with ``c = ‖W‖_F²/d``: zero exactly for a tight frame of ``ℝ^d``."""
    W = _W(W)
    d = W.shape[-2]
    S = W @ np.swapaxes(W, -1, -2)
    c = np.trace(S, axis1=-2, axis2=-1) / d
    safe = np.where(c > 0, c, 1.0)
    E = S - c[..., None, None] * np.eye(d)
    return np.where(c > 0, np.linalg.norm(E, axis=(-2, -1)) / safe, np.inf)[()]


def is_equal_norm_tight_frame(W, tol: float = 1e-6) -> np.ndarray:
    """Whether the columns have equal norms and form a tight frame (both within ``tol``)."""
    W = _W(W)
    tol = check_float(tol, "tol", minimum=0.0)
    n = feature_norms(W)
    spread = (n.max(-1) - n.min(-1)) / np.maximum(n.max(-1), 1e-300)
    return (spread <= tol) & (tight_frame_defect(W) <= tol)


@dataclass(frozen=True)
class Polygon:
    """The represented features of a 2-d embedding in angular order, with the angular gaps
    between neighbours; ``regular`` when every gap is within ``tol_deg`` of ``360°/k``."""

    k: int
    order: tuple[int, ...]
    gaps_deg: tuple[float, ...]
    max_error_deg: float
    regular: bool


def polygon(W, norm_threshold: float = 0.5, tol_deg: float = 10.0) -> Polygon:
    """Detect the polygon formed by the features of a ``(2, D)`` embedding with
    ``‖w_i‖ > norm_threshold`` (the feature-geometry polygons of the Toy Models paper)."""
    W = check_finite_array(W, "W", ndim=2)
    norm_threshold = check_float(norm_threshold, "norm_threshold", minimum=0.0)
    tol_deg = check_float(tol_deg, "tol_deg", minimum=0.0)
    if W.shape[0] != 2:
        raise ValueError(f"polygon needs a 2-dimensional embedding W of shape (2, D), "
                         f"got {W.shape}")
    n = feature_norms(W)
    idx = np.flatnonzero(n > norm_threshold)
    k = len(idx)
    if k < 2:
        return Polygon(k, tuple(int(i) for i in idx), (), float("nan"), False)
    θ = np.degrees(np.arctan2(W[1, idx], W[0, idx])) % 360
    order = idx[np.argsort(θ)]
    θs = np.sort(θ)
    gaps = np.diff(np.concatenate([θs, [θs[0] + 360]]))
    err = float(np.abs(gaps - 360 / k).max())
    return Polygon(k, tuple(int(i) for i in order), tuple(float(g) for g in gaps), err,
                   bool(err <= tol_deg))


@dataclass(frozen=True)
class FeatureGroup:
    """Represented features that interfere (``|ŵ_i · ŵ_j| > overlap`` links them): ``size`` of
    them spanning ``rank`` dimensions, so ``rank/size`` dimensions per feature."""

    features: tuple[int, ...]
    size: int
    rank: int

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.rank, self.size)


def feature_groups(W, norm_threshold: float = 0.5, overlap: float = 0.1,
                   rank_tol: float = 0.1) -> list[FeatureGroup]:
    """Split the represented features of one ``(d, D)`` embedding into groups: the connected
    components of the graph linking ``i, j`` when ``|ŵ_i · ŵ_j| > overlap``. A group of ``k``
    features spanning ``r`` dimensions (singular values above ``rank_tol`` times the largest)
    is a digon (2 in 1), triangle (3 in 2), tetrahedron (4 in 3), pentagon (5 in 2), ...
    Groups are sorted by size, then by first feature."""
    W = check_finite_array(W, "W", ndim=2)
    norm_threshold = check_float(norm_threshold, "norm_threshold", minimum=0.0)
    overlap = check_float(overlap, "overlap", minimum=0.0, maximum=1.0)
    rank_tol = check_float(rank_tol, "rank_tol", minimum=0.0, maximum=1.0)
    n = feature_norms(W)
    idx = np.flatnonzero(n > norm_threshold)
    Ŵ = W[:, idx] / n[idx]
    A = np.abs(Ŵ.T @ Ŵ) > overlap
    seen, groups = set(), []
    for s in range(len(idx)):
        if s in seen:
            continue
        stack, comp = [s], []
        seen.add(s)
        while stack:
            a = stack.pop()
            comp.append(a)
            for c in np.flatnonzero(A[a]):
                if c not in seen:
                    seen.add(int(c))
                    stack.append(int(c))
        comp = sorted(comp)
        sv = np.linalg.svd(W[:, idx[comp]], compute_uv=False)
        r = int(np.sum(sv > rank_tol * sv[0]))
        groups.append(FeatureGroup(tuple(int(idx[c]) for c in comp), len(comp), r))
    return sorted(groups, key=lambda g: (g.size, g.features))


def nearest_fraction(x, max_denominator: int = 8) -> list[Fraction]:
    """The fraction with denominator ``≤ max_denominator`` nearest to each entry of ``x``."""
    x = check_finite_array(x, "x")
    max_denominator = check_int(max_denominator, "max_denominator", minimum=1)
    return [Fraction(float(v)).limit_denominator(max_denominator) for v in np.ravel(x)]


def pairwise_angles(X) -> np.ndarray:
    """Sorted angles in degrees between all pairs of rows of ``X`` (rows need not be unit)."""
    X = check_finite_array(X, "X", ndim=2)
    n = np.linalg.norm(X, axis=1)
    if np.any(n == 0):
        raise ValueError("X has a zero row; angles are undefined")
    C = np.clip((X / n[:, None]) @ (X / n[:, None]).T, -1, 1)
    iu = np.triu_indices(len(X), 1)
    return np.sort(np.degrees(np.arccos(C[iu])))


def aligned_distance(X, Y, *, restarts: int = 20, seed: int = 0, return_alignment: bool = False):
    """``min_{Q, π} (1/N Σ_i ‖Q x_i − y_{π(i)}‖²)^{1/2}`` over orthogonal ``Q`` and permutations
    ``π``: how far two configurations of ``N`` points (rows) are, up to rotation, reflection and
    relabelling. Alternates optimal assignment and orthogonal Procrustes from ``restarts``
    random orthogonal starts (plus the identity); an upper bound that is tight in practice.
    With ``return_alignment`` also returns ``(Q, perm)`` with ``X @ Q ≈ Y[perm]``."""
    X = check_finite_array(X, "X", ndim=2)
    Y = check_finite_array(Y, "Y", ndim=2)
    if X.shape != Y.shape:
        raise ValueError(f"X and Y must have the same shape (N, m), got {X.shape} and {Y.shape}")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    m = X.shape[1]
    restarts = check_int(restarts, "restarts", minimum=0)
    N = X.shape[0]
    refuse_if_too_big(f"aligned_distance with restarts = {restarts}, {N} points in R^{m}",
                      work=(restarts + 1) * 50.0 * (N**3 + N * N * m + m**3),
                      advice="use fewer restarts")
    best, best_align = np.inf, (np.eye(m), np.arange(len(X)))
    for r in range(restarts + 1):
        Q = np.eye(m) if r == 0 else np.linalg.qr(rng.standard_normal((m, m)))[0]
        prev = np.inf
        for _ in range(50):
            XQ = X @ Q
            cost = ((XQ[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
            rows, cols = linear_sum_assignment(cost)
            U, _, Vt = np.linalg.svd(X[rows].T @ Y[cols])
            Q = U @ Vt
            val = float(((X[rows] @ Q - Y[cols]) ** 2).sum())
            if prev - val < 1e-12:
                break
            prev = val
        if val < best:
            perm = np.empty(len(X), dtype=int)
            perm[rows] = cols
            best, best_align = val, (Q, perm)
    dist = float(np.sqrt(max(best, 0.0) / len(X)))
    return (dist, *best_align) if return_alignment else dist


#: Names of the codes returned by :func:`two_in_one_phase`, in order.
TWO_IN_ONE_PHASES = ("feature 1 only", "feature 2 only", "antipodal", "other")


def two_in_one_phase(w) -> np.ndarray:
    """Classify trained 2-features-into-1 models by the geometry of their weights.

    ``w`` has shape ``(..., 2)``: the single row ``(w_1, w_2)`` of each model's ``W``. Returns
    integer codes indexing :data:`TWO_IN_ONE_PHASES`: 0 when only feature 1 is embedded
    (``|w_1| > 0.5``, ``|w_2| < 0.3``), 1 for feature 2 alone, 2 for antipodal superposition
    (both ``> 0.5`` with opposite signs), 3 for anything else. These are the candidate solutions
    of the Toy Models phase diagram (Chapter 3).
    """
    w = check_finite_array(w, "w")
    if w.ndim < 1 or w.shape[-1] != 2:
        raise ValueError(f"w must have shape (..., 2), one row (w_1, w_2) per model, got {w.shape}")
    a = np.abs(w)
    f1 = (a[..., 0] > 0.5) & (a[..., 1] < 0.3)
    f2 = (a[..., 1] > 0.5) & (a[..., 0] < 0.3)
    antipodal = (a[..., 0] > 0.5) & (a[..., 1] > 0.5) & (w[..., 0] * w[..., 1] < 0)
    return np.select([f1, f2, antipodal], [0, 1, 2], default=3)
