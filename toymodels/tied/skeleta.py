"""How many features are active: the law of the skeleta of the sparse data (Section 2.1).

Under ``μ`` feature ``i`` is active (non-zero) with probability ``1 − S_i``, independently. The
cube ``Q = [0, 1]^D`` splits into the skeleta ``Q_l`` (points with exactly ``l`` non-zero
coordinates); this module gives their probabilities, the probabilities of each single feature
and each pair being the only active ones, and exact sampling of ``μ`` conditioned on ``l``.
These weights turn the conditional losses ``L_l`` of :mod:`toymodels.relu.integrals` into the
integral loss ``L = Σ_l P(l active) L_l`` (Section 3.1).
"""

from __future__ import annotations

import numpy as np
import torch

from toymodels._checks import as_rng, check_int, check_probability
from toymodels.limits import refuse_if_too_big
from toymodels.tied.moments import skeleton_probabilities

__all__ = ["active_count_pmf", "higher_skeleta_mass", "subset_probabilities",
           "sample_given_active_count"]

_DT = torch.float64


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
