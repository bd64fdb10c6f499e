"""Tests of toymodels.present.playgrounds: every playground computes, draws and returns a Playground."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from toymodels.linear.dynamics import LinearRun  # noqa: E402
from toymodels.present import playgrounds as pg  # noqa: E402
from toymodels.tied import flows, moments  # noqa: E402
from toymodels.train.engine import NoSuperpositionWarning, TrainResult  # noqa: E402


def test_linear_playground_runs_and_descends():
    play = pg.linear_playground(steps=300)
    assert isinstance(play, pg.Playground) and isinstance(play.data, LinearRun)
    run = play.data
    assert run.loss[-1] < run.loss[0]
    assert play.figure is not None and "final loss" in play.summary
    plt.close("all")


def test_flow_playground_draws_a_figure_and_reaches_a_fixed_point():
    play = pg.flow_playground(S=0.8, D=5, d=2, init_scale=0.1, t_max=300.0, flow="exact")
    fig, traj = play.figure, play.data
    assert isinstance(play, pg.Playground)
    assert len(fig.axes) >= 4 and traj.W.shape == (301, 2, 5)
    Σ = moments.population_second_moment(0.8, 5)
    assert flows.fixed_point_residual(traj.W[-1], Σ, "exact") < 1e-6
    plt.close(fig)
    with pytest.raises(ValueError, match="init_scale must be positive"):
        pg.flow_playground(init_scale=0.0)
    with pytest.raises(ValueError, match="d must be <= 4"):
        pg.flow_playground(D=5, d=5)


def test_relu_playground_trains_and_draws():
    play = pg.relu_playground(5, 2, 0.9, 0.9, n=2, steps=30)
    res = play.data
    assert isinstance(play, pg.Playground)
    assert isinstance(res, TrainResult) and res.W.shape == (2, 2, 5)
    assert plt.get_fignums()  # a figure was drawn
    res3 = pg.relu_playground(6, 3, 0.8, n=1, steps=20).data
    assert res3.W.shape == (1, 3, 6)
    plt.close("all")


def test_relu_playground_warns_without_superposition_and_refuses_bad_decay():
    with pytest.warns(NoSuperpositionWarning):
        pg.relu_playground(3, 3, 0.5, n=1, steps=10)
    with pytest.raises(ValueError, match="importance_decay"):
        pg.relu_playground(importance_decay=0.0, steps=10)
    plt.close("all")


def test_the_three_playgrounds_return_the_same_type():
    plays = [pg.linear_playground(steps=5), pg.flow_playground(D=3, d=1, t_max=1.0),
             pg.relu_playground(3, 2, n=1, steps=5)]
    assert {type(p) for p in plays} == {pg.Playground}
    assert all(isinstance(p.summary, str) and p.summary for p in plays)
    plt.close("all")
