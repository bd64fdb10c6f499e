import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from toymodels.relu import loss as rl
from toymodels.tied.data import sparse_uniform

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
    assert rl.relu_sq_integral(a, c) == pytest.approx(f, abs=1e-9, rel=1e-9)
    assert rl.recon_sq_integral(a, c) == pytest.approx(g, abs=1e-9, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_sparse_terms_are_the_integrals_over_the_edges(seed):
    W, b, ω = _random_model(seed)
    terms = rl.one_sparse_terms(W, b, ω)
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

    pair = rl._L2_pair_terms(*(torch.as_tensor(a) for a in (W, b, ω))).numpy()
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
    assert rl.loss_L0(W, b, ω) == pytest.approx(rl.pointwise_loss(W, b, ω, np.zeros((1, 4)))[0])


@settings(max_examples=25, deadline=None)
@given(S=st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_poisson_binomial_pmf_matches_enumeration_of_subsets(S):
    S = np.array(S)
    D = len(S)
    pmf = rl.active_count_pmf(S)
    brute = np.zeros(D + 1)
    for on in itertools.product([0, 1], repeat=D):
        on = np.array(on)
        brute[on.sum()] += np.prod(np.where(on == 1, 1 - S, S))
    np.testing.assert_allclose(pmf, brute, atol=1e-12)
    P1, P2 = rl.subset_probabilities(S)
    for i in range(D):
        on = np.zeros(D)
        on[i] = 1
        assert float(P1[i]) == pytest.approx(np.prod(np.where(on == 1, 1 - S, S)), abs=1e-12)
        for j in range(D):
            if i != j:
                on2 = on.copy()
                on2[j] = 1
                exact = np.prod(np.where(on2 == 1, 1 - S, S))
                assert float(P2[i, j]) == pytest.approx(exact, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(S=st.floats(0, 1), D=st.integers(1, 40))
def test_mass_of_higher_skeleta_is_the_binomial_tail(S, D):
    pmf = rl.active_count_pmf(S, D)
    assert rl.higher_skeleta_mass(S, D) == pytest.approx(pmf[2:].sum(), abs=1e-12)
    formula = 1 - S**D - D * (1 - S) * S ** (D - 1)
    assert rl.higher_skeleta_mass(S, D) == pytest.approx(formula, abs=1e-12)


def test_conditional_sampler_has_exactly_l_active_and_the_right_inclusion_law():
    S = np.array([0.1, 0.5, 0.8, 0.95])
    x = rl.sample_given_active_count(100_000, S, 2, rng=0)
    assert np.all((x > 0).sum(1) == 2)
    incl = np.zeros(4)  # exact P(i active | 2 active) by enumeration
    for i, j in itertools.combinations(range(4), 2):
        on = np.zeros(4)
        on[[i, j]] = 1
        p = np.prod(np.where(on == 1, 1 - S, S))
        incl[[i, j]] += p
    incl /= rl.active_count_pmf(S)[2]
    se = np.sqrt(incl * (1 - incl) / len(x))
    assert np.all(np.abs((x > 0).mean(0) - incl) < 6 * se)


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
    exact = rl.restricted_loss(W, b, ω, 0.6, l_max=2)
    mc = rl.monte_carlo_loss(W, b, ω, 0.6, T=400_000, rng=0)
    assert abs(exact - mc.mean) < 5 * mc.se
    err, rel, _ = rl.one_sparse_error(W, b, ω, 0.6)
    assert err == pytest.approx(exact - rl.restricted_loss(W, b, ω, 0.6, l_max=1), abs=1e-12)
    assert 0 < rel < 1


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_losses_are_invariant_under_rotations_of_the_hidden_space(seed):
    W, b, ω = _random_model(seed, d=3, D=4)
    Q = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))[0]
    for l_max in (0, 1, 2):
        assert rl.restricted_loss(Q @ W, b, ω, 0.8, l_max) == pytest.approx(
            rl.restricted_loss(W, b, ω, 0.8, l_max), rel=1e-10, abs=1e-12)


def test_batched_evaluation_agrees_with_one_instance_at_a_time():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 4))
    S = np.array([[0.9], [0.5], [0.99]])
    batched = rl.restricted_loss(W, b, 1.0, S, l_max=2)
    for k in range(3):
        assert batched[k] == pytest.approx(rl.restricted_loss(W[k], b[k], 1.0, S[k, 0], l_max=2))


def test_one_sparse_loss_vanishes_for_orthogonal_features_and_the_minimiser_finds_it():
    L = rl.restricted_loss(np.eye(3), np.zeros(3), 1.0, 0.9, l_max=1)
    assert L == pytest.approx(0, abs=1e-15)
    W, b, losses = rl.minimize_restricted_loss(2, 2, 1.0, 0.9, n_restarts=4, steps=1500, lr=0.02)
    assert W.shape == (4, 2, 2)
    assert losses.min() < 1e-4
    # the returned losses are the restricted losses of the returned parameters
    np.testing.assert_allclose(rl.restricted_loss(W, b, 1.0, 0.9, l_max=1), losses, rtol=1e-12)


@pytest.mark.parametrize("bad", [
    dict(S=1.5), dict(S=-0.1), dict(ω=np.ones(3)), dict(b=np.zeros(3)),
    dict(W=np.full((2, 4), np.nan)), dict(ω=-np.ones(4)),
])
def test_bad_input_is_refused_with_a_clear_error(bad):
    args = dict(W=np.ones((2, 4)), b=np.zeros(4), ω=np.ones(4), S=0.5) | bad
    with pytest.raises(ValueError, match="S|ω|b|W"):
        rl.restricted_loss(args["W"], args["b"], args["ω"], args["S"])


def test_two_in_one_candidates_are_the_exact_losses_of_their_solutions():
    r, S = np.array([0.3, 1.0, 4.0]), np.array([0.8, 0.5, 0.95])
    c = rl.two_in_one_candidates(r, S, steps=200, lr=0.05)
    p = 1 - S
    for k in range(3):
        ω = [1.0, r[k]]
        f1 = rl.restricted_loss([[1.0, 0.0]], [0.0, p[k] / 2], ω, S[k], l_max=2)
        f2 = rl.restricted_loss([[0.0, 1.0]], [p[k] / 2, 0.0], ω, S[k], l_max=2)
        ap = rl.restricted_loss([[1.0, -1.0]], [0.0, 0.0], ω, S[k], l_max=2)
        assert c["feature 1"][k] == pytest.approx(f1, rel=1e-12)
        assert c["feature 2"][k] == pytest.approx(f2, rel=1e-12)
        assert c["antipodal"][k] == pytest.approx(ap, rel=1e-12)
        # the optimised antipodal pair stays antipodal and is no worse than the unit one
        W = c["antipodal*_W"][k]
        assert W[0, 0] > 0 > W[0, 1] and c["antipodal*"][k] <= ap * (1 + 1e-9)
    assert set(rl.two_in_one_candidates(r, S, optimise=False)) == {"feature 1", "feature 2",
                                                                   "antipodal"}
