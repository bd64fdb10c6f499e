"""Minimising the exact restricted loss of the ReLU output model (Sections 3.1–3.2).

:func:`minimize_restricted_loss` trains ``(W, b)`` on ``Σ_{l ≤ l_max} P_l L_l`` (the closed
forms of :mod:`toymodels.relu.integrals`), and :func:`two_in_one_candidates` compares the
candidate solutions of two features in one dimension (Section 3.2). Both use the one
math-side optimiser loop, :func:`toymodels._optimize.adam_cosine`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from toymodels._checks import check_finite_array, check_float, check_int, check_probability
from toymodels._optimize import adam_cosine
from toymodels.limits import refuse_if_too_big
from toymodels.relu.integrals import _DT, _as_t, _check_params, _restricted_weighted, _skeleton_weights

__all__ = ["minimize_restricted_loss", "two_in_one_candidates"]


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
    weights = _skeleton_weights(St, l_max)  # once: they depend on S only
    adam_cosine([W, b], lambda: _restricted_weighted(W, b, ωt, weights, l_max), steps, lr,
                 zero=np.broadcast_to(ωt.sum(-1).numpy() / 3, (n,)),
                 where="minimize_restricted_loss", unit="restart")
    with torch.no_grad():
        final = _restricted_weighted(W, b, ωt, weights, l_max)
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
    weights = _skeleton_weights(St, 2)

    def loss():
        return _restricted_weighted((torch.exp(αγ) * sign)[:, None, :], b, ω, weights, 2)

    adam_cosine([αγ, b], loss, steps, lr,
                 zero=ω.sum(-1).numpy() / 3, where="two_in_one_candidates",
                 unit="(ratio, S) pair")
    with torch.no_grad():
        W = (torch.exp(αγ) * sign)[:, None, :]
        out["antipodal*"] = _restricted_weighted(W, b, ω, weights, 2).numpy()
    res = {k: v.reshape(shape) for k, v in out.items()}
    res["antipodal*_W"] = W.numpy().reshape(*shape, 1, 2)
    res["antipodal*_b"] = b.detach().numpy().reshape(*shape, 2)
    return res
