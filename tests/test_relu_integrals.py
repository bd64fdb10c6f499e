"""Tests of toymodels.relu.integrals: the closed forms L0, L1, L2 and the restricted loss."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from toymodels.relu import integrals as ri
from toymodels.relu import loss as rl

floats = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


def _random_model(seed, d=2, D=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(d, D)), 0.4 * rng.normal(size=D), rng.uniform(0.2, 1.0, D)


@settings(max_examples=60, deadline=None)
@given(a=floats, c=floats)
def test_one_dimensional_closed_forms_match_adaptive_quadrature(a, c):
    brk = [-c / a] if a != 0 and 0 < -c / a < 1 else None
    f = integrate.quad(lambda u: max(a * u + c, 0.0) ** 2, 0, 1, points=brk, epsabs=1e-12)[0]
    g = integrate.quad(lambda u: (u - max(a * u + c, 0.0)) ** 2, 0, 1, points=brk, epsabs=1e-12)[0]
    assert ri.relu_sq_integral(a, c) == pytest.approx(f, abs=1e-9, rel=1e-9)
    assert ri.recon_sq_integral(a, c) == pytest.approx(g, abs=1e-9, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_sparse_terms_are_the_integrals_over_the_edges(seed):
    W, b, ω = _random_model(seed)
    terms = ri.one_sparse_terms(W, b, ω)
    n = 20_000
    u = (np.arange(n) + 0.5) / n  # midpoint rule: error O(1/n²) even at the kinks
    for i in range(W.shape[1]):
        x = np.zeros((n, W.shape[1]))
        x[:, i] = u
        assert terms[i] == pytest.approx(rl.pointwise_loss(W, b, ω, x).mean(), abs=1e-7)


@pytest.mark.parametrize("seed", [0, 3])
def test_two_sparse_terms_are_the_integrals_over_the_faces(seed):
    W, b, ω = _random_model(seed, d=2, D=4)
    import torch

    pair = ri._L2_pair_terms(*(torch.as_tensor(a) for a in (W, b, ω))).numpy()
    n = 600
    u = (np.arange(n) + 0.5) / n
    U, V = np.meshgrid(u, u, indexing="ij")
    for i, j in [(0, 1), (1, 3), (2, 3)]:
        x = np.zeros((n * n, 4))
        x[:, i], x[:, j] = U.ravel(), V.ravel()
        assert pair[i, j] == pytest.approx(rl.pointwise_loss(W, b, ω, x).mean(), abs=2e-5)
        assert pair[i, j] == pytest.approx(pair[j, i], abs=1e-12)


def test_L0_is_the_loss_at_the_origin():
    W, b, ω = _random_model(5)
    assert ri.loss_L0(W, b, ω) == pytest.approx(rl.pointwise_loss(W, b, ω, np.zeros((1, 4)))[0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_losses_are_invariant_under_rotations_of_the_hidden_space(seed):
    W, b, ω = _random_model(seed, d=3, D=4)
    Q = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))[0]
    for l_max in (0, 1, 2):
        assert ri.restricted_loss(Q @ W, b, ω, 0.8, l_max) == pytest.approx(
            ri.restricted_loss(W, b, ω, 0.8, l_max), rel=1e-10, abs=1e-12)


def test_batched_evaluation_agrees_with_one_instance_at_a_time():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 4))
    S = np.array([[0.9], [0.5], [0.99]])
    batched = ri.restricted_loss(W, b, 1.0, S, l_max=2)
    for k in range(3):
        assert batched[k] == pytest.approx(ri.restricted_loss(W[k], b[k], 1.0, S[k, 0], l_max=2))


@pytest.mark.parametrize("bad", [
    dict(S=1.5), dict(S=-0.1), dict(ω=np.ones(3)), dict(b=np.zeros(3)),
    dict(W=np.full((2, 4), np.nan)), dict(ω=-np.ones(4)),
])
def test_bad_input_is_refused_with_a_clear_error(bad):
    args = dict(W=np.ones((2, 4)), b=np.zeros(4), ω=np.ones(4), S=0.5) | bad
    with pytest.raises(ValueError, match="S|ω|b|W"):
        ri.restricted_loss(args["W"], args["b"], args["ω"], args["S"])
