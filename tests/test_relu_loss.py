"""Tests of toymodels.relu.loss: Monte Carlo, the skeleton decomposition, the 1-sparse error."""


import numpy as np
import pytest
from hypothesis import strategies as st

from toymodels.relu import integrals as ri
from toymodels.relu import loss as rl
from toymodels.tied.data import sparse_uniform

floats = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("S", [0.5, np.array([0.3, 0.6, 0.9, 0.7, 0.8])])
def test_skeleton_decomposition_adds_up_to_the_monte_carlo_loss(S):
    rng = np.random.default_rng(7)
    W, b, ω = rng.normal(size=(2, 5)), 0.3 * rng.normal(size=5), 0.9 ** np.arange(5)
    dec = rl.skeleton_decomposition(W, b, ω, S, T_tail=50_000, rng=1)
    mc = rl.monte_carlo_loss(W, b, ω, S, T=400_000, rng=2)
    assert dec.P.sum() == pytest.approx(1.0)
    assert abs(dec.total - mc.mean) < 5 * np.hypot(mc.se, dec.tail_se)
    # each exact L_l is the conditional mean of the loss on Q_l
    x = sparse_uniform(400_000, 5, S, rng=3)
    cnt, vals = (x > 0).sum(1), rl.pointwise_loss(W, b, ω, x)
    for l in (1, 2):
        sel = vals[cnt == l]
        assert abs(dec.L_exact[l] - sel.mean()) < 5 * sel.std() / np.sqrt(len(sel))


def test_restricted_loss_is_the_whole_loss_when_D_is_two():
    W, b, ω = np.array([[1.0, -0.8]]), np.array([-0.1, 0.05]), np.array([1.0, 0.7])
    exact = ri.restricted_loss(W, b, ω, 0.6, l_max=2)
    mc = rl.monte_carlo_loss(W, b, ω, 0.6, T=400_000, rng=0)
    assert abs(exact - mc.mean) < 5 * mc.se
    err, rel, _ = rl.one_sparse_error(W, b, ω, 0.6)
    assert err == pytest.approx(exact - ri.restricted_loss(W, b, ω, 0.6, l_max=1), abs=1e-12)
    assert 0 < rel < 1
