"""The closed-form integrals of the ReLU output model's loss (Section 3.1 of the notes).

The model is ``x ↦ x̂ = ReLU(WᵀW x + b)`` with ``W`` of shape ``(d, D)`` and output bias ``b``
(the notes write ``−b``; this package uses the ``+b`` of the Toy Models paper). Conditioning
the loss on the skeleton ``Q_l`` (exactly ``l`` active features, :mod:`toymodels.tied.skeleta`)
gives the conditional losses ``L_l``; this module computes the first three exactly:

* :func:`relu_sq_integral`, :func:`recon_sq_integral`: the one-dimensional closed forms;
* :func:`loss_L0`, :func:`loss_L1` (with :func:`one_sparse_terms`), :func:`loss_L2` (the outer
  integral by Gauss–Legendre on the pieces where it is a polynomial, which is exact);
* :func:`restricted_loss`: ``Σ_{l ≤ l_max} P_l L_l``, the loss on ``Q_0 ∪ … ∪ Q_{l_max}``.

The closed forms are written once, in torch float64 (so they can be differentiated); the public
functions accept numpy or torch arrays, leading instance axes ``(..., d, D)``, and return numpy
float64. ``_check_params`` is the one argument check of ``(W, b, ω, S)`` for the ReLU model.
"""

from __future__ import annotations

import numpy as np
import torch

from toymodels._checks import check_finite_array, check_importance, check_int, check_probability
from toymodels.tied.skeleta import active_count_pmf, subset_probabilities

__all__ = [
    "relu_sq_integral",
    "recon_sq_integral",
    "one_sparse_terms",
    "loss_L0",
    "loss_L1",
    "loss_L2",
    "restricted_loss",
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
    ωa = check_importance(ω)
    if ωa.ndim == 0:
        ωa = np.full(D, float(ωa))
    if ωa.shape[-1] not in (1, D):
        raise ValueError(f"ω (importance) must be a scalar or have shape (..., D) or (..., 1) with "
                         f"D = {D}, got shape {ωa.shape}")
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


def restricted_loss(W, b, ω, S, l_max: int = 1):
    """``Σ_{l ≤ l_max} P_l L_l``: the integral of the loss over ``Q_0 ∪ … ∪ Q_{l_max}`` (exact,
    ``l_max ∈ {0, 1, 2}``; batched over leading axes). With ``l_max = 1`` this is the
    *1-sparse loss* of the notes' open question; for ``D ≤ l_max`` it is the whole loss."""
    l_max = check_int(l_max, "l_max", minimum=0, maximum=2)
    W, b, ω, S = _check_params(W, b, ω, S)
    return _out(_restricted(W, b, ω, S, l_max))


def _skeleton_weights(S, l_max: int):
    """The weights of :func:`_restricted`, computed once per ``S`` (shape ``(..., D)``, torch):
    ``P(l active)`` for ``l = 0..D``, and ``P(only i)``, ``P(only i, j)`` when ``l_max ≥ 1``."""
    Sn = S.detach().numpy()
    P = torch.as_tensor(np.apply_along_axis(active_count_pmf, -1, Sn))
    P1, P2 = subset_probabilities(Sn) if l_max >= 1 else (None, None)
    return P, P1, P2


def _restricted_weighted(W, b, ω, weights, l_max):
    """``Σ_{l ≤ l_max} P_l L_l`` (torch, differentiable) from :func:`_skeleton_weights`."""
    P, P1, P2 = weights
    total = P[..., 0] * _L0(b, ω)
    if l_max >= 1:
        total = total + P[..., 1] * _weighted_mean(_L1_terms(W, b, ω), P1, -1)
    if l_max >= 2 and W.shape[-1] >= 2:
        total = total + P[..., 2] * _weighted_mean(_L2_pair_terms(W, b, ω), P2, (-2, -1))
    return total


def _restricted(W, b, ω, S, l_max):
    return _restricted_weighted(W, b, ω, _skeleton_weights(S, l_max), l_max)


def _loss_closure(D: int, S, ω, l_max: int = 2):
    """``f(W, b)``: ``L_1`` (``S is None``, equal sparsity) or ``Σ_{l ≤ l_max} P_l L_l`` at the
    scalar sparsity ``S``, with the skeleton weights computed once, so that ``f`` is a pure torch
    function (``torch.func`` can take its Hessian) and cheap to call many times."""
    if S is None:
        P1 = torch.as_tensor(subset_probabilities(np.full(D, 0.5))[0])
        return lambda W, b: _weighted_mean(_L1_terms(W, b, ω), P1, -1)
    weights = _skeleton_weights(torch.full((D,), float(S), dtype=_DT), l_max)
    return lambda W, b: _restricted_weighted(W, b, ω, weights, l_max)
