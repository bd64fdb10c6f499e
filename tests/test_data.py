import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.tied.data import sparse_uniform, sparse_uniform_torch, sparsity_grid

# Monte Carlo checks use a 6-standard-error band: a false law fails them, noise does not.
T = 200_000


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
    x = sparse_uniform_torch(T, 2, S, instances=2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, T, 2)
    _check_law(x.numpy(), np.broadcast_to(S, (2, 2)))
    y = sparse_uniform(T, 2, S, instances=2, rng=0)
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
