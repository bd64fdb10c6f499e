"""Tests of toymodels.present.trajectories: the figures of a tied flow and of a linear run."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from toymodels.linear import autoencoder as linear  # noqa: E402
from toymodels.linear.dynamics import train_linear  # noqa: E402
from toymodels.present import trajectories as tj  # noqa: E402
from toymodels.tied import flows, moments  # noqa: E402


def test_plot_trajectory_draws_the_requested_snapshots():
    Σ = moments.population_second_moment(0.8, 4)
    W0 = 0.1 * np.random.default_rng(0).standard_normal((2, 4))
    traj = flows.integrate_tied(W0, Σ, 50.0, flow="exact", n_eval=31)
    fig = tj.plot_trajectory(traj, Σ, snapshots=3, title="t")
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert len(heatmaps) == 3
    plt.close(fig)


def test_plot_linear_run_marks_every_critical_value():
    λ = np.array([3.0, 2.0, 1.0])
    run = train_linear(np.diag(λ), 2, steps=20, seed=0)
    ax = tj.plot_linear_run(run, λ, 2)
    levels = {round(float(line.get_ydata()[0]), 12) for line in ax.lines
              if len(line.get_ydata()) == 2 and line.get_ydata()[0] == line.get_ydata()[1]}
    expected = {round(float(level), 12) for level, _ in linear.critical_levels(λ, 2)}
    assert expected <= levels
    plt.close(ax.figure)
    with pytest.raises(TypeError, match="run"):
        tj.plot_linear_run("not a run", λ, 2)
