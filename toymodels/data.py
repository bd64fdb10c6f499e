"""The sparse synthetic data of Section 2.1 of the notes (the Toy Models data).

Each feature is ``X_i = B_i · U_i`` with ``B_i ~ Bernoulli(1 - S_i)`` and
``U_i ~ Uniform[0, 1]``, all independent. ``S`` is the *sparsity*: the probability
that a feature is zero.

Both samplers use one uniform draw ``u`` per entry instead of two:
``x = max(u - S, 0) / (1 - S)``. This has exactly the law above, since
``P(x = 0) = P(u ≤ S) = S`` and, given ``u > S``, ``(u - S)/(1 - S)`` is uniform on
``(0, 1]``; it halves the random numbers drawn, which is most of the cost of a batch.
"""

from __future__ import annotations

import numpy as np
import torch

from ._checks import check_int, check_probability

__all__ = ["sparse_uniform", "sparse_uniform_torch", "sparsity_grid"]


def _transform_numpy(u: np.ndarray, S: np.ndarray) -> np.ndarray:
    p = 1.0 - S
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(p > 0, np.maximum(u - S, 0.0) / np.where(p > 0, p, 1.0), 0.0)
    return x


def sparse_uniform(T: int, D: int, S=0.0, *, rng: np.random.Generator | int | None = None,
                   instances: int | None = None) -> np.ndarray:
    """Draw ``T`` iid samples of the sparse uniform data in float64 (numpy).

    Parameters
    ----------
    T, D : positive integers, number of samples and of features.
    S : sparsity in ``[0, 1]``: a scalar, a per-feature vector of shape ``(D,)``, or,
        with ``instances``, an array broadcasting to ``(instances, D)``.
    rng : a numpy ``Generator`` or a seed.
    instances : when given, a leading axis of independent instances: shape
        ``(instances, T, D)``; otherwise ``(T, D)``.
    """
    T = check_int(T, "T", minimum=1)
    D = check_int(D, "D", minimum=1)
    if instances is None:
        S = check_probability(S, "S", shape=(D,))
        shape, S_b = (T, D), np.broadcast_to(S, (D,))
    else:
        instances = check_int(instances, "instances", minimum=1)
        S = check_probability(S, "S", shape=(instances, D))
        shape, S_b = (instances, T, D), np.broadcast_to(S, (instances, D))[:, None, :]
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return _transform_numpy(rng.random(shape), S_b)


def sparse_uniform_torch(T: int, D: int, S=0.0, *, instances: int | None = None,
                         generator: torch.Generator | None = None, device=None,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Torch version of :func:`sparse_uniform`, on any device.

    ``S`` may also be a tensor. Shape ``(T, D)``, or ``(instances, T, D)`` when
    ``instances`` is given (the leading instance axis of the batched trainer).
    """
    from .environment import choose_device

    T = check_int(T, "T", minimum=1)
    D = check_int(D, "D", minimum=1)
    device = choose_device(device) if generator is None else generator.device
    if instances is None:
        S_np = check_probability(S, "S", shape=(D,))
        shape, S_shape = (T, D), (D,)
    else:
        instances = check_int(instances, "instances", minimum=1)
        S_np = check_probability(S, "S", shape=(instances, D))
        shape, S_shape = (instances, T, D), (instances, 1, D)
    S_t = torch.as_tensor(np.broadcast_to(S_np, S_shape[:1] + S_shape[2:]).copy(), dtype=dtype,
                          device=device).reshape(S_shape)
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    p = 1 - S_t
    scale = torch.where(p > 0, 1 / p.clamp_min(torch.finfo(dtype).tiny), torch.zeros_like(p))
    return (u - S_t).clamp_(min=0).mul_(scale)


def sparsity_grid(n: int, *, low: float = 0.0, high: float = 0.99, log: bool = True) -> np.ndarray:
    """``n`` sparsities from ``low`` to ``high``; with ``log`` the *density* ``1 - S``
    is spaced geometrically, as in the Toy Models sweeps."""
    n = check_int(n, "n", minimum=1)
    check_probability(np.array([low, high]), "low/high")
    if not low <= high:
        raise ValueError(f"low must be <= high, got low={low}, high={high}")
    if not log:
        return np.linspace(low, high, n)
    return 1 - np.geomspace(1 - low, 1 - high, n) if high < 1 else np.linspace(low, high, n)
