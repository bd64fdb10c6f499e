"""Hessians of the ReLU output model's exact low-order losses at critical points (Chapter 4).

The parameters are flattened as ``θ = (W[0, :], …, W[d−1, :], b)`` (``W`` row by row, then the
bias): ``n = (d + 1) D`` numbers. The losses are those of :mod:`toymodels.relu.loss`:

* ``S is None``: the 1-sparse loss ``L_1`` (Chapter 3, eq-ell-i), importance ``ω``;
* ``S`` given: the restricted loss ``Σ_{l ≤ l_max} P_l L_l`` (``l_max = 2`` by default).

**Where the loss is not twice differentiable.** Every term is an integral of
``h(αu + βv + γ)`` with ``h = ReLU²`` (or the reconstruction error ``(u − ReLU(·))²``) over a
square or an edge. ``h`` is ``C¹`` with a jump in ``h''`` at ``0``; after integration the jump
is smoothed out *unless* the whole argument vanishes on a set of positive measure, i.e.
``α = β = γ = 0``. So the loss is ``C²`` except where, for some features ``k ≠ i``,
``⟨w_k, w_i⟩ = 0`` and ``b_k = 0`` (the 1-sparse loss; the l ≤ 2 loss has the same condition),
or ``‖w_i‖ = 0`` and ``b_i = 0``. :func:`kinks` lists those pairs. At a kink, autograd returns
the one-sided second derivative of the branch ``ReLU'(0) = 0`` (the dead side); the report
flags it, and the classification there is one-sided.

**Null directions.** The loss is invariant under ``W ↦ QW`` for orthogonal ``Q`` (the hidden
space has no preferred basis), so ``δW = AW``, ``A`` antisymmetric, is always in the null space
at a critical point. A *dead* feature ``j`` (``w_j = 0``, ``b_j < 0``) has output ``0`` on every
input near ``θ``: its bias is a null direction, and so are its weights when no other feature's
ReLU can switch on along them (the 1-sparse loss with every other bias negative).
:func:`symmetry_directions` returns these candidates; :func:`analyse_critical_point` checks
which are null and whether they span the numerical null space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from toymodels._checks import check_finite_array, check_float, check_importance, check_int
from toymodels.relu import integrals as rl

__all__ = [
    "MAX_PARAMETERS",
    "MAX_HESSIAN_COST",
    "flatten",
    "unflatten",
    "loss_gradient",
    "loss_hessian",
    "kinks",
    "symmetry_directions",
    "second_order_test",
    "CriticalPointReport",
    "analyse_critical_point",
]

#: The largest number of parameters ``(d + 1) D`` whose Hessian is computed.
MAX_PARAMETERS = 400
#: The largest cost ``n · D³`` (parameters times pair integrals) of one Hessian.
MAX_HESSIAN_COST = 5_000_000
_DT = torch.float64


def _check_Wb(W, b):
    W = check_finite_array(W, "W", ndim=2)
    b = check_finite_array(b, "b", ndim=1)
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"b must have shape (D,) with D = {W.shape[1]} (the columns of W), got {b.shape}")
    if W.shape[1] < 2:
        raise ValueError(f"W must have at least 2 feature columns, got shape {W.shape}")
    n = W.size + b.size
    cost = n * W.shape[1] ** 3
    if n > MAX_PARAMETERS or cost > MAX_HESSIAN_COST:
        raise ValueError(f"W and b have {n} parameters and D = {W.shape[1]} features; the Hessian is "
                         f"limited to MAX_PARAMETERS = {MAX_PARAMETERS} and n·D³ <= "
                         f"MAX_HESSIAN_COST = {MAX_HESSIAN_COST:.0e} (here n·D³ = {cost:.1e} closed-form "
                         f"evaluations, several minutes or more)")
    return W, b


def _check_loss_args(D, S, ω, l_max):
    if S is not None:
        S = check_float(S, "S (sparsity)", minimum=0.0, maximum=1.0)
        if not 0 < S < 1:
            raise ValueError(f"S (sparsity) must lie strictly between 0 and 1, got {S:g}")
    l_max = check_int(l_max, "l_max", minimum=1, maximum=2)
    ω = np.ones(D) if ω is None else check_importance(ω)
    if ω.ndim == 0:
        ω = np.full(D, float(ω))
    if ω.shape != (D,) or np.any(ω < 0):
        raise ValueError(f"ω (importance) must be a non-negative scalar or have shape ({D},), got {ω.shape}")
    return S, torch.as_tensor(ω), l_max


def rotation_directions(W) -> list[np.ndarray]:
    """The tangent directions ``(A W, 0)`` of the hidden-layer rotations ``W ↦ e^{tA} W`` at
    ``(W, b)``, one per generator ``A = E_ij − E_ji`` (``i < j``) of ``so(d)``, flattened as
    :func:`flatten` does; the loss is invariant along each (the model sees only ``WᵀW``)."""
    d, D = W.shape
    out = []
    for i in range(d):
        for j in range(i + 1, d):
            A = np.zeros((d, d))
            A[i, j], A[j, i] = -1.0, 1.0
            out.append(np.concatenate([(A @ W).ravel(), np.zeros(D)]))
    return out


def flatten(W, b) -> np.ndarray:
    """``θ = (W[0, :], …, W[d−1, :], b)`` as one float64 vector of length ``(d + 1) D``."""
    W, b = _check_Wb(W, b)
    return np.concatenate([W.ravel(), b])


def unflatten(θ, d: int, D: int):
    """The inverse of :func:`flatten`: ``(W (d, D), b (D,))``."""
    d = check_int(d, "d", minimum=1)
    D = check_int(D, "D", minimum=2)
    θ = check_finite_array(θ, "θ", ndim=1)
    if θ.size != (d + 1) * D:
        raise ValueError(f"θ must have length (d + 1) D = {(d + 1) * D}, got {θ.size}")
    return θ[: d * D].reshape(d, D), θ[d * D :].copy()


def _loss_fn(d, D, S, ω, l_max):
    g = rl._loss_closure(D, S, ω, l_max)
    return lambda θ: g(θ[: d * D].reshape(d, D), θ[d * D :])


def _value_grad_hess(f, x):
    """``(f(x), ∇f(x), ∇²f(x))`` of a scalar torch function of a float64 vector, exact
    (``torch.func``: reverse-over-reverse, one pass; several times faster than
    ``torch.autograd.functional.hessian`` on the closed-form losses)."""
    from torch.func import grad_and_value, jacrev

    def g_aux(v):
        g, L = grad_and_value(f)(v)
        return g, (g, L)

    H, (g, L) = jacrev(g_aux, has_aux=True)(x)
    return float(L), g.detach().numpy(), H.detach().numpy()


def loss_gradient(W, b, *, S=None, ω=None, l_max: int = 2) -> np.ndarray:
    """The gradient of ``L_1`` (``S is None``) or of ``Σ_{l ≤ l_max} P_l L_l`` in ``θ``."""
    W, b = _check_Wb(W, b)
    S, ω, l_max = _check_loss_args(W.shape[1], S, ω, l_max)
    θ = torch.as_tensor(np.concatenate([W.ravel(), b])).requires_grad_()
    (g,) = torch.autograd.grad(_loss_fn(*W.shape, S, ω, l_max)(θ), θ)
    return g.numpy()


def loss_hessian(W, b, *, S=None, ω=None, l_max: int = 2) -> np.ndarray:
    """The ``n × n`` Hessian (float64, torch autograd of the closed forms) of ``L_1``
    (``S is None``) or of ``Σ_{l ≤ l_max} P_l L_l`` in ``θ`` (see :func:`flatten`). At a kink
    (:func:`kinks`) this is the one-sided Hessian of the dead branch."""
    W, b = _check_Wb(W, b)
    S, ω, l_max = _check_loss_args(W.shape[1], S, ω, l_max)
    θ = torch.as_tensor(np.concatenate([W.ravel(), b]))
    H = _value_grad_hess(_loss_fn(*W.shape, S, ω, l_max), θ)[2]
    return (H + H.T) / 2


def kinks(W, b, tol: float = 1e-9) -> list[tuple[int, int]]:
    """Pairs ``(k, i)`` where the loss is not twice differentiable: ``k ≠ i`` with
    ``|⟨w_k, w_i⟩| ≤ tol`` and ``|b_k| ≤ tol``, or ``k = i`` with ``‖w_i‖² ≤ tol``, ``|b_i| ≤ tol``."""
    W, b = _check_Wb(W, b)
    tol = check_float(tol, "tol", minimum=0.0)
    G = W.T @ W
    K = (np.abs(G) <= tol) & (np.abs(b)[:, None] <= tol)
    return [(int(k), int(i)) for k, i in zip(*np.nonzero(K), strict=True)]


def symmetry_directions(W, b, *, S=None) -> dict[str, np.ndarray]:
    """Candidate null directions of the Hessian at ``(W, b)``, as rows of arrays (unit norm):

    * ``"rotation"``: ``δW = A W`` for the ``d(d−1)/2`` antisymmetric generators ``A``
      (orthonormalised; those with ``AW = 0`` dropped);
    * ``"dead bias"``: ``δb_j`` for each dead feature (``w_j = 0``, ``b_j < 0``);
    * ``"dead weight"``: ``δw_j`` of a dead feature, for the 1-sparse loss (``S is None``) when
      every feature with ``w_i ≠ 0`` has ``b_i < 0`` (no ReLU can switch on along ``δw_j``).
    """
    W, b = _check_Wb(W, b)
    d, D = W.shape
    n = (d + 1) * D
    rot = rotation_directions(W)
    out = {"rotation": np.zeros((0, n)), "dead bias": np.zeros((0, n)), "dead weight": np.zeros((0, n))}
    if rot:
        R = np.array(rot)
        U, s, Vt = np.linalg.svd(R, full_matrices=False)
        out["rotation"] = Vt[s > 1e-12 * max(s.max(), 1e-300)]
    norms = np.linalg.norm(W, axis=0)
    dead = np.flatnonzero((norms == 0) & (b < 0))
    eye = np.eye(n)
    out["dead bias"] = eye[d * D + dead]
    live = norms > 0
    if S is None and dead.size and np.all(b[live] < 0):
        out["dead weight"] = np.concatenate([eye[[r * D + j for r in range(d)]] for j in dead])
    return out


def second_order_test(W, b, *, S=None, ω=None, l_max: int = 2, eps: float = 1e-4,
                      starts=None, n_random: int = 2, seed: int = 0):
    """Minimise the second-order change ``q(v) = 2 (L(θ + εv) − L(θ)) / ε²`` over unit ``v``.

    At a kink the loss along a line is still twice differentiable from each side, so ``q`` is
    the (one-sided) curvature in direction ``v`` even where no Hessian exists. L-BFGS on the
    sphere (autograd gradients) from ``starts`` (rows; default: the eigenvectors of the three
    smallest eigenvalues of :func:`loss_hessian`) and ``n_random`` random directions. Returns
    ``(q_min, v_min, descent)`` with ``descent = L(θ + εv) − L(θ)`` along the best ``v`` (a
    negative value is an explicit descent direction: the point is not a local minimum).
    """
    W, b = _check_Wb(W, b)
    S, ω, l_max = _check_loss_args(W.shape[1], S, ω, l_max)
    eps = check_float(eps, "eps", positive=True, maximum=1e-1)
    n_random = check_int(n_random, "n_random", minimum=0, maximum=100)
    seed = check_int(seed, "seed", minimum=0)
    from scipy.optimize import minimize

    f = _loss_fn(*W.shape, S, ω, l_max)
    θ0 = torch.as_tensor(np.concatenate([W.ravel(), b]))
    L0 = float(f(θ0))
    n = θ0.numel()

    def q(x):
        v = torch.as_tensor(x).requires_grad_()
        val = 2 * (f(θ0 + eps * v / v.norm()) - L0) / eps**2
        (g,) = torch.autograd.grad(val, v)
        return float(val.detach()), g.numpy()

    if starts is None:
        _, V = np.linalg.eigh(loss_hessian(W, b, S=S, ω=ω, l_max=l_max))
        starts = V[:, :3].T
    starts = list(check_finite_array(starts, "starts", ndim=2))
    rng = np.random.default_rng(seed)
    starts += list(rng.normal(size=(n_random, n)))
    best = (np.inf, None)
    for x0 in starts:
        res = minimize(q, x0, jac=True, method="L-BFGS-B", options=dict(maxiter=60))
        if res.fun < best[0]:
            best = (float(res.fun), res.x / np.linalg.norm(res.x))
    v = best[1]
    descent = float(f(θ0 + eps * torch.as_tensor(v))) - L0
    return best[0], v, descent


@dataclass(frozen=True)
class CriticalPointReport:
    """What the Hessian says at a critical point.

    ``eigenvalues`` ascending; ``null_tol`` the threshold on ``|λ|`` for the null space;
    ``morse_index`` the number of eigenvalues below ``−null_tol``; ``null_dim`` the number within
    ``null_tol``; ``explained`` maps each symmetry family of :func:`symmetry_directions` to how many
    of its directions are null (``‖H v‖ ≤ null_tol``); ``null_explained`` whether those directions
    span the whole null space; ``kind`` is ``"minimum"`` (index 0) or ``"saddle"``. At a kink
    (``kinks`` from :func:`kinks`) the Hessian is one-sided, so the kind comes from
    :func:`second_order_test` instead: ``"saddle (kink)"`` when it finds an explicit descent
    direction, ``"minimum? (kink)"`` when the smallest curvature it finds is ``≥ −null_tol``.
    ``margin`` is the smallest positive eigenvalue for a minimum and the most negative one for a
    saddle (at a kink: the smallest curvature ``q`` found)."""

    eigenvalues: np.ndarray
    grad_norm: float
    null_tol: float
    morse_index: int
    null_dim: int
    explained: dict
    null_explained: bool
    kind: str
    margin: float
    kinks: tuple

    @property
    def n_positive(self) -> int:
        return int(len(self.eigenvalues) - self.morse_index - self.null_dim)


def analyse_critical_point(W, b, *, S=None, ω=None, l_max: int = 2,
                           null_tol: float = 1e-9, H=None) -> CriticalPointReport:
    """Eigenvalues, Morse index, null space (explained by :func:`symmetry_directions`) and the
    kind of the critical point ``(W, b)`` of ``L_1`` (``S is None``) or of the l ≤ ``l_max`` loss.
    ``H`` may be passed to reuse a Hessian from :func:`loss_hessian`."""
    W, b = _check_Wb(W, b)
    null_tol = check_float(null_tol, "null_tol", positive=True)
    if H is None:
        H = loss_hessian(W, b, S=S, ω=ω, l_max=l_max)
    else:
        H = check_finite_array(H, "H", ndim=2)
        if H.shape != (W.size + b.size,) * 2:
            raise ValueError(f"H must have shape ({W.size + b.size}, {W.size + b.size}), got {H.shape}")
    g = loss_gradient(W, b, S=S, ω=ω, l_max=l_max)
    lam, V = np.linalg.eigh(H)
    null = np.abs(lam) <= null_tol
    index = int(np.sum(lam < -null_tol))
    sym = symmetry_directions(W, b, S=S)
    explained, kept = {}, []
    for name, dirs in sym.items():
        ok = [v for v in dirs if np.linalg.norm(H @ v) <= null_tol]
        explained[name] = len(ok)
        kept.extend(ok)
    N = V[:, null]
    if kept:
        C = np.linalg.qr(np.array(kept).T)[0]
        resid = np.linalg.norm(N - C @ (C.T @ N)) if N.size else 0.0
        rank = np.linalg.matrix_rank(np.array(kept), tol=1e-8)
    else:
        resid, rank = (np.inf if N.size else 0.0), 0
    null_explained = bool(rank == N.shape[1] and resid < 1e-6)
    kk = tuple(kinks(W, b))
    kind = "minimum" if index == 0 else "saddle"
    pos = lam[lam > null_tol]
    margin = float(pos.min()) if index == 0 and pos.size else float(lam.min())
    if kk:
        q_min, _, descent = second_order_test(W, b, S=S, ω=ω, l_max=l_max,
                                              starts=V[:, :3].T)
        kind = "saddle (kink)" if (q_min < -null_tol and descent < 0) else "minimum? (kink)"
        margin = q_min
    return CriticalPointReport(lam, float(np.linalg.norm(g)), null_tol, index, int(null.sum()),
                               explained, null_explained, kind, margin, kk)
