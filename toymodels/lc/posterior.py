"""Langevin sampling of the posterior of the ReLU output model on 1-sparse data (Chapter 5).

:func:`relu_posterior_draws` runs many Langevin (or, at temperature zero, plain minibatch SGD)
chains side by side on the model ``x ↦ ReLU(WᵀWx + b)`` given ``n`` inputs with exactly one
active feature (the data of Chen et al. 2023), from random starts or from a given ``(W, b)``
(a basin of Chapter 4's ``k``-gons). Chapter 5 uses it to ask whether chains at the posterior's
temperature find the free energy's preferred configuration, and whether they cross between
basins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from toymodels._checks import check_finite_array, check_float, check_int
from toymodels.tied.skeleta import sample_given_active_count
from toymodels.train import models

__all__ = ["PosteriorDraws", "relu_posterior_draws"]

_DT = torch.float64


@dataclass(frozen=True)
class PosteriorDraws:
    """Final states of Langevin (or plain SGD) chains on the ReLU output model, one per chain:
    ``W`` of shape ``(chains, d, D)``, ``b`` of shape ``(chains, D)``, ``loss`` the mean loss
    ``L_n`` of each final state on the data set, and ``history[c, j]`` the loss ``L_n`` of chain
    ``c`` after ``j · record_every`` steps."""

    W: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    history: np.ndarray
    record_every: int
    n: int
    temperature: float


def _start(start, chains, d, D, init_std, g):
    """Initial ``(W, b)`` of every chain: ``start`` (or zero) plus ``N(0, init_std²)`` noise."""
    W = init_std * torch.randn(chains, d, D, generator=g, dtype=_DT)
    b = init_std * torch.randn(chains, D, generator=g, dtype=_DT)
    if start is None:
        return W, b
    if not isinstance(start, (tuple, list)) or len(start) != 2:
        raise TypeError("start must be None or a pair (W, b) of arrays")
    W0 = check_finite_array(start[0], "start[0] (W)")
    b0 = check_finite_array(start[1], "start[1] (b)")
    per_chain = W0.ndim == 3
    if W0.shape != ((chains, d, D) if per_chain else (d, D)) or b0.shape != (
            (chains, D) if per_chain else (D,)):
        raise ValueError(f"start must be (W, b) with W of shape ({d}, {D}) and b of shape "
                         f"({D},), or one of each per chain, ({chains}, {d}, {D}) and "
                         f"({chains}, {D}); got {W0.shape} and {b0.shape}")
    return W + torch.as_tensor(W0), b + torch.as_tensor(b0)


def relu_posterior_draws(D: int, n: int, *, d: int = 2, chains: int = 32, steps: int = 3000,
                         ε: float | None = None, temperature: float = 1.0,
                         batch_size: int | None = 64, prior_std: float = 2.0,
                         init_std: float = 0.3, start=None, record_every: int = 50,
                         seed: int = 0) -> PosteriorDraws:
    """Langevin chains on the posterior of the ReLU output model given ``n`` 1-sparse samples
    (Chapter 5)::

        w ← w − ε/2 (n ∇L_B(w) + w/prior_std²) + √(ε·temperature) ξ,

    ``L_B`` the loss on a minibatch of ``batch_size`` samples (all ``n`` when ``None``).
    ``temperature=1`` targets the posterior ``∝ exp(−n L_n(w)) N(w; 0, prior_std² I)``;
    ``temperature=0`` is plain minibatch SGD with learning rate ``ε n/2`` and a weight decay.
    The default step is ``ε = 0.02/n``. The chains start at ``N(0, init_std²)`` draws, or, with
    ``start=(W, b)``, at ``(W, b)`` plus such a draw (``W`` of shape ``(d, D)`` for every
    chain, or ``(chains, d, D)`` with ``b`` of shape ``(chains, D)``, one start per chain).

    Chains that do not cross between basins weigh each basin by where they start and how they
    fall, not by its posterior mass; Chapter 5 says what that does and does not show.
    """
    D = check_int(D, "D (number of features)", minimum=1, maximum=64)
    d = check_int(d, "d (hidden dimension)", minimum=1, maximum=16)
    n = check_int(n, "n (number of samples)", minimum=2, maximum=2_000_000)
    chains = check_int(chains, "chains", minimum=1, maximum=4096)
    steps = check_int(steps, "steps", minimum=1, maximum=10**6)
    B = n if batch_size is None else check_int(batch_size, "batch_size", minimum=1, maximum=n)
    if float(chains) * steps * B * D > 2e11:
        raise ValueError(f"chains × steps × batch × D = {float(chains) * steps * B * D:.3g} "
                         f"exceeds 2e11 (minutes of CPU time); use fewer chains or steps")
    ε = 0.02 / n if ε is None else check_float(ε, "ε", positive=True)
    temperature = check_float(temperature, "temperature", minimum=0.0)
    prior_std = check_float(prior_std, "prior_std", positive=True)
    init_std = check_float(init_std, "init_std", minimum=0.0)
    record_every = check_int(record_every, "record_every", minimum=1, maximum=steps)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(sample_given_active_count(n, np.full(D, 0.5), 1, rng=rng))
    g = torch.Generator().manual_seed(seed)
    W, b = _start(start, chains, d, D, init_std, g)
    s = math.sqrt(ε * temperature)
    full = x.unsqueeze(0).expand(chains, n, D)

    def full_loss(W, b):
        with torch.no_grad():
            return models.loss("relu", {"W": W, "b": b}, full, 1.0)

    history = [full_loss(W, b)]
    for t in range(1, steps + 1):
        xb = full if B == n else x[torch.randint(n, (chains, B), generator=g)]
        W.requires_grad_(True)
        b.requires_grad_(True)
        L = models.loss("relu", {"W": W, "b": b}, xb, 1.0)
        gW, gb = torch.autograd.grad(L.sum(), (W, b))
        with torch.no_grad():
            W = W - 0.5 * ε * (n * gW + W / prior_std**2)
            b = b - 0.5 * ε * (n * gb + b / prior_std**2)
            if s > 0:
                W = W + s * torch.randn(W.shape, generator=g, dtype=_DT)
                b = b + s * torch.randn(b.shape, generator=g, dtype=_DT)
        if t % record_every == 0:
            history.append(full_loss(W, b))
    if not (torch.isfinite(W).all() and torch.isfinite(b).all()):
        raise FloatingPointError(f"the chains diverged: the step ε = {ε:g} is too large for "
                                 f"n = {n}; decrease ε")
    hist = torch.stack(history, dim=1).numpy()
    return PosteriorDraws(W=W.detach().numpy(), b=b.detach().numpy(), loss=hist[:, -1],
                          history=hist, record_every=record_every, n=n,
                          temperature=temperature)
