"""Tests of toymodels.relu.minimize: the exact-loss minimiser and the 2→1 candidates."""


import numpy as np
import pytest
from hypothesis import strategies as st

from toymodels.relu import integrals as ri
from toymodels.relu import minimize as rm

floats = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


def test_one_sparse_loss_vanishes_for_orthogonal_features_and_the_minimiser_finds_it():
    L = ri.restricted_loss(np.eye(3), np.zeros(3), 1.0, 0.9, l_max=1)
    assert L == pytest.approx(0, abs=1e-15)
    W, b, losses = rm.minimize_restricted_loss(2, 2, 1.0, 0.9, n_restarts=4, steps=1500, lr=0.02)
    assert W.shape == (4, 2, 2)
    assert losses.min() < 1e-4
    # the returned losses are the restricted losses of the returned parameters
    np.testing.assert_allclose(ri.restricted_loss(W, b, 1.0, 0.9, l_max=1), losses, rtol=1e-12)


def test_two_in_one_candidates_are_the_exact_losses_of_their_solutions():
    r, S = np.array([0.3, 1.0, 4.0]), np.array([0.8, 0.5, 0.95])
    c = rm.two_in_one_candidates(r, S, steps=200, lr=0.05)
    p = 1 - S
    for k in range(3):
        ω = [1.0, r[k]]
        f1 = ri.restricted_loss([[1.0, 0.0]], [0.0, p[k] / 2], ω, S[k], l_max=2)
        f2 = ri.restricted_loss([[0.0, 1.0]], [p[k] / 2, 0.0], ω, S[k], l_max=2)
        ap = ri.restricted_loss([[1.0, -1.0]], [0.0, 0.0], ω, S[k], l_max=2)
        assert c["feature 1"][k] == pytest.approx(f1, rel=1e-12)
        assert c["feature 2"][k] == pytest.approx(f2, rel=1e-12)
        assert c["antipodal"][k] == pytest.approx(ap, rel=1e-12)
        # the optimised antipodal pair stays antipodal and is no worse than the unit one
        W = c["antipodal*_W"][k]
        assert W[0, 0] > 0 > W[0, 1] and c["antipodal*"][k] <= ap * (1 + 1e-9)
    assert set(rm.two_in_one_candidates(r, S, optimise=False)) == {"feature 1", "feature 2",
                                                                   "antipodal"}
