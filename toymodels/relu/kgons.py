"""Regular k-gons: the symmetric critical points of the ReLU output model in two hidden dimensions.

The configuration (Chapter 4, {cite:t}`chen2023dynamical`): ``D`` features of equal importance,
``d = 2`` hidden dimensions; the first ``k`` features sit on a regular k-gon of radius ``r``,

    w_j = r (cos 2πj/k, sin 2πj/k),   b_j = b          (j = 0 … k−1),

and the other ``D − k`` features are *dropped*, ``w_j = 0``. A dropped feature either keeps a
positive bias ``b_dropped`` (its output is then the constant ``b_dropped``, the best constant
guess of ``x_j``) or is *dead*: ``b_j < 0``, so its output is ``0`` whatever the input.

Two losses are used, both from :mod:`toymodels.relu.loss` (equal importance ``ω = 1``):

* ``S is None`` — the **1-sparse loss** ``L_1 = (1/D) Σ_i ℓ_i`` of (eq-ell-i) in Chapter 3:
  the expected loss given exactly one active feature (uniform on [0, 1]). It does not depend
  on ``S`` and is the loss of Chen et al. This is ``relu_loss.loss_L1`` (any equal ``S``);
  :func:`one_sparse_loss` calls it.
* ``S`` given — the **l ≤ 2 loss** ``P_0 L_0 + P_1 L_1 + P_2 L_2`` of Chapter 3
  (``relu_loss.restricted_loss(..., l_max=2)``) at sparsity ``S``.

Every critical point of the three-parameter family ``(r, b, b_dropped)`` is a critical point
of the loss on all of ``(W, b) ∈ ℝ^{2×D} × ℝ^D`` (symmetric criticality, proved in Chapter 4),
because the family is the fixed-point set of the dihedral symmetry of the k-gon combined with
the permutations of the dropped features.

For ``S is None`` the k-gon's ``(r, b)`` do not depend on ``D``: the loss splits as
``L_1 = (1/D)[k B_k(r², b) + (D − k − n_dead)(1/3 − 1/(4D)) + n_dead/3]`` (Chapter 4,
eq-kgon-split) with the block loss ``B_k`` of :mod:`toymodels.relu.kgon_blocks`, whose
certified roots (:func:`~toymodels.relu.kgon_blocks.kgon_block_roots`) give ``(r, b)`` for
``k ≥ 5``; for ``k ≤ 4`` the minimum is ``B_k = 0`` at ``r = 1, b = 0``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from toymodels._checks import as_real_array, check_finite_array, check_float, check_importance, check_int
from toymodels.relu import integrals as rl
from toymodels.relu.kgon_blocks import (  # noqa: F401 (BlockRoot, block_loss: moved, still importable)
    BlockRoot,
    RootWarning,
    block_loss,
    kgon_block_roots,
)

__all__ = [
    "MAX_FEATURES",
    "MAX_FEATURES_L2",
    "KGonCriticalPoint",
    "kgon_weights",
    "one_sparse_loss",
    "dropped_bias",
    "kgon_critical_point",
    "kgon_critical_points",
    "kgon_family",
    "RootWarning",
]

#: The largest ``D`` accepted for the 1-sparse loss (``k ≤ 40`` for the certified block roots).
MAX_FEATURES = 40
#: The largest ``D`` accepted for the l ≤ 2 loss, whose evaluation costs ``O(D³)``.
MAX_FEATURES_L2 = 16
_DT = torch.float64


# ---------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------
def _check_Dk(D, k):
    D = check_int(D, "D", minimum=2, maximum=MAX_FEATURES)
    k = check_int(k, "k", minimum=2)
    if k > D:
        raise ValueError(f"k must be <= D (a k-gon uses k of the D features), got k = {k} > D = {D}")
    return D, k


def _check_cost(D, S):
    if S is not None and D > MAX_FEATURES_L2:
        raise ValueError(f"D = {D} is above MAX_FEATURES_L2 = {MAX_FEATURES_L2} for the l <= 2 loss: "
                         f"each Newton step evaluates O(D^3) = {D**3:,} pair integrals and their "
                         f"Hessian, roughly {D**3 / 16**3 * 5:.0f} s per critical point here")


def _check_S(S):
    if S is None:
        return None
    S = check_float(S, "S (sparsity)", minimum=0.0, maximum=1.0)
    if not 0.0 < S < 1.0:
        raise ValueError(f"S (sparsity) must lie strictly between 0 and 1 for the l <= 2 loss, got {S:g}")
    return S


# ---------------------------------------------------------------------------------------
# the configuration and the losses
# ---------------------------------------------------------------------------------------
def kgon_weights(D: int, k: int, r: float) -> np.ndarray:
    """``W`` of shape ``(2, D)``: columns ``r (cos 2πj/k, sin 2πj/k)`` for ``j < k``, zero after."""
    D, k = _check_Dk(D, k)
    r = check_float(r, "r", minimum=0.0)
    θ = 2 * np.pi * np.arange(k) / k
    W = np.zeros((2, D))
    W[0, :k], W[1, :k] = r * np.cos(θ), r * np.sin(θ)
    return W


def one_sparse_loss(W, b, ω=None):
    """The 1-sparse loss ``L_1 = Σ_i ω_i-weighted ℓ_i / D`` (Chapter 3, eq-ell-i; Chen et al.'s
    closed form) for ``W (..., d, D)``, ``b (..., D)``, any ``d``.

    With equal sparsity the weights ``P(only i)`` are equal, so ``L_1`` does not depend on
    ``S``: this is ``relu_loss.loss_L1(W, b, ω, S)`` for any ``0 < S < 1``, evaluated at
    ``S = 1/2``. ``ω`` (importance) defaults to ``1`` for every feature.
    """
    ω = 1.0 if ω is None else ω
    return rl.loss_L1(W, b, ω, 0.5)


def _loss_t(W, b, S):
    """Torch float64 loss of the family: ``L_1`` (``S is None``) or the l ≤ 2 loss."""
    D = W.shape[-1]
    ω = torch.ones(D, dtype=_DT)
    if S is None:
        return rl._L1(W, b, ω, np.full(D, 0.5))
    return rl._restricted(W, b, ω, torch.full((D,), S, dtype=_DT), 2)


def dropped_bias(D: int, S=None) -> float:
    """The best positive bias of a dropped feature (``w_j = 0``): its output is the constant
    ``c``, so ``c* = E[x_j 1{event}] / P(event)``. For ``L_1``: ``c* = 1/(2D)``. For the l ≤ 2
    loss: ``c* = ½ (1−S)(S^{D−1} + (D−1)(1−S)S^{D−2}) / P(l ≤ 2)`` (Chapter 4, eq-dropped-bias)."""
    D = check_int(D, "D", minimum=2, maximum=MAX_FEATURES)
    S = _check_S(S)
    if S is None:
        return 1.0 / (2 * D)
    p = 1 - S
    on = p * (S ** (D - 1) + (D - 1) * p * S ** (D - 2))
    P_le2 = S**D + D * p * S ** (D - 1) + D * (D - 1) / 2 * p**2 * S ** (D - 2)
    return 0.5 * on / P_le2


# ---------------------------------------------------------------------------------------
# critical points of the whole model
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KGonCriticalPoint:
    """A regular k-gon of radius ``r`` and bias ``b`` with ``D − k`` dropped features
    (``n_dead`` of them dead with bias ``dead_bias``, the others with bias ``b_dropped``).

    ``loss`` is the 1-sparse loss ``L_1`` (``S is None``) or the l ≤ 2 loss at sparsity ``S``;
    ``grad_norm`` is the Euclidean norm of its gradient over all ``3D`` parameters, in float64
    at the stored ``(r, b)``; ``residual`` the norm of the family's stationarity equations at
    the root (50 digits when ``S is None`` and ``k ≥ 5``, float64 otherwise); ``certified``
    whether the root was proved (Krawczyk) or is exact (``k ≤ 4``, ``S is None``); ``p`` the
    regime: how many neighbours on each side have their ReLU on along the k-gon's edges."""

    D: int
    k: int
    r: float
    b: float
    b_dropped: float
    loss: float
    grad_norm: float
    S: float | None = None
    n_dead: int = 0
    dead_bias: float = -1.0
    residual: float = 0.0
    certified: bool = False
    p: int = 0

    def parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """``(W, b)``: ``W`` of shape ``(2, D)``, ``b`` of shape ``(D,)`` (numpy float64); the
        k-gon first, then the dropped features with bias ``b_dropped``, then the dead ones."""
        W = kgon_weights(self.D, self.k, self.r)
        b = np.empty(self.D)
        b[: self.k] = self.b
        b[self.k : self.D - self.n_dead] = self.b_dropped
        b[self.D - self.n_dead :] = self.dead_bias
        return W, b

    @property
    def name(self) -> str:
        n_drop = self.D - self.k
        if n_drop == 0:
            return f"{self.k}-gon"
        return f"{self.k}-gon" + "+" * (n_drop - self.n_dead) + "-" * self.n_dead


def _grad_norm(W, b, S):
    Wt = torch.as_tensor(W).requires_grad_()
    bt = torch.as_tensor(b).requires_grad_()
    gW, gb = torch.autograd.grad(_loss_t(Wt, bt, S), (Wt, bt))
    return float(torch.sqrt((gW**2).sum() + (gb**2).sum()))


def _family_grad_hess(x, D, k, S, b_d, n_dead, dead_bias, h=1e-5):
    """Loss, gradient and Hessian on the family ``(r, b)``, float64. The loss and the gradient
    are exact (autograd); the Hessian, which only steers Newton, is the central difference of
    exact gradients at ``(r ± h, b)``, ``(r, b ± h)`` (error ``O(h²)``), all five points in one
    batched evaluation: several times cheaper than a second derivative through the pair
    integrals. Whether the root is a critical point is decided by the exact gradient alone."""
    θ = 2 * math.pi * torch.arange(k, dtype=_DT) / k
    dirs = torch.cat([torch.stack([torch.cos(θ), torch.sin(θ)]), torch.zeros(2, D - k, dtype=_DT)], 1)
    rest = torch.cat([torch.full((D - k - n_dead,), b_d, dtype=_DT),
                      torch.full((n_dead,), dead_bias, dtype=_DT)])
    loss = rl._loss_closure(D, S, torch.ones(D, dtype=_DT), 2)
    steps = torch.tensor([[0, 0], [h, 0], [-h, 0], [0, h], [0, -h]], dtype=_DT)
    V = (torch.as_tensor(np.asarray(x, dtype=float), dtype=_DT) + steps).requires_grad_()
    W = V[:, :1, None] * dirs  # (5, 2, D): the k-gon of radius r, then the dropped features
    b = torch.cat([V[:, 1:].expand(5, k), rest.expand(5, D - k)], 1)
    L = loss(W, b)
    (G,) = torch.autograd.grad(L.sum(), V)
    G = G.numpy()
    H = np.stack([(G[1] - G[2]) / (2 * h), (G[3] - G[4]) / (2 * h)], 1)
    return float(L[0].detach()), G[0], (H + H.T) / 2


def _family_grad_hess_autograd(x, D, k, S, b_d, n_dead, dead_bias):
    """As :func:`_family_grad_hess`, with the Hessian by autograd. At a kink of the ReLU (the
    square's bias is exactly 0) the central difference straddles the kink and steers Newton
    badly; autograd's one-sided second derivative does not."""
    θ = 2 * math.pi * torch.arange(k, dtype=_DT) / k
    rest = torch.cat([torch.full((D - k - n_dead,), b_d, dtype=_DT),
                      torch.full((n_dead,), dead_bias, dtype=_DT)])

    def f(v):
        W = torch.cat([v[0] * torch.stack([torch.cos(θ), torch.sin(θ)]),
                       torch.zeros(2, D - k, dtype=_DT)], dim=1)
        return _loss_t(W, torch.cat([v[1].expand(k), rest]), S)

    xt = torch.as_tensor(np.asarray(x, dtype=float), dtype=_DT).requires_grad_()
    L = f(xt)
    g = torch.autograd.grad(L, xt, create_graph=True)[0]
    H = torch.stack([torch.autograd.grad(g[i], xt, retain_graph=True)[0] for i in range(2)])
    return float(L.detach()), g.detach().numpy(), H.detach().numpy()


def _solve_family_S(D, k, S, b_d, n_dead, dead_bias, start=None, tol=1e-13):
    """A critical point of the l ≤ 2 loss on the family ``(r, b)``: Newton with backtracking on
    ``|∇|²``, started from ``start``, by default the 1-sparse critical point (``k ≥ 5``) or
    ``r = 1, b = 0`` (``k ≤ 4``). Newton is steered by central-difference Hessians; where that
    does not reach ``tol`` (at a kink), it is run again with autograd Hessians."""
    L, x, gn = _newton_family(D, k, S, b_d, n_dead, dead_bias, start, tol, _family_grad_hess)
    if gn >= tol:
        L, x, gn = _newton_family(D, k, S, b_d, n_dead, dead_bias, start, tol,
                                  _family_grad_hess_autograd)
    return L, x, gn


def _newton_family(D, k, S, b_d, n_dead, dead_bias, start, tol, grad_hess):
    if start is not None:
        x = np.array(start, dtype=float)
    elif k <= 4:
        x = np.array([1.0, 0.0])
    else:
        x = np.array([kgon_block_roots(k)[0].r, kgon_block_roots(k)[0].b])
    L, g, H = grad_hess(x, D, k, S, b_d, n_dead, dead_bias)
    for _ in range(40):
        if np.linalg.norm(g) < tol:
            break
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = g
        t = 1.0
        for _ in range(30):
            x_new = x - t * step
            L_new, g_new, H_new = grad_hess(x_new, D, k, S, b_d, n_dead, dead_bias)
            if np.linalg.norm(g_new) < np.linalg.norm(g):
                break
            t /= 2
        else:
            break
        x, L, g, H = x_new, L_new, g_new, H_new
    return L, x, float(np.linalg.norm(g))


def _check_uniform_importance(ω, D):
    if ω is None:
        return
    ω = check_importance(ω)
    if ω.ndim > 1 or (ω.ndim == 1 and ω.shape != (D,)):
        raise ValueError(f"ω (importance) must be a scalar or have shape ({D},), got {ω.shape}")
    if np.any(ω <= 0) or np.ptp(np.atleast_1d(ω)) > 0:
        raise ValueError("ω (importance) must be equal and positive for every feature: the k-gon family "
                         "is a family of critical points only for equal importance (the symmetry "
                         "that permutes the features must leave the loss unchanged)")


def kgon_critical_points(D: int, k: int, *, S=None, n_dead: int = 0, dead_bias: float = -1.0,
                         ω=None, start=None) -> list[KGonCriticalPoint]:
    """The critical points of the k-gon family for ``D`` features, sorted by loss.

    ``S is None``: the 1-sparse loss ``L_1``; every certified root of ``∇B_k`` with ``b < 0``
    (:func:`kgon_block_roots`), or ``r = 1, b = 0`` (exact, ``B = 0``) for ``k ≤ 4``.
    ``S`` given: the l ≤ 2 loss; the critical point that Newton on ``(r, b)`` (float64,
    stationarity to ``1e-13``) reaches from the 1-sparse one (``k ≥ 5``) or from ``r = 1, b = 0``
    (``k ≤ 4``): the continuation of the 1-sparse critical point to sparsity ``S``.
    ``start = (r, b)``, with ``S`` only, replaces that starting point: continuation in ``S``
    passes the critical point of a nearby sparsity (fewer Newton steps; the point reached is the
    one connected to ``start``).
    ``n_dead`` of the dropped features are dead (bias ``dead_bias < 0``); the others take
    :func:`dropped_bias`.
    ``ω`` (importance), if given, must be equal for all features (the loss is scale-free in it:
    a common importance ``ω`` multiplies the loss by ``ω``; the critical points do not move, and
    the reported loss is for ``ω = 1``).
    """
    D, k = _check_Dk(D, k)
    _check_uniform_importance(ω, D)
    S = _check_S(S)
    _check_cost(D, S)
    n_dead = check_int(n_dead, "n_dead", minimum=0, maximum=D - k)
    dead_bias = check_float(dead_bias, "dead_bias", maximum=0.0)
    if n_dead and dead_bias >= 0:
        raise ValueError(f"dead_bias must be < 0 (a dead feature's ReLU is off), got {dead_bias:g}")
    if start is not None:
        if S is None:
            raise ValueError("start is used only with S (the l <= 2 loss); the 1-sparse roots are "
                             "found by a certified search, not from a starting point")
        start = check_finite_array(start, "start", ndim=1)
        if start.shape != (2,) or start[0] <= 0:
            raise ValueError(f"start must be (r, b) with r > 0, got {start.tolist()}")
    b_d = dropped_bias(D, S)
    out = []
    if S is None:
        if k <= 4:
            cands = [(1.0, 0.0, 0.0, True, 0)]
        else:
            cands = [(fr.r, fr.b, fr.residual, fr.certified, fr.p) for fr in kgon_block_roots(k)]
        for r, b, res, cert, p in cands:
            pt = KGonCriticalPoint(D, k, r, b, b_d, 0.0, 0.0, None, n_dead, dead_bias, res, cert, p)
            W, bb = pt.parameters()
            L = float(_loss_t(torch.as_tensor(W), torch.as_tensor(bb), None))
            out.append(KGonCriticalPoint(D, k, r, b, b_d, L, _grad_norm(W, bb, None), None, n_dead,
                                         dead_bias, res, cert, p))
    else:
        L, x, gn = _solve_family_S(D, k, S, b_d, n_dead, dead_bias, start)
        r, b = float(x[0]), float(x[1])
        pt = KGonCriticalPoint(D, k, r, b, b_d, L, 0.0, S, n_dead, dead_bias, gn, False)
        W, bb = pt.parameters()
        G = rl._gram(torch.as_tensor(W))
        p = int(((G[0, 1:k] + b) > 0).sum()) // 2
        out.append(KGonCriticalPoint(D, k, r, b, b_d, L, _grad_norm(W, bb, S), S, n_dead,
                                     dead_bias, gn, False, p))
    for pt in out:
        if pt.grad_norm > 1e-10:
            warnings.warn(f"k-gon D = {D}, k = {k}: gradient norm {pt.grad_norm:.2e} > 1e-10 at "
                          f"r = {pt.r:.6f}, b = {pt.b:.6f}", RootWarning, stacklevel=2)
    return sorted(out, key=lambda pt: pt.loss)


def kgon_critical_point(D: int, k: int, *, S=None, n_dead: int = 0, dead_bias: float = -1.0,
                        ω=None, start=None) -> KGonCriticalPoint:
    """The lowest-loss critical point of the k-gon family (see :func:`kgon_critical_points`):
    for ``S is None`` the minimiser of ``L_1`` within the family, ``(r, b)`` the same for all
    ``D ≥ k``; for ``S`` given, of the l ≤ 2 loss at that sparsity."""
    return kgon_critical_points(D, k, S=S, n_dead=n_dead, dead_bias=dead_bias,
                                ω=ω, start=start)[0]


def kgon_family(D: int, ks=None, *, S=None) -> list[KGonCriticalPoint]:
    """:func:`kgon_critical_point` for each ``k`` in ``ks`` (default ``2 … D``), for tables."""
    D = check_int(D, "D", minimum=2, maximum=MAX_FEATURES)
    _check_cost(D, _check_S(S))
    if ks is None:
        ks = range(2, D + 1)
    else:
        arr = np.asarray(as_real_array(ks, "ks", "a sequence of integers")) if not isinstance(
            ks, range) else np.asarray(ks)
        if arr.ndim != 1 or np.any(arr != np.round(arr)):
            raise TypeError(f"ks must be a one-dimensional sequence of integers, got {ks!r}")
        ks = [check_int(int(v), "ks", minimum=2, maximum=D) for v in arr]
    return [kgon_critical_point(D, k, S=S) for k in ks]
