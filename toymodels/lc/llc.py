"""Estimating the local learning coefficient by SGLD (Chapter 5).

The local learning coefficient ``λ(w*)`` of a loss ``L`` at a local minimum ``w*`` measures
how fast the volume of ``{w near w* : L(w) − L(w*) < ε}`` shrinks as ``ε → 0``; the Bayesian
free energy of the neighbourhood is ``F_n ≈ n L(w*) + λ log n``. This module estimates it as
in Lau, Furman, Wang, Murfet & Wei (2023)::

    λ̂(w*) = n β ( E_w[L_n(w)] − L_n(w*) ),     β = 1 / log n,                    (5.1)

where the expectation is over the *localised tempered posterior*
``p(w) ∝ exp(−n β L_n(w) − γ/2 ‖w − w*‖²)``, sampled by stochastic-gradient Langevin
dynamics (SGLD) with step ``ε``::

    w ← w − ε/2 ( γ (w − w*) + n β ∇L_B(w) ) + √ε ξ,   ξ ~ N(0, I),               (5.2)

``L_B`` the loss on a minibatch ``B``. Many chains run side by side (one tensor, leading
chain axis); the first ``burn_in`` draws of each chain are discarded. Two control variates
use the same minibatch at ``w*``: the expectation in (5.1) averages ``L_B(w) − L_B(w*)``
(same mean as ``L_n(w) − L_n(w*)``, far smaller variance when the per-sample losses at ``w*``
vary), and the gradient in (5.2) is ``∇L_B(w) − ∇L_B(w*) + ∇L_n(w*)`` (Baker, Fearnhead, Fox
& Nemeth 2019): unbiased, with a variance that vanishes at ``w*``. Without it the minibatch
noise of the per-sample gradients, which do not vanish at ``w*`` when the loss there is
positive, heats the chains and inflates the estimate.

The estimator is only trustworthy when the chains stay near ``w*`` and ``w*`` is a local
minimum; :func:`sgld_llc` refuses a ``w*`` whose gradient could bias (5.1) by more than a set
amount, raises :class:`ChainDivergedError` on a non-finite or runaway chain, and returns (and
warns with :class:`LLCWarning`) diagnostics for chains that drift, estimates below zero or
above the bound ``d/2``.

The package implements the sampler itself rather than calling ``devinterp`` (Chapter 5 says
why): these models need a dozen lines, with every chain, and every seed, in one tensor.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from toymodels._checks import check_finite_array, check_float, check_int

__all__ = ["LLCEstimate", "LLCWarning", "ChainDivergedError", "sgld_llc", "default_beta",
           "pool_estimates", "MAX_WORK"]

#: refuse runs whose cost ``chains × steps × batch_size × (number of parameters)`` exceeds this
MAX_WORK = 2e10


class LLCWarning(UserWarning):
    """An SGLD estimate whose diagnostics failed (see :attr:`LLCEstimate.diagnostics`)."""


class ChainDivergedError(RuntimeError):
    """An SGLD chain produced a non-finite loss or ran away from ``w*``."""


def default_beta(n: int) -> float:
    """The inverse temperature ``β = 1/log n`` of (5.1) (Watanabe's WBIC temperature)."""
    n = check_int(n, "n", minimum=2)
    return 1.0 / math.log(n)


@dataclass(frozen=True)
class LLCEstimate:
    """The result of :func:`sgld_llc`.

    ``llc`` is the mean over chains of the per-chain estimates (5.1), ``stderr`` their standard
    deviation over ``√chains``. ``loss_trace[c, t]`` is ``L_B(w_t) − L_B(w*)`` of chain ``c``
    at draw ``t`` (burn-in included), ``distance_trace[c, t]`` is ``‖w_t − w*‖²``.
    ``diagnostics`` lists every check that failed (empty when all passed).
    """

    llc: float
    stderr: float
    per_chain: np.ndarray
    loss_trace: np.ndarray
    distance_trace: np.ndarray
    init_loss: float
    grad_norm: float
    n: int
    β: float
    ε: float
    γ: float
    burn_in: int
    batch_size: int
    dim: int
    diagnostics: tuple[str, ...] = field(default_factory=tuple)
    groups: int = 1

    @property
    def per_group(self) -> np.ndarray:
        """The estimate (5.1) of each of the ``groups`` independent problems (seeds) of the run:
        the mean of its chains' estimates."""
        return self.per_chain.reshape(self.groups, -1).mean(axis=1)

    @property
    def group_stderr(self) -> float:
        """The standard error of :attr:`llc` from the spread between groups (seeds):
        ``std(per_group)/√groups`` (``nan`` for a single group)."""
        if self.groups < 2:
            return float("nan")
        return float(self.per_group.std(ddof=1) / math.sqrt(self.groups))

    @property
    def nβ(self) -> float:
        return self.n * self.β

    @property
    def ok(self) -> bool:
        """True when no diagnostic fired."""
        return not self.diagnostics

    @property
    def chains(self) -> int:
        return int(self.per_chain.size)

    def running(self) -> np.ndarray:
        """Per-chain running estimate ``nβ · mean_{burn_in ≤ s ≤ t}(L_B(w_s) − L_B(w*))``,
        shape ``(chains, steps − burn_in)``: the λ̂ traces of Chapter 5."""
        post = self.loss_trace[:, self.burn_in:]
        return self.nβ * np.cumsum(post, axis=1) / np.arange(1, post.shape[1] + 1)

    def __str__(self) -> str:
        flag = "" if self.ok else f"  [{len(self.diagnostics)} diagnostic(s) failed]"
        return f"λ̂ = {self.llc:.3f} ± {self.stderr:.3f} ({self.chains} chains){flag}"


def pool_estimates(estimates) -> tuple[float, float]:
    """Pool several :class:`LLCEstimate` runs (e.g. one per seed) of the same ``λ``: the mean of
    all their per-chain estimates (5.1) and its standard error over all chains."""
    if isinstance(estimates, LLCEstimate):
        estimates = [estimates]
    estimates = list(estimates) if isinstance(estimates, (list, tuple)) else None
    if not estimates or not all(isinstance(e, LLCEstimate) for e in estimates):
        raise TypeError("estimates must be an LLCEstimate or a non-empty list of them")
    chains = np.concatenate([e.per_chain for e in estimates])
    return float(chains.mean()), float(chains.std(ddof=1) / math.sqrt(chains.size))


def _check_data(data, groups: int):
    """The data tensors with a leading group axis ``(groups, n, ...)``, and ``n``."""
    if isinstance(data, torch.Tensor):
        data = (data,)
    if not isinstance(data, (tuple, list)) or not data:
        raise TypeError(f"data must be a torch tensor or a non-empty tuple of tensors with a "
                        f"common leading (sample) axis, got {type(data).__name__}")
    out = []
    for i, t in enumerate(data):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"data[{i}] must be a torch tensor, got {type(t).__name__}")
        if t.ndim == 0 or t.is_complex() or not t.is_floating_point():
            raise TypeError(f"data[{i}] must be a real floating tensor with a sample axis, got "
                            f"dtype {t.dtype} and shape {tuple(t.shape)}")
        if groups > 1 and (t.ndim < 2 or t.shape[0] != groups):
            raise ValueError(f"data[{i}] must have shape ({groups}, n, ...) (one data set per row "
                             f"of w_star), got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise ValueError(f"data[{i}] contains NaN or inf; only finite values are allowed")
        out.append((t if groups > 1 else t.unsqueeze(0)).to(torch.float64))
    n = out[0].shape[1]
    if any(t.shape[1] != n for t in out):
        raise ValueError(f"data tensors must share their sample axis, got lengths "
                         f"{[t.shape[1] for t in out]}")
    if n < 2:
        raise ValueError(f"data must hold at least 2 samples, got {n}")
    return tuple(out), n


def _full_loss(loss_fn, w: torch.Tensor, data, chunk: int = 65536):
    """``L_n(w)`` and its gradient for a single parameter vector ``w`` of shape ``(P,)``."""
    w = w.detach().clone().requires_grad_(True)
    if data is None:
        total = loss_fn(w.unsqueeze(0), None).reshape(())
        (g,) = torch.autograd.grad(total, w)
        return float(total.detach()), g
    n = data[0].shape[0]
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, n, chunk):
        part = tuple(t[start:start + chunk].unsqueeze(0) for t in data)
        value = loss_fn(w.unsqueeze(0), part)
        total = total + value.reshape(()) * part[0].shape[1]
    total = total / n
    (g,) = torch.autograd.grad(total, w)
    return float(total.detach()), g


def _check_w_star(w_star, data):
    """``w_star`` as a ``(groups, P)`` array (one row per independent problem)."""
    w0 = check_finite_array(w_star, "w_star")
    if w0.ndim not in (1, 2):
        raise ValueError(f"w_star must have shape (P,) or (groups, P), got {w0.shape}")
    if w0.ndim == 2 and data is None and w0.shape[0] > 1:
        raise ValueError("w_star with several rows needs data with one data set per row; with "
                         "data=None (an exact loss) give a single w_star of shape (P,)")
    w0 = w0.reshape(-1, w0.shape[-1])
    if w0.size == 0:
        raise ValueError("w_star must have at least one parameter and one row")
    return w0


def sgld_llc(loss_fn, w_star, data, *, n: int | None = None, β: float | None = None,
             ε: float = 1e-3, γ: float = 100.0, chains: int = 8, steps: int = 2000,
             burn_in: int = 500, batch_size: int = 256, seed: int = 0,
             max_gradient_bias: float = 0.5, warn: bool = True) -> LLCEstimate:
    """Estimate the local learning coefficient at ``w_star`` by SGLD, (5.1)–(5.2) of Chapter 5.

    ``loss_fn(w, batch)`` takes parameters ``w`` of shape ``(C, P)`` (one row per chain) and a
    tuple ``batch`` of tensors of shape ``(C, B, ...)`` (each chain's own minibatch of the
    ``data`` tensors), and returns the mean per-sample loss of each chain, shape ``(C,)``,
    differentiable in ``w``. It is the negative log-likelihood per sample up to a constant
    (for squared error with unit noise, half the squared error; any fixed scale only rescales
    ``n``). ``data``: a tensor or tuple of tensors with a common sample axis of length ``n``
    (``n`` may be overridden to set the sample size of (5.1) separately). ``β`` defaults to
    ``1/log n``.

    Independent seeds in one run: ``w_star`` of shape ``(G, P)`` and data tensors of shape
    ``(G, n, ...)`` give ``G`` problems (e.g. one data set per seed) sampled side by side;
    ``chains`` (a multiple of ``G``) are split evenly, chain ``c`` belonging to problem
    ``c // (chains/G)``; :attr:`LLCEstimate.per_group` holds each problem's estimate.

    Refuses (``ValueError``) a step with ``εγ ≥ 2`` (the localisation alone is unstable), and a
    ``w_star`` whose full-data gradient ``g`` could shift (5.1) by more than
    ``max_gradient_bias``: the bound ``(nβ‖g‖)²/γ``. Raises :class:`ChainDivergedError` when a
    chain's loss turns non-finite or a chain leaves the ball of radius ``10√(P/γ)``. Other
    failed checks are listed in the result's ``diagnostics`` (and warned about with
    :class:`LLCWarning` unless ``warn=False``).
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable (w, batch) -> per-chain losses, got "
                        f"{type(loss_fn).__name__}")
    w0 = _check_w_star(w_star, data)
    G, P = w0.shape
    if data is None:  # an exact (population) loss: loss_fn(w, None), no minibatches
        if n is None:
            raise ValueError("n (the sample size of (5.1)) is required when data is None")
        n_data = None
    else:
        data, n_data = _check_data(data, G)
    n = n_data if n is None else check_int(n, "n", minimum=2, maximum=10**12)
    β = default_beta(n) if β is None else check_float(β, "β", positive=True)
    ε = check_float(ε, "ε", positive=True)
    γ = check_float(γ, "γ", positive=True)
    chains = check_int(chains, "chains", minimum=max(2, G), maximum=4096)
    if chains % G:
        raise ValueError(f"chains = {chains} must be a multiple of the {G} rows of w_star")
    steps = check_int(steps, "steps", minimum=2, maximum=10**7)
    burn_in = check_int(burn_in, "burn_in", minimum=0, maximum=steps - 1)
    batch_size = check_int(batch_size, "batch_size", minimum=1,
                           maximum=10**7 if n_data is None else n_data)
    if n_data is None:  # no minibatches: batch_size is not used
        batch_size = 1
    seed = check_int(seed, "seed", minimum=0)
    max_gradient_bias = check_float(max_gradient_bias, "max_gradient_bias", positive=True)
    work = float(chains) * steps * batch_size * P
    if work > MAX_WORK:
        raise ValueError(f"chains × steps × batch_size × parameters = {work:.3g} exceeds the "
                         f"limit {MAX_WORK:.3g} (about {work / 2e8:.0f} s on one CPU core); "
                         f"use fewer chains, steps or a smaller batch")
    if ε * γ >= 2:
        raise ValueError(f"ε·γ = {ε * γ:.3g} ≥ 2: the step ε = {ε:g} is too large for the "
                         f"localisation γ = {γ:g} (the update (5.2) overshoots w* and diverges); "
                         f"use ε < 2/γ, better ε ≤ 0.2/γ")
    nβ = n * β
    w_star_t = torch.as_tensor(w0, dtype=torch.float64)
    init, g_star = _reference(loss_fn, w_star_t, data, nβ, γ, max_gradient_bias)
    lt, dt = _run_chains(loss_fn, w_star_t, g_star, data, init, chains=chains, steps=steps,
                         batch_size=batch_size, ε=ε, γ=γ, nβ=nβ, seed=seed)
    per_chain = nβ * lt[:, burn_in:].mean(axis=1)
    llc = float(per_chain.mean())
    stderr = float(per_chain.std(ddof=1) / math.sqrt(chains))
    diagnostics = _diagnose(per_chain, llc, stderr, lt, dt, burn_in, P, γ, ε, nβ)
    if diagnostics and warn:
        warnings.warn("SGLD estimate failed checks: " + "; ".join(diagnostics), LLCWarning,
                      stacklevel=2)
    return LLCEstimate(llc=llc, stderr=stderr, per_chain=per_chain, loss_trace=lt,
                       distance_trace=dt, init_loss=float(np.mean(init)),
                       grad_norm=float(g_star.norm(dim=1).max()), n=n, β=β, ε=ε, γ=γ,
                       burn_in=burn_in, batch_size=batch_size, dim=P,
                       diagnostics=tuple(diagnostics), groups=G)


def _reference(loss_fn, w_star, data, nβ, γ, max_gradient_bias):
    """``L_n(w*)`` and ``∇L_n(w*)`` of each problem (row of ``w_star``); refuses a ``w*`` whose
    gradient could bias (5.1) by more than ``max_gradient_bias``."""
    losses, grads = [], []
    for i, w in enumerate(w_star):
        value, g = _full_loss(loss_fn, w, None if data is None else tuple(t[i] for t in data))
        if not math.isfinite(value):
            raise ValueError(f"loss_fn is not finite at w_star (L_n(w*) = {value})")
        grad_norm = float(g.norm())
        bias = (nβ * grad_norm) ** 2 / γ
        if bias > max_gradient_bias:
            raise ValueError(
                f"w_star is not near a critical point of L_n: ‖∇L_n(w*)‖ = {grad_norm:.3g}, which "
                f"can shift the estimate by up to (nβ‖∇L_n‖)²/γ = {bias:.3g} > max_gradient_bias "
                f"= {max_gradient_bias:g}; minimise L_n first (or raise γ)")
        losses.append(value)
        grads.append(g.detach())
    return np.array(losses), torch.stack(grads)


def _run_chains(loss_fn, w_star, g_star, data, init, *, chains, steps, batch_size, ε, γ, nβ,
                seed):
    """The SGLD chains (5.2) with both control variates: traces of ``L_B(w) − L_B(w*)`` and of
    ``‖w − w*‖²``, each of shape ``(chains, steps)``."""
    G, P = w_star.shape
    group = torch.arange(chains) // (chains // G)
    gen = torch.Generator().manual_seed(seed)
    w_ref = w_star[group]
    g_ref = g_star[group]
    w = w_ref.clone()
    n_data = None if data is None else data[0].shape[1]
    flat = None if data is None else tuple(x.reshape(G * n_data, *x.shape[2:]) for x in data)
    offset = (group * (n_data or 0))[:, None]
    loss_trace = torch.empty(chains, steps, dtype=torch.float64)
    dist_trace = torch.empty(chains, steps, dtype=torch.float64)
    escape = 100.0 * P / γ  # (10 √(P/γ))²
    sqrt_ε = math.sqrt(ε)
    block = 200  # draw the noise, and check the chains, once per block of steps
    for t0 in range(0, steps, block):
        t1 = min(t0 + block, steps)
        noise = torch.randn(t1 - t0, chains, P, generator=gen, dtype=torch.float64)
        for t in range(t0, t1):
            if data is None:
                w.requires_grad_(True)
                value = loss_fn(w, None)
                (grad,) = torch.autograd.grad(value.sum(), w)
                ref = float(init[0])
            else:
                if batch_size == n_data and G == 1:
                    batch = tuple(x[0].unsqueeze(0).expand(chains, *x.shape[1:]) for x in data)
                elif batch_size == n_data:
                    batch = tuple(x[group] for x in data)
                else:  # one gather from the flattened (G·n, ...) data
                    idx = torch.randint(n_data, (chains, batch_size), generator=gen) + offset
                    batch = tuple(x[idx] for x in flat)
                # one pass over [w; w*] on the same minibatch: the loss control variate
                # L_B(w) − L_B(w*) and the gradient control variate ∇L_B(w) − ∇L_B(w*) + ∇L_n(w*)
                both = torch.cat([w, w_ref]).requires_grad_(True)
                values = loss_fn(both, tuple(torch.cat([x, x]) for x in batch))
                (grads,) = torch.autograd.grad(values.sum(), both)
                value, ref = values[:chains], values[chains:].detach()
                grad = grads[:chains] - grads[chains:] + g_ref
            with torch.no_grad():
                delta = w - w_ref
                loss_trace[:, t] = value.detach() - ref
                dist_trace[:, t] = (delta * delta).sum(1)
                w = w.detach() - (0.5 * ε) * (γ * delta + nβ * grad) + sqrt_ε * noise[t - t0]
        _check_block(loss_trace[:, t0:t1], dist_trace[:, t0:t1], w, t0, escape, ε, nβ)
    return loss_trace.numpy(), dist_trace.numpy()


def _check_block(losses, dists, w, t0, escape, ε, nβ) -> None:
    """Raise :class:`ChainDivergedError` for a non-finite or runaway chain in a block of draws."""
    bad = ~torch.isfinite(losses).all(1) | ~torch.isfinite(w).all(1)
    if bad.any():
        c = int(torch.nonzero(bad)[0, 0])
        t = t0 + int(torch.nonzero(~torch.isfinite(losses[c]))[0, 0]) if not torch.isfinite(
            losses[c]).all() else t0 + losses.shape[1]
        raise ChainDivergedError(
            f"chain {c} produced a non-finite loss or parameter by step {t}: the step ε = {ε:g} "
            f"is too large for the curvature nβ·∇²L (nβ = {nβ:.4g}); decrease ε")
    far = dists > escape
    if far.any():
        c, t = (int(v) for v in torch.nonzero(far)[0])
        raise ChainDivergedError(
            f"chain {c} ran away at step {t0 + t}: ‖w − w*‖² = {float(dists[c, t]):.3g} exceeds "
            f"100·P/γ = {escape:.3g}; the step ε = {ε:g} is too large, or w* is not a local "
            f"minimum")


def _diagnose(per_chain, llc, stderr, losses, dist, burn_in, P, γ, ε, nβ) -> list[str]:
    """The checks of :func:`sgld_llc` that can only be made after sampling."""
    out = []
    margin = 3 * max(stderr, 1e-12)
    if llc - margin > P / 2:
        out.append(f"estimate {llc:.3g} ± {stderr:.2g} exceeds the bound d/2 = {P / 2:g}: the "
                   f"step ε is too large for the curvature, or the chains left the basin")
    if llc + margin < 0:
        out.append(f"estimate {llc:.3g} ± {stderr:.2g} is negative: the chains found loss below "
                   f"L_n(w*), so w* is not a local minimum (or not converged)")
    post = dist[:, burn_in:]
    q = post.shape[1] // 4
    if q >= 2:
        early, late = post[:, q:2 * q].mean(), post[:, 3 * q:].mean()
        if late > 2 * early and late > 0.5 * P / γ:
            out.append(f"the chains are still drifting away from w*: mean ‖w − w*‖² grew from "
                       f"{early:.3g} to {late:.3g} over the sampling window, to the scale P/γ = "
                       f"{P / γ:.3g} of the localisation; increase γ, or decrease ε")
        a = nβ * losses[:, burn_in + q:burn_in + 2 * q].mean(1)
        b = nβ * losses[:, burn_in + 3 * q:].mean(1)
        shift = float((b - a).mean())
        se = float((b - a).std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0
        if abs(shift) > 4 * se and abs(shift) > 0.15 * max(abs(llc), 0.5):
            out.append(f"the λ̂ trace still trends: {float(a.mean()):.3g} in the second quarter of "
                       f"the sampling window, {float(b.mean()):.3g} in the last; run longer chains "
                       f"(or a longer burn-in)")
    mean_dist = post.mean()
    if mean_dist > 2 * P / γ:
        out.append(f"mean ‖w − w*‖² = {mean_dist:.3g} exceeds 2P/γ = {2 * P / γ:.3g}, more than "
                   f"the localisation alone allows: the loss pushes the chains away from w*")
    if ε * γ > 0.5:
        out.append(f"ε·γ = {ε * γ:.3g} > 0.5: the discretised localisation is wider than "
                   f"N(w*, I/γ) by a factor 1/(1 − εγ/4) = {1 / (1 - ε * γ / 4):.3g}")
    return out
