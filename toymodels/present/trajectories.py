"""Figures of trajectories: a tied gradient flow (Chapter 2) and a linear training run (Chapter 1).

The mathematics modules compute trajectories (:func:`toymodels.tied.flows.integrate_tied`,
:func:`toymodels.linear.dynamics.train_linear`) and draw nothing; this module draws them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from toymodels._checks import check_finite_array, check_int
from toymodels.linear.autoencoder import check_sigma, critical_levels
from toymodels.linear.dynamics import LinearRun
from toymodels.tied.flows import FlowTrajectory, hidden_lyapunov, tied_loss

__all__ = ["plot_trajectory", "plot_linear_run"]


def plot_trajectory(traj: FlowTrajectory, Σ, *, snapshots: int = 4, title: str = ""):
    """Figure of a tied-flow trajectory: ``WᵀW`` at up to ``snapshots`` times (top, two to a
    row: when ``W`` has covered 1/k, 2/k, ..., all of the length of its path), then the norms
    ``‖w_i‖`` and interferences ``⟨w_i, w_j⟩`` over time, and the tied loss above its minimum
    together with :func:`toymodels.tied.flows.hidden_lyapunov` (log scale). Returns the matplotlib figure."""
    Σ = check_sigma(Σ)
    snapshots = check_int(snapshots, "snapshots", minimum=1, maximum=max(len(traj.t), 1))
    M = traj.gram
    D, d = Σ.shape[0], traj.W.shape[1]
    λ = np.sort(np.linalg.eigvalsh(Σ))[::-1]
    L_min = λ[d:].sum()
    fig = plt.figure(figsize=(4.6, 9.2), layout="constrained")
    ncols = 2 if snapshots > 1 else 1
    nrows = -(-snapshots // ncols)
    grid = fig.add_gridspec(nrows + 2, ncols, height_ratios=[1] * nrows + [1.1, 1.1])
    L = np.array([tied_loss(W, Σ) for W in traj.W]) - L_min
    V = np.array([hidden_lyapunov(W) for W in traj.W])
    # snapshots when W has covered 1/k, 2/k, ..., all of the length of its path
    steps = np.linalg.norm(np.diff(traj.W, axis=0), axis=(1, 2))
    travelled = np.concatenate([[0.0], np.cumsum(steps)]) / max(steps.sum(), 1e-300)
    idx = sorted({int(np.argmax(travelled >= q - 1e-12))
                  for q in np.arange(1, snapshots + 1) / snapshots})
    vmax = max(np.abs(M).max(), 1e-12)
    ticks = np.arange(0, D, max(1, -(-D // 6)))  # features numbered from 1, as in the text
    heat_axes = []
    for k, i in enumerate(idx):
        ax = fig.add_subplot(grid[k // ncols, k % ncols])
        im = ax.imshow(M[i], vmin=-vmax, vmax=vmax, cmap="RdBu_r")
        ax.set_title(f"$t={traj.t[i]:.3g}$")
        ax.set_xticks(ticks, [str(j + 1) for j in ticks])
        ax.set_yticks(ticks, [str(j + 1) for j in ticks])
        ax.grid(False)
        heat_axes.append(ax)
    fig.colorbar(im, ax=heat_axes, shrink=0.8, label=r"entries of $W^\top W$")
    ax = fig.add_subplot(grid[nrows, :])
    norms = np.sqrt(np.einsum("tii->ti", M))
    iu = np.triu_indices(D, 1)
    ax.plot(traj.t, M[:, iu[0], iu[1]], color="C1", lw=0.7)
    ax.plot(traj.t, norms, color="C0", lw=1.2)
    ax.plot([], [], color="C0", label=r"$\|w_i\|$")
    ax.plot([], [], color="C1", label=r"$\langle w_i, w_j\rangle$")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    ax = fig.add_subplot(grid[nrows + 1, :], sharex=ax)
    ax.semilogy(traj.t, np.maximum(L, 1e-16), label="tied loss − its minimum")
    ax.semilogy(traj.t, np.maximum(V, 1e-16), label=r"$\frac{1}{4}\|I-WW^\top\|_F^2$")
    ax.set_xlabel("$t$")
    # one column: two long labels side by side would widen the figure past a phone's column
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=1, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def plot_linear_run(run: LinearRun, λ, d: int, *, label: str = "", ax=None):
    """The loss of a linear training run (Chapter 1) against the step, over every critical value
    ``Σ_{i∉J} λ_i`` (``|J| ≤ d``, Proposition 2) of the spectrum ``λ``: solid for rank ``d``,
    dotted for lower rank. Draws on ``ax`` (a new figure when ``None``); returns the axes."""
    if not isinstance(run, LinearRun):
        raise TypeError(f"run must be a LinearRun (from train_linear), got {type(run).__name__}")
    λ = check_finite_array(λ, "λ", ndim=1)
    d = check_int(d, "d", minimum=1)
    if ax is None:
        _, ax = plt.subplots()
    ax.plot(run.loss, color="k", lw=1.5, label=label or run.optimizer)
    for level, J in critical_levels(λ, d):
        full = len(J) == d
        ax.axhline(level, color="C0" if full else "C1", ls="-" if full else ":", lw=0.7)
    ax.plot([], [], color="C0", lw=0.7, label="critical value, rank d")
    ax.plot([], [], color="C1", ls=":", lw=0.7, label="critical value, rank < d")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    return ax
