"""Tests of toymodels.linear.autoencoder: the critical points of L(A,B) (notes Section 1)."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.linear import autoencoder as linear
from toymodels.linear import hessian
from toymodels.tied.data import sparse_uniform


def spd(λ, seed):
    """Σ = U diag(λ) Uᵀ with a random rotation U."""
    U, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(λ), len(λ))))
    return U @ np.diag(λ) @ U.T


@st.composite
def problems(draw):
    """Random SPD Σ with well-separated eigenvalues, a size d < D and an invertible C."""
    D = draw(st.integers(2, 5))
    d = draw(st.integers(1, D - 1))
    gaps = draw(st.lists(st.floats(0.1, 3.0), min_size=D, max_size=D))
    λ = np.cumsum(gaps)[::-1] * draw(st.sampled_from([1e-2, 1.0, 1e3]))
    seed = draw(st.integers(0, 2**31 - 1))
    return λ, spd(λ, seed), d, linear.random_invertible(d, seed + 1)


@settings(max_examples=40, deadline=None)
@given(problems())
def test_every_enumerated_point_is_critical_with_the_predicted_loss(problem):
    λ, Σ, d, C = problem
    points = linear.critical_points(Σ, d, C=C)
    assert len(points) == len(list(itertools.combinations(range(len(λ)), d)))
    for cp in points:
        assert linear.relative_gradient_norm(cp.A, cp.B, Σ) < 1e-10
        expected = λ.sum() - λ[list(cp.I)].sum()
        assert linear.loss(cp.A, cp.B, Σ) == pytest.approx(expected, rel=1e-9, abs=1e-9 * λ.sum())
        assert cp.level == pytest.approx(expected, rel=1e-12)
        # AB is the orthogonal projection onto span{u_i : i in I}, whatever C is (notes (11))
        U = np.linalg.eigh(Σ)[1][:, ::-1]
        P = U[:, list(cp.I)] @ U[:, list(cp.I)].T
        assert np.allclose(cp.A @ cp.B, P, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(problems())
def test_only_the_top_d_point_has_a_psd_hessian(problem):
    λ, Σ, d, C = problem
    for cp in linear.critical_points(Σ, d, C=C):
        H = hessian.hessian(cp.A, cp.B, Σ)
        μ = np.linalg.eigvalsh(H)
        psd = μ.min() >= -1e-9 * np.abs(μ).max()
        assert psd == (cp.I == tuple(range(d)))


@settings(max_examples=25, deadline=None)
@given(problems(), st.integers(0, 3))
def test_rank_deficient_points_are_critical_saddles(problem, r):
    λ, Σ, d, C = problem
    r = min(r, d - 1)
    for cp in linear.critical_points(Σ, d, C=C, rank=r):
        assert linear.relative_gradient_norm(cp.A, cp.B, Σ) < 1e-10
        assert np.linalg.matrix_rank(cp.A) == r
        assert linear.loss(cp.A, cp.B, Σ) == pytest.approx(cp.level, rel=1e-9)
        assert np.linalg.eigvalsh(hessian.hessian(cp.A, cp.B, Σ)).min() < 0


def test_loss_from_sigma_equals_loss_from_data():
    X = sparse_uniform(50, 5, 0.5, rng=3)
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((5, 2)), rng.standard_normal((2, 5))
    Σ = linear.second_moment(X)
    assert np.allclose(Σ, sum(np.outer(x, x) for x in X))
    assert linear.loss(A, B, Σ) == pytest.approx(linear.loss_from_data(A, B, X), rel=1e-12)


def test_gradient_matches_torch_autograd():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 4))
    Σ = linear.second_moment(X)
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))
    At = torch.tensor(A, requires_grad=True)
    Bt = torch.tensor(B, requires_grad=True)
    Xt = torch.tensor(X)
    ((Xt - Xt @ (At @ Bt).T) ** 2).sum().backward()
    gA, gB = linear.gradient(A, B, Σ)
    assert np.allclose(gA, At.grad.numpy(), rtol=1e-12, atol=1e-10)
    assert np.allclose(gB, Bt.grad.numpy(), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("ε", [1e-3, 0.1, 1.0, 5.0])
def test_perturbation_lowers_the_loss_exactly_as_in_18(ε):
    λ = np.array([5.0, 3.0, 2.0, 1.0])
    Σ = spd(λ, 2)
    C = linear.random_invertible(2, 5)
    for I in itertools.combinations(range(4), 2):
        cp = next(c for c in linear.critical_points(Σ, 2, C=C) if c.I == I)
        for j in I:
            for k in set(range(4)) - set(I):
                At, Bt = linear.perturbation(Σ, I, j, k, ε, C=C)
                drop = cp.level - linear.loss(At, Bt, Σ)
                assert drop == pytest.approx(linear.perturbation_drop(λ, j, k, ε), abs=1e-10)
                assert (drop > 0) == (k < j)


def test_principal_angles():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2))
    assert np.allclose(linear.principal_angles(X, X @ rng.standard_normal((2, 2))), 0, atol=1e-7)
    e = np.eye(4)
    θ = 0.3
    Y = np.stack([e[0], np.cos(θ) * e[1] + np.sin(θ) * e[2]], axis=1)
    assert np.allclose(linear.principal_angles(e[:, :2], Y), [0, θ], atol=1e-12)
    assert np.allclose(linear.principal_angles(e[:, :2], e[:, 2:]), [np.pi / 2] * 2)
    assert np.allclose(linear.principal_angles(e[:, :1], Y), [0])


def test_eigh_desc_orders_and_reconstructs():
    λ = np.array([4.0, 2.0, 1.0])
    Σ = spd(λ, 0)
    λ_hat, U = linear.eigh_desc(Σ)
    assert np.allclose(λ_hat, λ)
    assert np.allclose(U @ np.diag(λ_hat) @ U.T, Σ)


def test_critical_levels_lists_all_subsets():
    λ = np.array([3.0, 2.0, 1.0])
    levels = linear.critical_levels(λ, 2)
    assert len(levels) == 1 + 3 + 3
    assert levels[0] == (6.0, ())
    assert levels[-1] == (1.0, (0, 1))


# ---- bad input: a clear error naming the argument, or an explicit warning ----

@pytest.mark.parametrize("d", [4, 5])
def test_d_at_least_D_is_refused(d):
    with pytest.raises(ValueError, match="d must be smaller than D"):
        linear.critical_points(spd([4.0, 3, 2, 1], 0), d)


def test_d_not_an_integer_is_refused():
    with pytest.raises(TypeError, match="d must be an integer"):
        linear.critical_points(spd([4.0, 3, 2, 1], 0), 1.5)


@pytest.mark.parametrize("Σ, match", [
    (np.ones((3, 4)), "Σ must be square"),
    (np.array([[2.0, 1.0], [0.0, 2.0]]), "Σ must be symmetric"),
    (np.diag([1.0, -1.0, 2.0]), "Σ must be positive"),
    (np.diag([1.0, 0.0, 2.0]), "Σ must be positive definite"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "Σ contains NaN"),
])
def test_bad_sigma_is_refused(Σ, match):
    with pytest.raises(ValueError, match=match):
        linear.critical_points(Σ, 1)


def test_non_psd_sigma_is_refused_by_the_loss():
    with pytest.raises(ValueError, match="Σ must be positive semi-definite"):
        linear.loss(np.ones((3, 1)), np.ones((1, 3)), np.diag([1.0, -1.0, 2.0]))


def test_repeated_eigenvalues_raise_or_warn():
    Σ = spd([3.0, 2.0, 2.0, 1.0], 0)
    with pytest.raises(ValueError, match="repeated eigenvalues"):
        linear.critical_points(Σ, 2)
    with pytest.warns(linear.RepeatedEigenvalueWarning):
        points = linear.critical_points(Σ, 2, allow_repeated=True)
    for cp in points:  # the representatives are still critical
        assert linear.relative_gradient_norm(cp.A, cp.B, Σ) < 1e-10


def test_nan_in_data_is_refused():
    X = np.ones((5, 3))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        linear.second_moment(X)


def test_mismatched_shapes_are_refused():
    Σ = np.eye(3)
    with pytest.raises(ValueError, match="A must be D×d and B d×D"):
        linear.loss(np.ones((3, 2)), np.ones((1, 3)), Σ)
    with pytest.raises(ValueError, match="must act on R\\^3"):
        linear.gradient(np.ones((4, 2)), np.ones((2, 4)), Σ)


def test_perturbation_checks_indices():
    Σ = spd([4.0, 3, 2, 1], 0)
    with pytest.raises(ValueError, match="j must belong to I"):
        linear.perturbation(Σ, (0, 1), 2, 3, 0.1)
    with pytest.raises(ValueError, match="k must be an index"):
        linear.perturbation(Σ, (0, 1), 0, 1, 0.1)


def test_singular_C_is_refused():
    with pytest.raises(ValueError, match="C must be invertible"):
        linear.critical_points(spd([4.0, 3, 2, 1], 0), 2, C=np.ones((2, 2)))
