"""Tests of the SGLD estimator (toymodels.lc.llc).

Every sampler run here has fixed seeds (the sampler is deterministic on the CPU), and the
tolerances are multiples of the run's own standard error plus the known finite-γ shift.
"""

import math

import numpy as np
import pytest

from toymodels.lc import learning_coefficient as lc
from toymodels.lc import llc
from toymodels.lc import llc_models as lm


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


def test_seeds_side_by_side():
    """G problems (one data set per seed) in one run: each group's estimate matches (5.4) for
    its own Hessian, and the groups' spread gives a standard error."""
    probs = [lm.linear_regression(3, 400, seed=s) for s in range(3)]
    stacked = lm.stack_problems(probs)
    run = llc.sgld_llc(stacked.loss_fn, stacked.w_star, stacked.data, n=10_000, ε=2e-5, γ=1.0,
                       chains=12, steps=1500, burn_in=300, batch_size=64, seed=0)
    assert run.groups == 3 and run.per_group.shape == (3,)
    assert run.per_group.mean() == pytest.approx(run.llc)
    nβ = 10_000 / math.log(10_000)
    for g, p in zip(range(3), probs, strict=True):
        expected = lc.localised_quadratic_expectation(np.linalg.eigvalsh(p.hessian), nβ, 1.0)
        chains_g = run.per_chain[4 * g:4 * g + 4]
        se = chains_g.std(ddof=1) / 2
        assert abs(run.per_group[g] - expected) < 4 * se + 0.05 * expected
    assert 0 < run.group_stderr < 1
    single = llc.sgld_llc(probs[0].loss_fn, probs[0].w_star, probs[0].data, n=10_000, ε=2e-5,
                          γ=1.0, chains=2, steps=20, burn_in=5, batch_size=8)
    assert single.groups == 1 and math.isnan(single.group_stderr)


def test_seeds_side_by_side_refuses_mismatches():
    stacked = lm.stack_problems([lm.linear_regression(2, 50, seed=s) for s in range(2)])
    kw = dict(n=1000, ε=1e-5, γ=1.0, steps=10, burn_in=2, batch_size=4)
    with pytest.raises(ValueError, match="multiple"):
        llc.sgld_llc(stacked.loss_fn, stacked.w_star, stacked.data, chains=3, **kw)
    with pytest.raises(ValueError, match="data\\[0\\] must have shape \\(2, n"):
        llc.sgld_llc(stacked.loss_fn, stacked.w_star, tuple(t[0] for t in stacked.data),
                     chains=4, **kw)
    with pytest.raises(ValueError, match="w_star with several rows"):
        llc.sgld_llc(_double_well, np.zeros((2, 2)), None, chains=4, **kw)
    with pytest.raises(ValueError, match="w_star must have shape"):
        llc.sgld_llc(_double_well, np.zeros((2, 2, 2)), None, chains=4, **kw)
