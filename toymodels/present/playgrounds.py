"""The book's playgrounds: one call that computes a small experiment and draws it.

Each playground returns a :class:`Playground` ``(figure, data, summary)``: the matplotlib figure,
the computed object (a :class:`~toymodels.linear.dynamics.LinearRun`, a
:class:`~toymodels.tied.flows.FlowTrajectory` or a :class:`~toymodels.train.results.TrainResult`)
and a one-line text summary. The chapters wrap them in sliders (``ipywidgets.interact``).

* :func:`linear_playground` (Chapter 1): the linear autoencoder trained on a chosen spectrum;
* :func:`flow_playground` (Chapter 2): a tied gradient flow on the sparse data's ``E[xxᵀ]``;
* :func:`relu_playground` (Chapter 3): a few ReLU output models trained on sparse data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from toymodels._checks import as_rng, check_finite_array, check_float, check_int, check_probability
from toymodels.limits import refuse_if_too_big
from toymodels.linear.autoencoder import critical_levels
from toymodels.linear.dynamics import _refuse_long_run, train_linear
from toymodels.present.plots import feature_polygons, superposition_panel
from toymodels.present.trajectories import plot_linear_run, plot_trajectory
from toymodels.tied.flows import integrate_tied, tied_loss
from toymodels.tied.moments import population_second_moment

__all__ = ["Playground", "linear_playground", "flow_playground", "relu_playground", "kgon_llc_playground"]


@dataclass(frozen=True)
class Playground:
    """What every playground returns: the ``figure``, the computed ``data`` and a ``summary``."""

    figure: Any
    data: Any
    summary: str

    def __repr__(self) -> str:
        return f"Playground({self.summary})"


def linear_playground(λ=(4.0, 2.0, 1.0, 0.5), d: int = 2, init_scale: float = 1e-3,
                      optimizer: str = "gd", lr: float | None = None, steps: int = 1500,
                      seed: int = 0, ax=None) -> Playground:
    """Train the linear autoencoder on Σ = U diag(λ) Uᵀ (random rotation U) from a small
    random start and plot the loss with every critical value Σ_{i∉J} λ_i (|J| ≤ d, notes'
    Proposition 2) marked (:func:`toymodels.present.trajectories.plot_linear_run`).

    ``data`` is the :class:`~toymodels.linear.dynamics.LinearRun`. Re-runs in well under a
    second for D ≤ 8.
    """
    λ = check_finite_array(λ, "λ", ndim=1)
    if np.any(λ <= 0):
        raise ValueError(f"λ must be positive (Σ positive definite), got {λ}")
    steps = check_int(steps, "steps", minimum=0)
    d = check_int(d, "d", minimum=1)
    _refuse_long_run(f"linear_playground with steps = {steps}, {λ.size} eigenvalues λ, d = {d}",
                     steps, λ.size, d)
    rng = as_rng(seed, "seed")
    U, _ = np.linalg.qr(rng.standard_normal((λ.size, λ.size)))
    Σ = U @ np.diag(λ) @ U.T
    run = train_linear(Σ, d, steps=steps, lr=lr, optimizer=optimizer, init_scale=init_scale,
                       seed=seed)
    ax = plot_linear_run(run, λ, d, label=f"{optimizer}, init scale {init_scale:g}", ax=ax)
    minimum = critical_levels(λ, d)[-1][0]
    return Playground(ax.figure, run, f"{optimizer}, {steps} steps: final loss "
                      f"{run.loss[-1]:.4g}, minimum {minimum:.4g}")


def flow_playground(S=0.8, D: int = 6, d: int = 2, init_scale: float = 0.01,
                    t_max: float = 400.0, flow: str = "exact", seed: int = 0) -> Playground:
    """Integrate a tied flow (notes §2.2) on the population ``Σ = E[xxᵀ]`` of the sparse data
    with sparsity ``S`` (scalar or per-feature) from a Gaussian ``W0`` of entry scale
    ``init_scale``, and draw it with :func:`toymodels.present.trajectories.plot_trajectory`.

    ``data`` is the :class:`~toymodels.tied.flows.FlowTrajectory`.
    """
    D = check_int(D, "D", minimum=2)
    d = check_int(d, "d", minimum=1, maximum=D - 1)
    init_scale = check_float(init_scale, "init_scale", positive=True)
    Σ = population_second_moment(S, D)
    W0 = init_scale * as_rng(seed, "seed").standard_normal((d, D))
    traj = integrate_tied(W0, Σ, t_max, flow=flow, n_eval=301)
    title = f"{flow} flow, D = {D}, d = {d}, init scale {init_scale:g}"
    fig = plot_trajectory(traj, Σ, title=title)
    return Playground(fig, traj, f"{title}: final tied loss {tied_loss(traj.W[-1], Σ):.4g}")


def relu_playground(D: int = 5, d: int = 2, S: float = 0.9, importance_decay: float = 0.9, *,
                    n: int = 4, steps: int = 2000, seed: int = 0) -> Playground:
    """Train ``n`` ReLU output models ``x ↦ ReLU(WᵀWx + b)`` (Section 3.1) with ``D`` features,
    ``d`` hidden dimensions, sparsity ``S`` and importance ``ω_i = importance_decay**i`` (a few
    seconds) and draw them: polygons when ``d = 2``, otherwise ``WᵀW`` and the norm bars.

    Warns (``NoSuperpositionWarning``, from the config) when ``d >= D`` (every feature gets its
    own dimension: no superposition to see). ``data`` is the
    :class:`toymodels.train.results.TrainResult`.
    """
    from toymodels.train.engine import TrainConfig, train

    D = check_int(D, "D", minimum=2)
    d = check_int(d, "d", minimum=1)
    n = check_int(n, "n", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    batch = 1024
    refuse_if_too_big(f"relu_playground with D = {D}, d = {d}, n = {n}, steps = {steps}",
                      work=8.0 * steps * n * batch * D * (d + 1),
                      memory=8.0 * n * (batch * D * 4 + d * D * 4),
                      advice="use fewer features D, hidden dimensions d, instances n or steps")
    S = float(check_probability(S, "S (sparsity)"))
    importance_decay = check_float(importance_decay, "importance_decay")
    if not 0 < importance_decay <= 1:
        raise ValueError(f"importance_decay must lie in (0, 1], got {importance_decay}")
    cfg = TrainConfig(model="relu", D=D, d=d, n=n,
                      S=S, ω=importance_decay ** np.arange(D), batch_size=batch,
                      steps=steps, lr=1e-2, schedule="cosine", seed=seed, progress=False)
    res = train(cfg)
    label = rf"$D = {D}$, $d = {d}$, $S = {S:g}$, $\omega_i = {importance_decay:g}^i$"
    fig = feature_polygons(res.W) if d == 2 else superposition_panel(res.W, res.b)
    fig.suptitle(label)
    losses = ", ".join(f"{v:.4g}" for v in res.final_loss)
    return Playground(fig, res, f"D = {D}, d = {d}, S = {S:g}: final losses {losses}")


def kgon_llc_playground(k: int = 5, n_dead: int = 1, *, D: int = 6, n: int = 10_000,
                        γ: float = 20.0, steps: int = 2000, chains: int = 16, seed: int = 0,
                        ax=None):
    """Estimate ``λ`` at Chapter 4's ``k``-gon (``D`` features, ``n_dead`` dead) in a few seconds
    and draw the running estimate of every chain (the playground of Chapter 5).

    Uses ``10⁵`` 1-sparse samples, minibatches of 64, ``ε = 0.1/(nβ h_max)`` from the exact
    Hessian, and prints the estimate with the Hessian's account (Proposition 5.2). Returns a
    :class:`Playground` whose ``data`` is the :class:`toymodels.lc.llc.LLCEstimate`.
    """
    from toymodels.lc.learning_coefficient import hessian_llc
    from toymodels.lc.llc import sgld_llc
    from toymodels.lc.llc_models import exact_hessian, relu_flat_directions, relu_one_sparse
    from toymodels.relu.kgons import kgon_critical_point

    steps = check_int(steps, "steps", minimum=100, maximum=20_000)
    chains = check_int(chains, "chains", minimum=2, maximum=64)
    n = check_int(n, "n", minimum=2, maximum=10**5)
    γ = check_float(γ, "γ", positive=True)
    seed = check_int(seed, "seed", minimum=0)
    pt = kgon_critical_point(D, k, n_dead=n_dead)
    W, b = pt.parameters()
    H = exact_hessian(relu_one_sparse(W, b))
    ev = np.linalg.eigvalsh(H)
    prob = relu_one_sparse(W, b, 100_000, seed=seed)
    nβ = n / math.log(n)
    est = sgld_llc(prob.loss_fn, prob.w_star, prob.data, n=n, ε=0.1 / (nβ * ev.max()), γ=γ,
                   chains=chains, steps=steps, burn_in=steps // 4, batch_size=64, seed=seed,
                   warn=False)
    if ev.min() < -1e-7 * np.abs(ev).max():
        account = f"saddle ({int((ev < -1e-7 * np.abs(ev).max()).sum())} negative eigenvalues)"
    else:
        acc = hessian_llc(H, relu_flat_directions(W, b))
        account = (f"Hessian: λ = {acc.value}" if acc.value is not None and k >= 5 else
                   f"Hessian bounds {acc.lower}–{acc.upper} (loss not smooth at w*)" if k <= 4
                   else f"Hessian bounds {acc.lower}–{acc.upper}")
    if ax is None:
        _, ax = plt.subplots()
    ax.plot(est.running().T, lw=0.6, color="0.6")
    ax.plot(est.running().mean(0), lw=2, color="C0")
    ax.axhline(est.llc, color="C0", ls="--", lw=1)
    ax.set_xlabel("SGLD step after burn-in")
    ax.set_ylabel("running λ̂")
    summary = f"{pt.name}: {est}; {account}"
    print(summary)
    return Playground(ax.figure, est, summary)
