"""Tests of the SGLD estimator (toymodels.lc.llc), the exact learning coefficients
(toymodels.lc.learning_coefficient) and the calibration models (toymodels.lc.llc_models).

Every sampler run here has fixed seeds (the sampler is deterministic on the CPU), and the
tolerances are multiples of the run's own standard error plus the known finite-γ shift.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from toymodels.lc import learning_coefficient as lc
from toymodels.lc import llc
from toymodels.lc import llc_models as lm
from toymodels.linear import hessian as lin_hessian
from toymodels.linear.autoencoder import second_moment


# ----------------------------------------------------------------------------------------
# the exact learning coefficient of reduced-rank regression
# ----------------------------------------------------------------------------------------
def _all_cases(limit=6):
    for M in range(1, limit + 1):
        for N in range(1, limit + 1):
            for H in range(1, limit + 1):
                for r in range(0, min(M, N, H) + 1):
                    yield M, N, H, r


def test_rrr_known_values():
    # K = (ab)² in two variables: λ = 1/2 with multiplicity 2
    assert lc.rrr_learning_coefficient(1, 1, 1, 0) == lc.RRRCoefficient(Fraction(1, 2), 2, 1)
    # a full-rank truth with M = N: the regular value H(M+N−H)/2 of the rank-H matrices
    assert lc.rrr_learning_coefficient(3, 3, 3, 3).λ == Fraction(9, 2)
    assert lc.rrr_learning_coefficient(2, 6, 1, 1) == lc.RRRCoefficient(Fraction(7, 2), 1, 2)
    assert lc.rrr_learning_coefficient(6, 2, 1, 1) == lc.RRRCoefficient(Fraction(7, 2), 1, 3)
    assert lc.rrr_learning_coefficient(1, 1, 3, 0) == lc.RRRCoefficient(Fraction(1, 2), 1, 4)


def test_rrr_symmetric_in_input_and_output():
    for M, N, H, r in _all_cases():
        a, b = lc.rrr_learning_coefficient(M, N, H, r), lc.rrr_learning_coefficient(N, M, H, r)
        assert a.λ == b.λ and a.m == b.m


def test_rrr_bounds_and_full_rank_truth():
    for M, N, H, r in _all_cases():
        c = lc.rrr_learning_coefficient(M, N, H, r)
        # λ ≤ (number of parameters)/2 and λ ≥ half the dimension of the rank-r matrices
        assert c.λ <= Fraction(H * (M + N), 2)
        assert c.λ >= Fraction(r * (M + N - r), 2)
        if r == min(H, M, N):  # the truth has the largest rank: a regular point of the image
            assert c.λ == Fraction(r * (M + N - r), 2)


def test_rrr_continuous_across_case_boundaries():
    """On the boundary of the central case the central formula equals the boundary case's."""
    for M, N, H, r in _all_cases():
        num = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
        central = Fraction(num + ((M + N + H + r) % 2), 8)
        c = lc.rrr_learning_coefficient(M, N, H, r)
        if M + H == N + r or N + H == M + r or M + N == H + r:
            assert c.case == 1 and c.λ == central


def test_rrr_refuses_bad_input():
    with pytest.raises(ValueError, match="r \\(rank"):
        lc.rrr_learning_coefficient(2, 2, 1, 2)
    with pytest.raises(TypeError, match="M"):
        lc.rrr_learning_coefficient(2.5, 2, 1, 0)
    with pytest.raises(TypeError, match="H"):
        lc.rrr_learning_coefficient(2, 2, True, 0)


# ----------------------------------------------------------------------------------------
# Hessians, the localised Gaussian and the free energy
# ----------------------------------------------------------------------------------------
def test_localised_quadratic_expectation_limits():
    h = np.array([1.0, 2.0, 0.0, 5.0])
    assert lc.localised_quadratic_expectation(h, 1e9, 1e-3) == pytest.approx(1.5, abs=1e-9)
    assert lc.localised_quadratic_expectation(h, 1.0, 1.0) == pytest.approx(
        0.5 * (1 / 2 + 2 / 3 + 5 / 6))
    with pytest.raises(ValueError, match="non-negative"):
        lc.localised_quadratic_expectation([-1.0], 1.0, 1.0)


def test_hessian_llc_morse_bott_and_bounds():
    H = np.diag([1.0, 2.0, 0.0, 0.0])
    flat = np.eye(4)[:, 2:]
    full = lc.hessian_llc(H, flat)
    assert full.value == 1.0 and full.rank == 2 and full.unexplained == 0
    part = lc.hessian_llc(H, flat[:, :1])
    assert part.value is None and part.unexplained == 1
    assert (part.lower, part.upper) == (1.0, 1.5)
    with pytest.raises(ValueError, match="saddle"):
        lc.hessian_llc(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="null directions"):
        lc.hessian_llc(H, np.eye(4)[:, :1])


def test_linear_autoencoder_minimum_is_morse_bott():
    """Chapter 1's Hessian at the global minimum has rank 2Dd − d²: the GL(d) orbit is the
    whole null space, so λ = (2Dd − d²)/2 (Proposition 5.2)."""
    D, d = 4, 2
    p = lm.linear_autoencoder(D, d, 500, seed=3)
    A, B = p.unpack(torch.as_tensor(p.w_star)[None])
    A, B = A[0].numpy(), B[0].numpy()
    Σ = second_moment(p.data[0].numpy())
    H = lin_hessian.hessian(A, B, Σ)
    # the orbit's tangent directions (A X, −X B) for the d² elementary X
    flats = []
    for i in range(d):
        for j in range(d):
            X = np.zeros((d, d))
            X[i, j] = 1
            flats.append(np.concatenate([(A @ X).ravel(), (-X @ B).ravel()]))
    res = lc.hessian_llc(H, np.array(flats).T)
    assert res.value == (2 * D * d - d * d) / 2


def test_free_energy_and_crossover():
    L1, l1, L2, l2 = 0.3, 2.0, 0.25, 5.0
    n = lc.crossover_sample_size(L1, l1, L2, l2)
    assert lc.free_energy(L1, l1, n) == pytest.approx(lc.free_energy(L2, l2, n), rel=1e-10)
    # the simpler configuration wins below n, the better one above
    assert lc.free_energy(L1, l1, n / 2) < lc.free_energy(L2, l2, n / 2)
    assert lc.free_energy(L1, l1, 2 * n) > lc.free_energy(L2, l2, 2 * n)
    assert lc.crossover_sample_size(1.0, 1.0, 0.0, 1.5) == 1.0  # better one wins for every n
    with pytest.raises(ValueError, match="L_simple"):
        lc.crossover_sample_size(0.1, 1.0, 0.2, 2.0)
    with pytest.raises(ValueError, match="λ_complex"):
        lc.crossover_sample_size(0.3, 3.0, 0.2, 2.0)
    with pytest.raises(ValueError, match="n"):
        lc.free_energy(0.1, 1.0, 0.5)


# ----------------------------------------------------------------------------------------
# the estimator
# ----------------------------------------------------------------------------------------
def test_regular_model_estimate_matches_half_the_dimension():
    P = 4
    p = lm.linear_regression(P, 2000, seed=0)
    est = llc.sgld_llc(p.loss_fn, p.w_star, p.data, n=10_000, ε=2e-5, γ=1.0, chains=8,
                       steps=1500, burn_in=300, batch_size=64, seed=0)
    assert est.ok, est.diagnostics
    exact = lc.localised_quadratic_expectation(np.linalg.eigvalsh(p.hessian), est.nβ, est.γ)
    assert abs(exact - P / 2) < 0.01
    assert abs(est.llc - P / 2) < 4 * est.stderr + 0.1 * P / 2
    assert est.running().shape == (8, 1200)
    assert np.allclose(est.running()[:, -1], est.per_chain)


def test_estimate_is_deterministic():
    p = lm.linear_regression(3, 500, seed=1)
    kw = dict(n=5000, ε=2e-5, γ=1.0, chains=4, steps=200, burn_in=50, batch_size=32, seed=7)
    a = llc.sgld_llc(p.loss_fn, p.w_star, p.data, **kw)
    b = llc.sgld_llc(p.loss_fn, p.w_star, p.data, **kw)
    assert np.array_equal(a.per_chain, b.per_chain)


def test_diverging_chain_raises():
    p = lm.linear_regression(3, 500, seed=1)
    with pytest.raises(llc.ChainDivergedError, match="chain"):
        llc.sgld_llc(p.loss_fn, p.w_star, p.data, n=10**6, ε=1e-3, γ=1.0, chains=4, steps=400,
                     burn_in=100, batch_size=32)


def test_step_too_large_for_localisation_is_refused():
    p = lm.linear_regression(3, 500, seed=1)
    with pytest.raises(ValueError, match="too large for the localisation"):
        llc.sgld_llc(p.loss_fn, p.w_star, p.data, ε=0.1, γ=30.0)


def test_point_far_from_critical_is_refused():
    p = lm.linear_regression(3, 500, seed=1)
    with pytest.raises(ValueError, match="not near a critical point"):
        llc.sgld_llc(p.loss_fn, p.w_star + 0.1, p.data, n=10_000)


def _double_well(w, batch):
    # a maximum along w₀ at 0 (gradient zero there): not a local minimum
    return -w[:, 0] ** 2 + w[:, 0] ** 4 + w[:, 1] ** 2


def test_non_minimum_gives_negative_estimate_and_a_diagnostic():
    with pytest.warns(llc.LLCWarning, match="negative"):
        est = llc.sgld_llc(_double_well, np.zeros(2), None, n=1000, ε=1e-3, γ=1.0, chains=4,
                           steps=1000, burn_in=200)
    assert not est.ok and est.llc < 0
    assert any("not a local minimum" in m for m in est.diagnostics)


def test_exact_population_loss_reduced_rank():
    """(5.3) at a regular point of the deepest stratum: M = N = H = r = 1 is y = abx with
    a, b ≠ 0 (regular, λ = 1/2)."""
    p = lm.reduced_rank_regression(1, 1, 1, 1, seed=0)
    est = llc.sgld_llc(p.loss_fn, p.w_star, None, n=10_000, ε=5e-5, γ=1.0, chains=8,
                       steps=1500, burn_in=300, seed=0)
    assert float(lc.rrr_learning_coefficient(1, 1, 1, 1).λ) == 0.5
    assert abs(est.llc - 0.5) < 4 * est.stderr + 0.05


def test_sgld_refuses_bad_arguments():
    p = lm.linear_regression(3, 100, seed=1)
    with pytest.raises(TypeError, match="loss_fn"):
        llc.sgld_llc("loss", p.w_star, p.data)
    with pytest.raises(ValueError, match="w_star"):
        llc.sgld_llc(p.loss_fn, [np.nan, 0, 0], p.data)
    with pytest.raises(TypeError, match="chains"):
        llc.sgld_llc(p.loss_fn, p.w_star, p.data, chains=True)
    with pytest.raises(ValueError, match="ε"):
        llc.sgld_llc(p.loss_fn, p.w_star, p.data, ε=-1.0)
    with pytest.raises(TypeError, match="data"):
        llc.sgld_llc(p.loss_fn, p.w_star, [np.zeros(3)])
    with pytest.raises(ValueError, match="n \\(the sample size"):
        llc.sgld_llc(p.loss_fn, p.w_star, None)
    with pytest.raises(ValueError, match="exceeds the limit"):
        llc.sgld_llc(p.loss_fn, p.w_star, p.data, chains=4096, steps=10**7, batch_size=100)
    with pytest.raises(ValueError, match="n \\(number of samples\\)"):
        lm.linear_regression(3, -5)
    with pytest.raises(ValueError, match="b must have shape"):
        lm.relu_one_sparse(np.ones((2, 3)), np.zeros(4), 100)


def test_default_beta():
    assert llc.default_beta(100) == pytest.approx(1 / math.log(100))
    with pytest.raises(ValueError, match="n"):
        llc.default_beta(1)


# ----------------------------------------------------------------------------------------
# the ReLU output model: k-gons, flat directions, chains
# ----------------------------------------------------------------------------------------
def test_relu_exact_and_sampled_losses_agree():
    from toymodels.relu import kgons

    pt = kgons.kgon_critical_point(6, 6)
    W, b = pt.parameters()
    exact = lm.relu_one_sparse(W, b)
    sampled = lm.relu_one_sparse(W, b, 200_000, seed=0)
    w = torch.as_tensor(exact.w_star)[None]
    L_exact = float(exact.loss_fn(w, None))
    assert L_exact == pytest.approx(pt.loss, rel=1e-12)
    per_sample = sampled.loss_fn(w, (sampled.data[0][None],))
    assert float(per_sample) == pytest.approx(L_exact, rel=0.02)


def test_kgon_hessian_null_space_is_rotation_and_dead_features():
    from toymodels.relu import kgons

    for k, n_dead, value in [(6, 0, 8.5), (5, 1, 7.0), (5, 0, 8.5)]:
        pt = kgons.kgon_critical_point(6, k, n_dead=n_dead)
        W, b = pt.parameters()
        H = lm.exact_hessian(lm.relu_one_sparse(W, b))
        flats = lm.relu_flat_directions(W, b)
        assert flats.shape[1] == 1 + 3 * n_dead
        assert lc.hessian_llc(H, flats).value == value


def test_flat_directions_need_negative_biases():
    W = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert lm.relu_flat_directions(W, np.array([-0.1, -0.1, -1.0])).shape == (9, 4)
    # an embedded feature with bias ≥ 0 lets the dead feature's weights act: rotation only
    assert lm.relu_flat_directions(W, np.array([0.0, -0.1, -1.0])).shape == (9, 1)


def test_posterior_draws_shapes_and_sgd_decreases_loss():
    sgd = lm.relu_posterior_draws(4, 200, chains=4, steps=200, ε=0.2 / 200, temperature=0.0,
                                  record_every=50, seed=0)
    assert sgd.W.shape == (4, 2, 4) and sgd.b.shape == (4, 4) and sgd.history.shape == (4, 5)
    assert np.all(sgd.history[:, -1] < sgd.history[:, 0])
    with pytest.raises(ValueError, match="temperature"):
        lm.relu_posterior_draws(4, 200, temperature=-1.0)


def test_pool_estimates():
    p = lm.linear_regression(2, 200, seed=1)
    kw = dict(n=2000, ε=2e-5, γ=1.0, chains=3, steps=50, burn_in=10, batch_size=16)
    a = llc.sgld_llc(p.loss_fn, p.w_star, p.data, seed=0, **kw)
    b = llc.sgld_llc(p.loss_fn, p.w_star, p.data, seed=1, **kw)
    mean, se = llc.pool_estimates([a, b])
    both = np.concatenate([a.per_chain, b.per_chain])
    assert mean == pytest.approx(both.mean()) and se == pytest.approx(both.std(ddof=1) / math.sqrt(6))
    with pytest.raises(TypeError, match="estimates"):
        llc.pool_estimates([])
