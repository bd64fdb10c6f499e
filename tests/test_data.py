"""Tests of toymodels.tied.data: the sparse uniform data, one-active data, importances, streaming."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.tied.data import (
    exactly_one_active,
    exactly_one_active_torch,
    importance_vector,
    nonzero_counts,
    sparse_uniform,
    sparse_uniform_torch,
    sparsity_grid,
    streaming_moments,
)
from toymodels.tied.moments import skeleton_probabilities

# Monte Carlo checks use a 6-standard-error band: a false law fails them, noise does not.
T = 200_000
T_ONE = 100_000  # samples for the one-active and streaming checks


def _check_law(x, S):
    """Entries have P(x=0)=S, E x = (1-S)/2, E x² = (1-S)/3 (Section 2.1 of the notes)."""
    x = np.asarray(x, dtype=np.float64)
    p = 1 - S
    zero = (x == 0).mean(axis=-2)
    assert np.all(np.abs(zero - S) <= 6 * np.sqrt(S * (1 - S) / x.shape[-2]) + 1e-12)
    mean_se = np.sqrt((p / 3 - (p / 2) ** 2) / x.shape[-2])
    assert np.all(np.abs(x.mean(axis=-2) - p / 2) <= 6 * mean_se + 1e-12)
    assert np.all((x >= 0) & (x <= 1))


@pytest.mark.parametrize("S", [0.0, 0.3, 0.9, 1.0])
def test_numpy_sampler_has_the_law_of_section_2_1(S):
    _check_law(sparse_uniform(T, 4, S, rng=1), np.full(4, S))


def test_torch_sampler_has_the_law_of_section_2_1():
    S = np.array([0.0, 0.5, 0.95])
    x = sparse_uniform_torch(T, 3, S, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert x.shape == (T, 3) and x.dtype == torch.float64
    _check_law(x.numpy(), S)


def test_instances_axis_and_per_instance_sparsity():
    S = np.array([[0.1], [0.8]])
    x = sparse_uniform_torch(T, 2, S, n=2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, T, 2)
    _check_law(x.numpy(), np.broadcast_to(S, (2, 2)))
    y = sparse_uniform(T, 2, S, n=2, rng=0)
    assert y.shape == (2, T, 2)
    _check_law(y, np.broadcast_to(S, (2, 2)))


def test_features_are_independent():
    x = sparse_uniform(T, 2, 0.5, rng=3)
    # E[x1 x2] = (1-S)²/4 for independent features
    prod = x[:, 0] * x[:, 1]
    assert abs(prod.mean() - 0.0625) <= 6 * prod.std() / np.sqrt(T)


def test_seeding_is_reproducible():
    assert np.array_equal(sparse_uniform(10, 3, 0.5, rng=7), sparse_uniform(10, 3, 0.5, rng=7))
    a = sparse_uniform_torch(10, 3, 0.5, generator=torch.Generator().manual_seed(7))
    b = sparse_uniform_torch(10, 3, 0.5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


@given(st.integers(1, 50), st.integers(1, 20), st.floats(0, 1))
@settings(max_examples=30, deadline=None)
def test_shapes_and_range_for_any_valid_input(T_, D, S):
    x = sparse_uniform(T_, D, S, rng=0)
    assert x.shape == (T_, D) and np.all((x >= 0) & (x <= 1)) and np.all(np.isfinite(x))
    y = sparse_uniform_torch(T_, D, S)
    assert y.shape == (T_, D) and torch.isfinite(y).all()


@pytest.mark.parametrize("S", [-0.1, 1.5, float("nan")])
def test_sparsity_outside_unit_interval_is_refused(S):
    with pytest.raises(ValueError, match="S"):
        sparse_uniform(5, 3, S)
    with pytest.raises(ValueError, match="S"):
        sparse_uniform_torch(5, 3, S)


def test_wrong_shape_of_sparsity_is_refused():
    with pytest.raises(ValueError, match=r"S has shape \(4,\)"):
        sparse_uniform(5, 3, np.full(4, 0.5))


@pytest.mark.parametrize(("T_", "D"), [(0, 3), (3, 0), (2.5, 3), (3, "4"), (True, 3)])
def test_bad_sizes_are_refused(T_, D):
    with pytest.raises((TypeError, ValueError), match="T|D"):
        sparse_uniform(T_, D, 0.5)


def test_sparsity_grid_spaces_the_density_geometrically():
    S = sparsity_grid(3, low=0.0, high=0.99)
    assert np.allclose(1 - S, [1.0, 0.1, 0.01])
    assert np.allclose(sparsity_grid(3, log=False, high=0.5), [0, 0.25, 0.5])
    with pytest.raises(ValueError, match="low must be"):
        sparsity_grid(3, low=0.9, high=0.1)


# -- one-active data, importances, streaming ----------------------------------------------
def test_exactly_one_active_lies_on_the_one_skeleton_with_the_right_law():
    q = np.array([0.5, 0.25, 0.25, 0.0])
    x = exactly_one_active(T_ONE, 4, q, rng=0)
    assert np.all(nonzero_counts(x) == 1)
    share = np.count_nonzero(x, axis=0) / T_ONE
    assert np.all(np.abs(share - q) <= 6 * np.sqrt(q * (1 - q) / T_ONE) + 1e-12)
    v = x.sum(axis=1)  # the active value: uniform on (0, 1]
    assert np.all((v > 0) & (v <= 1))
    assert abs(v.mean() - 0.5) < 6 * np.sqrt(1 / 12 / T_ONE)
    assert abs((v**2).mean() - 1 / 3) < 6 * np.sqrt((1 / 5 - 1 / 9) / T_ONE)


def test_exactly_one_active_torch_matches_the_numpy_law():
    g = torch.Generator().manual_seed(1)
    x = exactly_one_active_torch(T_ONE, 3, [1, 1, 2], generator=g, dtype=torch.float64)
    assert x.shape == (T_ONE, 3) and x.dtype == torch.float64
    assert np.all(nonzero_counts(x) == 1)
    share = (x != 0).double().mean(0).numpy()
    q = np.array([0.25, 0.25, 0.5])
    assert np.all(np.abs(share - q) <= 6 * np.sqrt(q * (1 - q) / T_ONE))
    a = exactly_one_active_torch(5, 3, generator=torch.Generator().manual_seed(3))
    b = exactly_one_active_torch(5, 3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_skeleton_counts_follow_the_binomial_law():
    D, S = 6, 0.7
    x = sparse_uniform(T_ONE, D, S, rng=2)
    freq = np.bincount(nonzero_counts(x), minlength=D + 1) / T_ONE
    P = skeleton_probabilities(S, D)
    assert np.all(np.abs(freq - P) <= 6 * np.sqrt(P * (1 - P) / T_ONE) + 1e-12)


def test_streaming_moments_are_right_and_do_not_depend_on_threads():
    S = np.array([0.0, 0.5, 0.9])
    r1 = streaming_moments(60_000, 3, S, seed=5, chunk_rows=777, threads=1, streams=4)
    r2 = streaming_moments(60_000, 3, S, seed=5, chunk_rows=777, threads=3, streams=4)
    for key in ("mean", "second", "zero_fraction"):
        assert np.array_equal(r1[key], r2[key])
    p, n = 1 - S, r1["T"]
    assert np.all(np.abs(r1["mean"] - p / 2) <= 6 * np.sqrt((p / 3 - p**2 / 4) / n))
    assert np.all(np.abs(r1["second"] - p / 3) <= 6 * np.sqrt((p / 5 - p**2 / 9) / n))
    assert np.all(np.abs(r1["zero_fraction"] - S) <= 6 * np.sqrt(S * (1 - S) / n) + 1e-6)


def test_streaming_handles_fewer_rows_than_streams():
    r = streaming_moments(3, 2, 1.0, streams=8)
    assert r["T"] == 3 and np.all(r["mean"] == 0) and np.all(r["zero_fraction"] == 1)


@given(st.integers(1, 30), st.integers(1, 10), st.integers(0, 2**31))
@settings(max_examples=25, deadline=None)
def test_one_active_shape_and_support_for_any_size(T_, D, seed):
    x = exactly_one_active(T_, D, rng=seed)
    assert x.shape == (T_, D) and np.all(nonzero_counts(x) == 1) and np.all((x >= 0) & (x <= 1))


def test_importance_is_broadcast_and_checked():
    assert np.array_equal(importance_vector(2.0, 3), [2.0, 2.0, 2.0])
    assert np.array_equal(importance_vector([1, 0.5, 0], 3), [1, 0.5, 0])
    with pytest.raises(ValueError, match=r"ω \(importance\) must be >= 0"):
        importance_vector([1, -0.5, 0], 3)
    with pytest.raises(ValueError, match=r"ω \(importance\) must be a scalar or have shape \(3,\)"):
        importance_vector([1, 1], 3)
    with pytest.raises(ValueError, match=r"ω \(importance\) must be finite"):
        importance_vector([1, np.nan, 1], 3)


@pytest.mark.parametrize("q", [[1, -1, 1], [0, 0, 0], [1, 1]])
def test_bad_one_hot_probabilities_are_refused(q):
    with pytest.raises(ValueError, match="probabilities"):
        exactly_one_active(4, 3, q)
    with pytest.raises(ValueError, match="probabilities"):
        exactly_one_active_torch(4, 3, q)


@pytest.mark.parametrize(("T_", "D"), [(0, 3), (3, -1), (1.5, 3), (3, None)])
def test_bad_sizes_are_refused_by_exactly_one_active(T_, D):
    with pytest.raises((TypeError, ValueError), match="T|D"):
        exactly_one_active(T_, D)
    with pytest.raises((TypeError, ValueError), match="T|D"):
        streaming_moments(T_, D)


def test_streaming_refuses_bad_sparsity():
    with pytest.raises(ValueError, match="S"):
        streaming_moments(10, 3, 1.2)
    with pytest.raises(ValueError, match="S has shape"):
        streaming_moments(10, 3, [0.1, 0.2])


def test_inverse_density_is_one_over_density_and_zero_for_a_dead_feature():
    from toymodels.tied.data import inverse_density

    np.testing.assert_allclose(inverse_density([0.0, 0.5, 0.9, 1.0]), [1.0, 2.0, 10.0, 0.0])
    with np.errstate(all="raise"):  # no division by zero on the way
        assert inverse_density(np.ones((2, 3))).sum() == 0
