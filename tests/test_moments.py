"""Tests of toymodels.tied.moments: the closed forms of Section 2.1 against sampling and algebra."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.tied import moments
from toymodels.tied.data import sparse_uniform

probs = st.floats(0, 1)


@pytest.mark.parametrize("S", [0.0, 0.5, 0.9])
def test_every_closed_form_agrees_with_monte_carlo(S):
    x = sparse_uniform(50_000, 5, S, rng=0)
    for est in moments.monte_carlo(x, S):
        if est.se == 0:
            assert est.value == pytest.approx(est.exact, abs=1e-12), est.name
        else:
            assert abs(est.z) < 5, est


def test_a_wrong_closed_form_is_detected():
    x = sparse_uniform(50_000, 5, 0.5, rng=0)
    est = {e.name: e for e in moments.monte_carlo(x, 0.5)}["E x_i^2"]
    wrong = moments.Estimate(est.name, est.value, est.se, 0.5 / 4)  # (1-S)/4 instead of /3
    assert abs(wrong.z) > 10


@given(probs, st.integers(1, 12))
@settings(max_examples=40, deadline=None)
def test_population_matrix_is_spike_plus_bulk_with_the_stated_spectrum(S, D):
    Σ = moments.population_second_moment(S, D)
    a, b = moments.spike_and_bulk(S)
    assert np.allclose(Σ, a * np.eye(D) + b * np.ones((D, D)))
    λ, U = moments.population_spectrum(S, D)
    assert np.allclose(U.T @ U, np.eye(D), atol=1e-12)
    assert np.allclose(U @ np.diag(λ) @ U.T, Σ, atol=1e-12)
    assert np.allclose(np.sort(np.linalg.eigvalsh(Σ))[::-1], λ, atol=1e-12)
    assert np.isclose(λ[0], a + b * D) and np.allclose(λ[1:], a)
    assert np.allclose(U[:, 0], 1 / np.sqrt(D))


@given(st.lists(probs, min_size=1, max_size=8))
@settings(max_examples=40, deadline=None)
def test_per_feature_sparsity_matrix_is_covariance_plus_mean_outer(S):
    S = np.array(S)
    D = S.size
    Σ = moments.population_second_moment(S, D)
    m = moments.mean(S)
    assert np.allclose(Σ, moments.centred_covariance(S, D) + np.outer(m, m))
    assert np.allclose(np.diag(Σ), moments.second_moment_diagonal(S))
    λ, U = moments.population_spectrum(S, D)
    assert np.all(np.diff(λ) <= 1e-12) and np.allclose(U @ np.diag(λ) @ U.T, Σ)
    P = moments.skeleton_probabilities(S, D)
    assert np.isclose(P.sum(), 1)
    assert np.isclose(P @ np.arange(D + 1), moments.expected_nonzeros(S, D))


def test_skeleton_probabilities_are_binomial_for_one_sparsity():
    from math import comb
    S, D = 0.3, 7
    P = moments.skeleton_probabilities(S, D)
    assert np.allclose(P, [comb(D, k) * 0.7**k * 0.3 ** (D - k) for k in range(D + 1)])


def test_helmert_basis_is_orthonormal_and_starts_with_the_mean_direction():
    H = moments.helmert_basis(6)
    assert np.allclose(H.T @ H, np.eye(6)) and np.allclose(H[:, 0], 1 / np.sqrt(6))


def test_empirical_spectra_converge_to_the_population():
    S, D = 0.8, 5
    x = sparse_uniform(40_000, D, S, rng=1)
    spec = moments.empirical_spectra(x, [100, 1000, 40_000])
    λ, _ = moments.population_spectrum(S, D)
    err = np.abs(spec - λ).max(axis=1)
    assert err[-1] < err[0] and err[-1] < 0.01
    assert np.allclose(spec[-1], np.linalg.eigvalsh(x.T @ x / 40_000)[::-1])


@pytest.mark.parametrize("S", [-0.1, 1.01, np.nan])
def test_bad_sparsity_is_refused(S):
    with pytest.raises(ValueError, match="S"):
        moments.population_second_moment(S, 3)
    with pytest.raises(ValueError, match="S"):
        moments.mean(S)


def test_bad_shapes_and_sizes_are_refused():
    with pytest.raises(ValueError, match="S has shape"):
        moments.population_second_moment([0.1, 0.2], 3)
    with pytest.raises((TypeError, ValueError), match="D"):
        moments.population_spectrum(0.5, 0)
    with pytest.raises(TypeError, match="D"):
        moments.population_spectrum(0.5, 2.5)
    with pytest.raises(ValueError, match="S must be a scalar"):
        moments.spike_and_bulk([0.1, 0.2])
    with pytest.raises(ValueError, match="x must have at least 2 rows"):
        moments.monte_carlo(np.zeros((1, 3)), 0.5)
    with pytest.raises(ValueError, match="Ts must increase"):
        moments.empirical_spectra(np.ones((5, 2)), [3, 2])
