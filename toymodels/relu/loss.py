"""The integral loss of the ReLU output model (Section 3.1 of the notes).

The model is ``x ↦ x̂ = ReLU(WᵀW x + b)`` with ``W`` of shape ``(d, D)`` (column ``w_i``
embeds feature ``i``) and an output bias ``b``; the notes write ``ReLU(WᵀWx − b)``, this
package uses the ``+b`` of the Toy Models paper. The loss is the importance-weighted
integral against the law ``μ`` of the sparse uniform data (Section 2.1)::

    L(W, b) = ∫ Σ_k ω_k (x_k − x̂_k)² dμ(x)                      (Section 3.1)

It is a *sum* over features (the Toy Models paper averages over features, so its
learning rates are ``D`` times the ones that give the same dynamics here).

The cube ``Q = [0, 1]^D`` splits into the skeleta ``Q_l`` (points with exactly ``l``
non-zero coordinates), so ``L = Σ_l P(l active) · L_l`` with ``L_l`` the loss
conditional on exactly ``l`` active features. This module computes

* :func:`monte_carlo_loss`: a plain Monte Carlo estimate with its standard error;
* :func:`active_count_pmf`: ``P(l active)``, binomial or Poisson-binomial;
* :func:`loss_L0`, :func:`loss_L1`, :func:`loss_L2`: the first three ``L_l`` exactly
  (``L_0``, ``L_1`` in closed form; ``L_2`` by Gauss–Legendre quadrature on the pieces
  where the integrand is a polynomial, which is exact);
* :func:`skeleton_decomposition`: the whole sum, exact for ``l ≤ 2`` and Monte Carlo
  (with standard error) for the tail ``l ≥ 3``;
* :func:`restricted_loss` (the loss on ``Q_0 ∪ … ∪ Q_lmax``), the error of the
  1-sparse approximation, and :func:`minimize_restricted_loss`.

The closed forms are written once, in torch float64 (so they can be differentiated);
the public functions accept numpy or torch arrays and return numpy float64.
Every closed-form function accepts leading instance axes: ``W`` of shape ``(..., d, D)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from toymodels._checks import as_rng, check_finite_array, check_float, check_int, check_probability
from toymodels.limits import refuse_if_too_big
from toymodels.tied.moments import skeleton_probabilities
from toymodels.train.divergence import check_loop_step, lr_advice

__all__ = [
    "model_output",
    "pointwise_loss",
    "MonteCarloEstimate",
    "monte_carlo_loss",
    "active_count_pmf",
    "higher_skeleta_mass",
    "subset_probabilities",
    "relu_sq_integral",
    "recon_sq_integral",
    "one_sparse_terms",
    "loss_L0",
    "loss_L1",
    "loss_L2",
    "sample_given_active_count",
    "SkeletonDecomposition",
    "skeleton_decomposition",
    "restricted_loss",
    "one_sparse_error",
    "minimize_restricted_loss",
    "two_in_one_candidates",
]

_DT = torch.float64
# Gauss–Legendre nodes/weights on [0, 1]; 3 nodes integrate polynomials of degree ≤ 5 exactly.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(3)
_GL_X = (_GL_X + 1) / 2
_GL_W = _GL_W / 2


# ---------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------
def _as_t(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(_DT)
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def _check_params(W, b, ω, S=None):
    """Check ``W (..., d, D)``, ``b (..., D)``, ``ω (D,) or (..., D)``, ``S`` in [0, 1].

    Returns torch float64 tensors broadcast to common leading axes (S as ``(..., D)``).
    ``W`` keeps its autograd graph when it is a torch tensor.
    """
    for name, val in (("W", W), ("b", b)):
        if not isinstance(val, torch.Tensor) or val.is_complex() or val.dtype == torch.bool:
            check_finite_array(val, name)  # refuses complex, bool and strings by name
        elif not torch.isfinite(val).all():
            raise ValueError(f"{name} contains NaN or inf; only finite values are allowed")
    Wt, bt = _as_t(W), _as_t(b)
    if Wt.ndim < 2:
        raise ValueError(f"W must have shape (..., d, D) with columns w_i, "
                         f"got shape {tuple(Wt.shape)}")
    D = Wt.shape[-1]
    if bt.ndim == 0 or bt.shape[-1] != D:
        raise ValueError(f"b must have shape (..., D) with D = {D} (the columns of W), got shape "
                         f"{tuple(bt.shape)}")
    ωa = check_finite_array(ω, "ω (importance)")
    if ωa.ndim == 0:
        ωa = np.full(D, float(ωa))
    if ωa.shape[-1] not in (1, D):
        raise ValueError(f"ω (importance) must be a scalar or have shape (..., D) or (..., 1) with "
                         f"D = {D}, got shape {ωa.shape}")
    if np.any(ωa < 0):
        raise ValueError("ω (importance) must be non-negative")
    lead = Wt.shape[:-2]
    try:
        shape = torch.broadcast_shapes(lead, bt.shape[:-1], ωa.shape[:-1],
                                       () if S is None else np.shape(S)[:-1])
    except RuntimeError as err:
        raise ValueError(f"the leading (instance) axes of W {tuple(lead)}, "
                         f"b {tuple(bt.shape[:-1])}"
                         f", ω {ωa.shape[:-1]} and S do not broadcast") from err
    out = [Wt.expand(*shape, *Wt.shape[-2:]), bt.expand(*shape, D),
           torch.as_tensor(np.broadcast_to(ωa, (*shape, D)).copy())]
    if S is not None:
        Sa = check_probability(S, "S (sparsity)")
        if Sa.ndim == 0:
            Sa = np.full(D, float(Sa))
        if Sa.shape[-1] not in (1, D):
            raise ValueError(f"S (sparsity) must be a scalar or have shape (..., D) or (..., 1) "
                             f"with D = {D}, got shape {Sa.shape}")
        try:
            Sa = np.broadcast_to(Sa, (*shape, D)).copy()
        except ValueError as err:
            raise ValueError(f"S (sparsity) of shape {Sa.shape} does not broadcast to the instance "
                             f"axes {tuple(shape)}") from err
        out.append(torch.as_tensor(Sa))
    return out


def _out(t: torch.Tensor):
    a = t.detach().cpu().numpy()
    return float(a) if a.ndim == 0 else a


# ---------------------------------------------------------------------------------------
# the model and plain Monte Carlo
# ---------------------------------------------------------------------------------------
def model_output(W, b, x):
    """``x̂ = ReLU(WᵀW x + b)`` for a batch ``x`` of shape ``(T, D)`` (numpy float64).

    The model of Section 3.1 of the notes (with the Toy Models sign of the bias).
    """
    W = check_finite_array(W, "W", ndim=2)
    b = check_finite_array(b, "b", ndim=1)
    x = check_finite_array(x, "x", ndim=2)
    if b.shape[0] != W.shape[1] or x.shape[1] != W.shape[1]:
        raise ValueError(f"W {W.shape}, b {b.shape} and x {x.shape} disagree on the number "
                         "of features")
    return np.maximum(x @ (W.T @ W) + b, 0.0)  # WᵀW is symmetric: (WᵀWx)ᵀ = xᵀWᵀW


def pointwise_loss(W, b, ω, x):
    """``Σ_k ω_k (x_k − x̂_k)²`` for each row of ``x`` (the integrand of Section 3.1)."""
    x = check_finite_array(x, "x", ndim=2)
    x̂ = model_output(W, b, x)
    ω = check_finite_array(ω, "ω (importance)")
    if ω.ndim > 1 or ω.size not in (1, x.shape[1]):
        raise ValueError(f"ω (importance) must be a scalar or have shape (D,) with D = {x.shape[1]}, "
                         f"got shape {ω.shape}")
    if np.any(ω < 0):
        raise ValueError("ω (importance) must be non-negative")
    return ((x - x̂) ** 2) @ np.broadcast_to(ω, (x.shape[1],))


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo estimate ``mean ± se`` from ``T`` samples."""

    mean: float
    se: float
    T: int

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.se:.2g}"


def monte_carlo_loss(W, b, ω, S, T: int = 200_000, *, rng=None) -> MonteCarloEstimate:
    """Monte Carlo estimate of the integral loss (Section 3.1) with its standard error.

    Draws ``T`` points from ``μ`` (:func:`toymodels.tied.data.sparse_uniform`), in chunks so the
    memory stays below ~50 MB whatever ``T``; ``se = std / √T``.
    """
    from toymodels.tied.data import sparse_uniform

    W, b, ω, S = (t.numpy() for t in _check_params(W, b, ω, S))
    if W.ndim != 2:
        raise ValueError("monte_carlo_loss takes one instance: W of shape (d, D)")
    T = check_int(T, "T", minimum=2)
    D, d = W.shape[1], W.shape[0]
    refuse_if_too_big(f"monte_carlo_loss with T = {T} samples, D = {D}",
                      work=float(T) * D * (d + 10), advice="draw fewer samples T")
    rng = as_rng(rng, "rng")
    chunk = max(1, 2**21 // D)
    s1 = s2 = 0.0
    done = 0
    while done < T:
        n = min(chunk, T - done)
        vals_l = pointwise_loss(W, b, ω, sparse_uniform(n, D, S, rng=rng))
        s1 += vals_l.sum()
        s2 += (vals_l**2).sum()
        done += n
    mean = s1 / T
    var = max(s2 / T - mean**2, 0.0) * T / (T - 1)
    return MonteCarloEstimate(float(mean), float(math.sqrt(var / T)), T)


# ---------------------------------------------------------------------------------------
# how many features are active
# ---------------------------------------------------------------------------------------
def active_count_pmf(S, D: int | None = None) -> np.ndarray:
    """``P(l features active)``, ``l = 0..D``.

    Equal sparsity: the binomial law ``C(D, l) (1−S)^l S^(D−l)``. Per-feature sparsity
    ``S`` of shape ``(D,)``: the Poisson-binomial law, by the exact convolution recursion.
    """
    S = check_probability(S, "S (sparsity)")
    if S.ndim == 0:
        if D is None:
            raise ValueError("D (the number of features) is required when S is a scalar")
        return skeleton_probabilities(float(S), check_int(D, "D", minimum=1))
    elif S.ndim != 1 or (D is not None and S.shape[0] != D):
        raise ValueError(f"S (sparsity) must be a scalar or have shape (D,), got shape {S.shape}")
    return skeleton_probabilities(S, S.shape[0])


def higher_skeleta_mass(S, D) -> np.ndarray:
    """``μ(∪_{l≥2} Q_l) = 1 − S^D − D(1−S)S^(D−1)``: the probability of ≥ 2 active features.

    Vectorised over ``S`` and ``D`` (broadcast); computed as ``1 − P(0) − P(1)`` with
    ``expm1``/``log1p`` so it stays accurate when the mass is tiny (``S`` near 1).
    """
    S = check_probability(S, "S (sparsity)")
    D = np.asarray(D)
    if not np.issubdtype(D.dtype, np.integer) or np.any(D < 1):
        raise ValueError("D must be a positive integer (or an array of them)")
    S, D = np.broadcast_arrays(S, D)
    p = 1 - S
    out = np.zeros(S.shape)
    # 1 - S^D - D p S^(D-1) = 1 - S^(D-1) (S + D p) = 1 - S^(D-1) (1 + (D-1) p)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rest = (D - 1) * np.log1p(-p) + np.log1p((D - 1) * p)
        out = -np.expm1(log_rest)
    out = np.where(S == 0, 1.0, out)
    out = np.where(D == 1, 0.0, out)  # one feature: never two active (avoids 0 · log 0)
    return np.clip(out, 0.0, 1.0)[()]


def subset_probabilities(S, D: int | None = None):
    """``P(only i active)`` (shape ``(..., D)``) and ``P(only i, j active)`` (``(..., D, D)``).

    ``P(A) = Π_{i∈A}(1−S_i) Π_{k∉A} S_k``, computed with zero-aware products so a
    feature with ``S_k = 0`` (always active) gives exact zeros.
    """
    S = torch.as_tensor(check_probability(S, "S (sparsity)"))
    if S.ndim == 0:
        if D is None:
            raise ValueError("D (the number of features) is required when S is a scalar")
        D = check_int(D, "D", minimum=1)
    elif S.shape[-1] < 1:
        raise ValueError(f"S (sparsity) must be a scalar or have shape (..., D), got {tuple(S.shape)}")
    size, D_ = max(S.numel(), 1) * (D if S.ndim == 0 else 1), D if S.ndim == 0 else S.shape[-1]
    refuse_if_too_big(f"subset_probabilities with D = {D_} (D × D pair probabilities)",
                      memory=8.0 * 6 * size * D_, work=20.0 * size * D_, advice="choose a smaller D")
    if S.ndim == 0:
        S = S.expand(D).clone()
    p = 1 - S
    zero = S == 0
    n_zero = zero.sum(-1, keepdim=True)
    logS = torch.log(torch.where(zero, torch.ones_like(S), S))  # log 1 = 0 where S = 0
    total = logS.sum(-1, keepdim=True)
    # only i active: all S_k (k ≠ i) must be non-zero
    zi = zero.to(_DT)
    P1 = p * torch.exp(total - logS) * ((n_zero - zi) == 0)
    zij = zi[..., :, None] + zi[..., None, :]
    P2 = (p[..., :, None] * p[..., None, :] * torch.exp(total[..., None] - logS[..., :, None]
                                                        - logS[..., None, :])
          * ((n_zero[..., None] - zij) == 0))
    eye = torch.eye(S.shape[-1], dtype=torch.bool)
    P2 = P2.masked_fill(eye, 0.0)
    return P1, P2


# ---------------------------------------------------------------------------------------
# the one-dimensional closed forms
# ---------------------------------------------------------------------------------------
def _sq_poly(α, β, u0, u1):
    """``∫_{u0}^{u1} (α u + β)² du`` (zero when ``u1 ≤ u0``)."""
    u1 = torch.maximum(u1, u0)
    return α**2 * (u1**3 - u0**3) / 3 + α * β * (u1**2 - u0**2) + β**2 * (u1 - u0)


def _active_interval(a, c):
    """``[lo, hi] = {u ∈ [0, 1] : a u + c > 0}`` (an interval; ``lo = hi`` when empty)."""
    safe = torch.where(a == 0, torch.ones_like(a), a)
    r = (-c / safe).clamp(0.0, 1.0)
    lo = torch.where(a > 0, r, torch.zeros_like(r))
    hi = torch.where(a < 0, r, torch.ones_like(r))
    empty = (a == 0) & (c <= 0)
    hi = torch.where(empty, lo, hi)
    return lo, hi


def _relu_sq(a, c):
    lo, hi = _active_interval(a, c)
    return _sq_poly(a, c, lo, hi)


def _recon_sq(a, c):
    lo, hi = _active_interval(a, c)
    zero = torch.zeros_like(a)
    return (1 / 3 - _sq_poly(zero + 1, zero, lo, hi) + _sq_poly(1 - a, -c, lo, hi))


def relu_sq_integral(a, c):
    """``∫_0^1 ReLU(a u + c)² du`` in closed form (elementwise, broadcast).

    The integrand is ``(a u + c)²`` on the interval where ``a u + c > 0`` and ``0`` elsewhere:
    the interference a feature with ``(WᵀW)_{ki} = a``, ``b_k = c`` receives from ``x = u e_i``.
    """
    return _out(_relu_sq(*_check_ac(a, c)))


def recon_sq_integral(a, c):
    """``∫_0^1 (u − ReLU(a u + c))² du`` in closed form: the error of feature ``i`` on ``u e_i``
    when ``‖w_i‖² = a`` and ``b_i = c``."""
    return _out(_recon_sq(*_check_ac(a, c)))


def _check_ac(a, c):
    a, c = check_finite_array(a, "a"), check_finite_array(c, "c")
    try:
        return torch.broadcast_tensors(torch.as_tensor(a), torch.as_tensor(c))
    except RuntimeError as err:
        raise ValueError(f"a {a.shape} and c {c.shape} do not broadcast") from err


# ---------------------------------------------------------------------------------------
# L_0, L_1, L_2
# ---------------------------------------------------------------------------------------
def _gram(W):
    return W.transpose(-1, -2) @ W


def _L0(b, ω):
    return (ω * torch.relu(b) ** 2).sum(-1)


def _L1_terms(W, b, ω):
    """``ℓ_i = ∫_0^1 Σ_k ω_k (δ_ki u − x̂_k(u e_i))² du`` for each ``i`` (shape ``(..., D)``)."""
    G = _gram(W)
    D = G.shape[-1]
    A = G  # A[k, i] = ⟨w_k, w_i⟩
    C = b[..., :, None].expand_as(A)  # C[k, i] = b_k
    inter = _relu_sq(A, C) * ω[..., :, None]
    eye = torch.eye(D, dtype=torch.bool)
    inter = inter.masked_fill(eye, 0.0).sum(-2)
    diag = torch.diagonal(G, dim1=-2, dim2=-1)
    return ω * _recon_sq(diag, b) + inter


def _weighted_mean(terms, P, dims):
    tot = P.sum(dims)
    safe = torch.where(tot > 0, tot, torch.ones_like(tot))
    return (terms * P).sum(dims) / safe


def _L1(W, b, ω, S):
    P1, _ = subset_probabilities(S)
    return _weighted_mean(_L1_terms(W, b, ω), P1, -1)


def _inner_then_outer(kind, a, β, γ):
    """``∫_0^1 dt g(a, β t + γ)`` with ``g`` the closed form ``_relu_sq`` or ``_recon_sq``.

    ``g(a, c)`` is a polynomial of degree ≤ 3 in ``c`` between the values of ``c`` where the
    active interval's end crosses 0 or 1 (``c = 0`` and ``c = −a``), so Gauss–Legendre with 3
    nodes on each of the (at most 3) pieces of ``t ∈ [0, 1]`` is exact.
    """
    g = _relu_sq if kind == "relu" else _recon_sq
    safe = torch.where(β == 0, torch.ones_like(β), β)
    t1 = torch.where(β == 0, torch.zeros_like(β), (-γ / safe).clamp(0, 1))
    t2 = torch.where(β == 0, torch.zeros_like(β), (-(a + γ) / safe).clamp(0, 1))
    lo_b, hi_b = torch.minimum(t1, t2), torch.maximum(t1, t2)
    edges = (torch.zeros_like(β), lo_b, hi_b, torch.ones_like(β))
    total = torch.zeros_like(β)
    for k in range(3):
        t0, t1_ = edges[k], edges[k + 1]
        h = t1_ - t0
        for x, w in zip(_GL_X, _GL_W, strict=True):
            total = total + w * h * g(a, β * (t0 + x * h) + γ)
    return total


def _L2_pair_terms(W, b, ω, chunk: int = 64):
    """``ℓ_ij = ∫∫_{[0,1]²} Σ_k ω_k (x_k − x̂_k)² du dv`` with ``x = u e_i + v e_j``, shape
    ``(..., D, D)`` (the diagonal is unused)."""
    G = _gram(W)
    D = G.shape[-1]
    lead = G.shape[:-2]
    out = torch.zeros(*lead, D, D, dtype=_DT)
    diag = torch.diagonal(G, dim1=-2, dim2=-1)
    # the reconstruction of i: ∫∫ (u − ReLU(G_ii u + G_ij v + b_i))², outer variable v
    rec = _inner_then_outer("recon", diag[..., :, None].expand_as(G), G,
                            b[..., :, None].expand_as(G))
    rec = rec * ω[..., :, None]  # rec[i, j]
    out = out + rec + rec.transpose(-1, -2)
    # interference on k ∉ {i, j}: ∫∫ ReLU(G_ki u + G_kj v + b_k)²
    ar = torch.arange(D)
    for i0 in range(0, D, chunk):
        i1 = min(D, i0 + chunk)
        α = G[..., :, i0:i1, None]  # (..., k, i, 1)
        β = G[..., :, None, :]  # (..., k, 1, j)
        γ = b[..., :, None, None]
        α, β, γ = torch.broadcast_tensors(α, β, γ)
        H = _inner_then_outer("relu", α, β, γ) * ω[..., :, None, None]
        ks = ar[:, None, None]
        mask = (ks == ar[None, i0:i1, None]) | (ks == ar[None, None, :])
        out[..., i0:i1, :] = out[..., i0:i1, :] + H.masked_fill(mask, 0.0).sum(-3)
    return out


def _L2(W, b, ω, S):
    _, P2 = subset_probabilities(S)
    return _weighted_mean(_L2_pair_terms(W, b, ω), P2, (-2, -1))


def one_sparse_terms(W, b, ω):
    """The per-feature 1-sparse losses ``ℓ_i = ∫_0^1 ‖u e_i − x̂(u e_i)‖²_ω du`` (exact), shape
    ``(..., D)``: ``ω_i ∫(u − ReLU(u‖w_i‖² + b_i))² + Σ_{k≠i} ω_k ∫ReLU(u⟨w_k, w_i⟩ + b_k)²``."""
    W, b, ω = _check_params(W, b, ω)
    return _out(_L1_terms(W, b, ω))


def loss_L0(W, b, ω):
    """``L_0 = Σ_k ω_k ReLU(b_k)²``: the loss at ``x = 0`` (the skeleton ``Q_0``)."""
    W, b, ω = _check_params(W, b, ω)
    return _out(_L0(b, ω))


def loss_L1(W, b, ω, S):
    """``L_1``: the loss conditional on exactly one active feature, exact (closed form).

    ``L_1 = Σ_i P(only i) ℓ_i / Σ_i P(only i)`` with ``ℓ_i`` from :func:`one_sparse_terms`;
    with equal sparsity the weights are equal and ``L_1 = (1/D) Σ_i ℓ_i``.
    """
    W, b, ω, S = _check_params(W, b, ω, S)
    return _out(_L1(W, b, ω, S.numpy()))


def loss_L2(W, b, ω, S):
    """``L_2``: the loss conditional on exactly two active features, exact.

    ``L_2 = Σ_{i<j} P(only i, j) ℓ_ij / Σ_{i<j} P(only i, j)`` with ``ℓ_ij`` the integral over
    ``[0, 1]²`` of the loss at ``u e_i + v e_j``; the inner integral is done in closed form, the
    outer one by Gauss–Legendre on the pieces where it is a cubic polynomial (exact).
    """
    W, b, ω, S = _check_params(W, b, ω, S)
    return _out(_L2(W, b, ω, S.numpy()))


# ---------------------------------------------------------------------------------------
# the full decomposition
# ---------------------------------------------------------------------------------------
def sample_given_active_count(T: int, S, l: int, *, rng=None) -> np.ndarray:
    """``T`` samples of ``μ`` conditioned on exactly ``l`` active features, shape ``(T, D)``.

    Per-feature sparsity is allowed: feature ``i`` is switched on with probability
    ``P(B_i = 1 | Σ_{j≥i} B_j = r) = (1−S_i) q_{i+1}(r−1) / q_i(r)``, where ``q_i`` is the
    Poisson-binomial law of the features ``i..D−1`` (exact sequential sampling).
    """
    S = check_probability(S, "S (sparsity)")
    if S.ndim != 1:
        raise ValueError(f"S (sparsity) must have shape (D,), got shape {S.shape}")
    D = S.shape[0]
    T = check_int(T, "T", minimum=1)
    l = check_int(l, "l", minimum=0, maximum=D)
    refuse_if_too_big(f"sample_given_active_count with T = {T}, D = {D}", work=20.0 * T * D,
                      memory=24.0 * T * D, advice="draw fewer samples T")
    rng = as_rng(rng, "rng")
    q = np.zeros((D + 1, D + 2))  # q[i, r] = P(Σ_{j≥i} B_j = r); column D+1 stays 0
    q[D, 0] = 1.0
    for i in range(D - 1, -1, -1):
        q[i, : D + 1] = S[i] * q[i + 1, : D + 1]
        q[i, 1 : D + 1] += (1 - S[i]) * q[i + 1, :D]
    if q[0, l] <= 0:
        raise ValueError(f"exactly l = {l} active features has probability 0 under this S")
    r = np.full(T, l)
    on = np.zeros((T, D), dtype=bool)
    for i in range(D):
        denom = q[i, r]
        num = (1 - S[i]) * q[i + 1, np.maximum(r - 1, 0)]
        prob = np.where(r > 0, num / np.where(denom > 0, denom, 1), 0.0)
        on[:, i] = rng.random(T) < prob
        r = r - on[:, i]
    return on * rng.random((T, D))


@dataclass(frozen=True)
class SkeletonDecomposition:
    """``L = Σ_l P_l L_l``: the weights ``P`` (``l = 0..D``), the exact ``L_0, L_1, L_2``, the
    Monte Carlo tail ``Σ_{l≥3} P_l L_l`` with its standard error, and the total."""

    P: np.ndarray
    L_exact: np.ndarray
    tail: float
    tail_se: float
    L_tail_mc: np.ndarray  # conditional means L_l for l ≥ 3 from the tail sample (nan if unseen)

    @property
    def total(self) -> float:
        return float(self.P[: len(self.L_exact)] @ self.L_exact + self.tail)

    @property
    def beyond_one_sparse(self) -> float:
        """``Σ_{l≥2} P_l L_l``: the part of the loss that the 1-sparse approximation leaves out."""
        return float(self.P[2 : len(self.L_exact)] @ self.L_exact[2:] + self.tail)

    @property
    def total_se(self) -> float:
        return self.tail_se


def skeleton_decomposition(W, b, ω, S, T_tail: int = 100_000, *, rng=None) -> SkeletonDecomposition:
    """The exact decomposition of the integral loss over the skeleta (Section 3.1 of the notes).

    ``L = Σ_{l=0}^{D} P(l active) · L_l``. ``L_0, L_1, L_2`` are exact; the tail
    ``Σ_{l≥3} P_l L_l = P(l≥3) · E[loss | l≥3]`` is estimated from ``T_tail`` samples drawn
    *conditionally on l ≥ 3* (so no sample is wasted on the skeleta done exactly).
    """
    W, b, ω, S = _check_params(W, b, ω, S)
    if W.ndim != 2:
        raise ValueError("skeleton_decomposition takes one instance: W of shape (d, D)")
    D = W.shape[1]
    Sn = S.numpy()
    P = active_count_pmf(Sn)
    L = [_out(_L0(b, ω))]
    if D >= 1 and P[1] > 0:
        L.append(_out(_L1(W, b, ω, Sn)))
    elif D >= 1:
        L.append(0.0)
    if D >= 2:
        L.append(_out(_L2(W, b, ω, Sn)) if P[2] > 0 else 0.0)
    L_exact = np.array(L)
    L_tail = np.full(D + 1, np.nan)
    tail = tail_se = 0.0
    p_tail = P[3:].sum()
    T_tail = check_int(T_tail, "T_tail", minimum=2)
    refuse_if_too_big(f"skeleton_decomposition with T_tail = {T_tail}, D = {D}",
                      work=30.0 * T_tail * D, memory=40.0 * T_tail * D,
                      advice="draw fewer tail samples T_tail")
    if D >= 3 and p_tail > 0:
        rng = as_rng(rng, "rng")
        counts = rng.multinomial(T_tail, P[3:] / p_tail)
        Wn, bn, ωn = W.numpy(), b.numpy(), ω.numpy()
        vals = []
        for l, n in enumerate(counts, start=3):
            if n == 0:
                continue
            vals_l = pointwise_loss(Wn, bn, ωn, sample_given_active_count(n, Sn, l, rng=rng))
            L_tail[l] = vals_l.mean()
            vals.append(vals_l)
        vals = np.concatenate(vals)
        tail = float(p_tail * vals.mean())
        tail_se = float(p_tail * vals.std(ddof=1) / math.sqrt(len(vals)))
    return SkeletonDecomposition(P, L_exact, tail, tail_se, L_tail)


def restricted_loss(W, b, ω, S, l_max: int = 1):
    """``Σ_{l ≤ l_max} P_l L_l``: the integral of the loss over ``Q_0 ∪ … ∪ Q_{l_max}`` (exact,
    ``l_max ∈ {0, 1, 2}``; batched over leading axes). With ``l_max = 1`` this is the
    *1-sparse loss* of the notes' open question; for ``D ≤ l_max`` it is the whole loss."""
    l_max = check_int(l_max, "l_max", minimum=0, maximum=2)
    W, b, ω, S = _check_params(W, b, ω, S)
    return _out(_restricted(W, b, ω, S, l_max))


def _restricted(W, b, ω, S, l_max):
    D = W.shape[-1]
    Sn = S.detach().numpy()
    P = torch.as_tensor(np.apply_along_axis(active_count_pmf, -1, Sn))
    total = P[..., 0] * _L0(b, ω)
    if l_max >= 1:
        total = total + P[..., 1] * _L1(W, b, ω, Sn)
    if l_max >= 2 and D >= 2:
        total = total + P[..., 2] * _L2(W, b, ω, Sn)
    return total


def one_sparse_error(W, b, ω, S, T_tail: int = 100_000, *, rng=None):
    """The error of the 1-sparse approximation: ``L − (P_0 L_0 + P_1 L_1) = Σ_{l≥2} P_l L_l``.

    Returns ``(error, relative error, standard error)``; the part ``l = 2`` is exact, the tail
    ``l ≥ 3`` Monte Carlo (see :func:`skeleton_decomposition`).
    """
    dec = skeleton_decomposition(W, b, ω, S, T_tail, rng=rng)
    err, total = dec.beyond_one_sparse, dec.total
    return err, (err / total if total > 0 else 0.0), dec.tail_se


def _adam_cosine(params: list, loss, steps: int, lr: float, *, zero, where: str,
                 unit: str) -> None:
    """``steps`` Adam steps on ``loss().sum()`` with a cosine-decaying learning rate.

    ``loss()`` returns one loss per instance (the first axis of every parameter); the instances
    are independent. Every step, and once after the last, the losses, gradients and Adam's
    ``v`` are checked (:func:`toymodels.train.divergence.check_loop_step`): NaN, inf, a loss more than
    ``RUNAWAY`` times the larger of its initial value and ``zero`` (the zero model's loss), or
    an overflowed ``v`` raise ``DivergenceError`` naming ``where``, the step and the ``unit``.
    """
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    advice = lr_advice(lr)
    scale = None

    def check(t, L, grad):
        nonlocal scale
        L = L.detach().numpy()
        scale = np.maximum(L, zero) if scale is None else scale
        n = L.shape[0]
        v = [opt.state[p]["exp_avg_sq"].reshape(n, -1) for p in params if p in opt.state]
        check_loop_step(where, t, L, scale, advice=advice, unit=unit, grad=grad,
                        state=torch.cat(v, 1).numpy() if v else None)

    for t in range(steps):
        opt.zero_grad()
        L = loss()
        L.sum().backward()
        check(t, L, torch.cat([p.grad.reshape(L.shape[0], -1) for p in params], 1).numpy())
        opt.step()
        sched.step()
    with torch.no_grad():
        check(steps, loss(), None)


def minimize_restricted_loss(d: int, D: int, ω, S, *, l_max: int = 1, n_restarts: int = 8,
                             steps: int = 3000, lr: float = 0.01, seed: int = 0, W0=None, b0=None):
    """Minimise the exact restricted loss :func:`restricted_loss` over ``(W, b)`` (torch float64,
    Adam with a cosine-decaying learning rate; the restarts are independent and trained side by
    side). Starts from ``n_restarts`` seeded random ``W`` (std ``√(2/(d+D))``) and ``b = 0``, or
    from ``W0 (n, d, D)``, ``b0 (n, D)`` when given. ``ω`` and ``S`` may carry the instance axis.

    Returns ``(W, b, losses)`` of shapes ``(n, d, D)``, ``(n, D)``, ``(n,)``, in the order of the
    starts (not sorted).
    """
    d = check_int(d, "d", minimum=1)
    D = check_int(D, "D", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    l_max = check_int(l_max, "l_max", minimum=0, maximum=2)
    lr = check_float(lr, "lr", positive=True)
    n_est = n_restarts if W0 is None else np.shape(W0)[0] if np.ndim(W0) == 3 else 1
    refuse_if_too_big(f"minimize_restricted_loss with d = {d}, D = {D}, steps = {steps}, "
                      f"n_restarts = {n_est}", memory=8.0 * check_int(n_est, "n_restarts", minimum=1)
                      * (d + 40) * D * D,
                      work=float(steps) * n_est * (d + 200) * D * D,
                      advice="use fewer steps, restarts or features D")
    if W0 is None:
        n = check_int(n_restarts, "n_restarts", minimum=1)
        g = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
        W = torch.randn(n, d, D, generator=g, dtype=_DT) * math.sqrt(2 / (d + D))
    else:
        W = _as_t(check_finite_array(W0, "W0", ndim=3)).clone()
        if W.shape[1:] != (d, D):
            raise ValueError(f"W0 must have shape (n, d, D) = (n, {d}, {D}), got {tuple(W.shape)}")
        n = W.shape[0]
    if b0 is None:
        b = torch.zeros(n, D, dtype=_DT)
    else:
        b = _as_t(check_finite_array(b0, "b0", ndim=2)).clone()
        if b.shape != (n, D):
            raise ValueError(f"b0 must have shape (n, D) = ({n}, {D}), got {tuple(b.shape)}")
    W.requires_grad_()
    b.requires_grad_()
    _, _, ωt, St = _check_params(W.detach(), b.detach(), ω, S)
    _adam_cosine([W, b], lambda: _restricted(W, b, ωt, St, l_max), steps, lr,
                 zero=np.broadcast_to(ωt.sum(-1).numpy() / 3, (n,)),
                 where="minimize_restricted_loss", unit="restart")
    with torch.no_grad():
        final = _restricted(W, b, ωt, St, l_max)
    return W.detach().numpy(), b.detach().numpy(), final.numpy()


def two_in_one_candidates(ratio, S, *, optimise: bool = True, steps: int = 1500,
                          lr: float = 0.02):
    """The losses of the candidate solutions of 2 features in 1 dimension, ``ω = (1, ratio)``.

    * ``"feature 1"``: ``w = (1, 0)``, ``b = (0, (1−S)/2)``; feature 1 is reconstructed exactly and
      feature 2 by its mean: ``L = ratio · ((1−S)/3 − (1−S)²/4)`` (closed form);
    * ``"feature 2"``: the same with the roles swapped, ``L = (1−S)/3 − (1−S)²/4``;
    * ``"antipodal"``: ``w = (1, −1)``, ``b = 0``: ``L = (1−S)² (1 + ratio)/6`` (closed form);
    * ``"antipodal*"``: the best antipodal solution ``w = (e^α, −e^γ)`` with free bias, found by
      minimising the exact loss (for ``D = 2`` the skeleta ``l ≤ 2`` are the whole cube) over
      ``(α, γ, b)`` with Adam from ``α = γ = 0, b = 0``.

    ``ratio`` and ``S`` broadcast; returns a dict of arrays of their common shape (and, with
    ``optimise``, the optimised ``W``, ``b`` under ``"antipodal*_W"``, ``"antipodal*_b"``).
    """
    ratio, S = check_finite_array(ratio, "ratio"), check_probability(S, "S")
    try:
        ratio, S = np.broadcast_arrays(ratio, S)
    except ValueError as err:
        raise ValueError(f"ratio {ratio.shape} and S {S.shape} do not broadcast") from err
    if np.any(ratio < 0):
        raise ValueError("ratio (the importance of feature 2 relative to feature 1) must be >= 0")
    steps = check_int(steps, "steps", minimum=1)
    lr = check_float(lr, "lr", positive=True)
    if not isinstance(optimise, bool):
        raise TypeError(f"optimise must be True or False, got {optimise!r}")
    refuse_if_too_big(f"two_in_one_candidates with {ratio.size} (ratio, S) pairs and steps = "
                      f"{steps}", work=(steps if optimise else 1) * 2000.0 * ratio.size,
                      memory=2000.0 * ratio.size, advice="use fewer steps or fewer (ratio, S) pairs")
    shape = ratio.shape
    r, Sv = ratio.ravel(), S.ravel()
    p = 1 - Sv
    out = {"feature 1": r * (p / 3 - p**2 / 4), "feature 2": p / 3 - p**2 / 4,
           "antipodal": p**2 * (1 + r) / 6}
    if not optimise:
        return {k: v.reshape(shape) for k, v in out.items()}
    n = r.size
    ω = torch.as_tensor(np.c_[np.ones(n), r])
    St = torch.as_tensor(np.c_[Sv, Sv])
    αγ = torch.zeros(n, 2, dtype=_DT, requires_grad=True)
    b = torch.zeros(n, 2, dtype=_DT, requires_grad=True)
    sign = torch.tensor([1.0, -1.0], dtype=_DT)

    def loss():
        return _restricted((torch.exp(αγ) * sign)[:, None, :], b, ω, St, 2)

    _adam_cosine([αγ, b], loss, steps, lr,
                 zero=ω.sum(-1).numpy() / 3, where="two_in_one_candidates",
                 unit="(ratio, S) pair")
    with torch.no_grad():
        W = (torch.exp(αγ) * sign)[:, None, :]
        out["antipodal*"] = _restricted(W, b, ω, St, 2).numpy()
    res = {k: v.reshape(shape) for k, v in out.items()}
    res["antipodal*_W"] = W.numpy().reshape(*shape, 1, 2)
    res["antipodal*_b"] = b.detach().numpy().reshape(*shape, 2)
    return res
