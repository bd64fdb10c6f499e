"""Tests of toymodels.linear.hessian: exact Hessian of L(A,B) and its inertia at critical points."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.linear import autoencoder as linear
from toymodels.linear import hessian


def spd(λ, seed):
    U, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(λ), len(λ))))
    return U @ np.diag(λ) @ U.T


def torch_hessian(A, B, Σ):
    D, d = A.shape
    Σt = torch.tensor(Σ)

    def L(θ):
        M = θ[: D * d].reshape(D, d) @ θ[D * d:].reshape(d, D)
        return torch.trace(Σt) - 2 * torch.trace(M @ Σt) + torch.trace(M @ Σt @ M.T)

    θ = torch.tensor(np.concatenate([A.ravel(), B.ravel()]))
    return torch.autograd.functional.hessian(L, θ).numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_matches_torch_at_random_points(seed):
    rng = np.random.default_rng(seed)
    Σ = spd(rng.uniform(0.5, 3, 4), seed)
    A, B = rng.standard_normal((4, 2)), rng.standard_normal((2, 4))
    assert np.allclose(hessian.hessian(A, B, Σ), torch_hessian(A, B, Σ), rtol=1e-10, atol=1e-10)


def test_quadratic_form_is_the_hessian():
    rng = np.random.default_rng(3)
    Σ = spd([3.0, 2.0, 1.0], 0)
    A, B = rng.standard_normal((3, 2)), rng.standard_normal((2, 3))
    dA, dB = rng.standard_normal((3, 2)), rng.standard_normal((2, 3))
    v = np.concatenate([dA.ravel(), dB.ravel()])
    H = hessian.hessian(A, B, Σ)
    assert hessian.hessian_quadratic_form(A, B, Σ, dA, dB) == pytest.approx(v @ H @ v, rel=1e-12)
    # and it is the second derivative of t ↦ L(A + t dA, B + t dB)
    f = [linear.loss(A + t * dA, B + t * dB, Σ) for t in (-1e-3, 0.0, 1e-3)]
    assert (f[0] - 2 * f[1] + f[2]) / 1e-6 == pytest.approx(v @ H @ v, rel=1e-5)


@st.composite
def problems(draw):
    D = draw(st.integers(2, 5))
    d = draw(st.integers(1, D - 1))
    r = draw(st.integers(0, d))
    gaps = draw(st.lists(st.floats(0.1, 3.0), min_size=D, max_size=D))
    λ = np.cumsum(gaps)[::-1]
    seed = draw(st.integers(0, 2**31 - 1))
    return λ, spd(λ, seed), d, r, linear.random_invertible(d, seed + 1)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_inertia_follows_the_formula_at_every_critical_point(problem):
    λ, Σ, d, r, C = problem
    for cp in linear.critical_points(Σ, d, C=C, rank=r):
        H = hessian.hessian(cp.A, cp.B, Σ)
        assert hessian.inertia(H, rtol=1e-8) == hessian.predicted_inertia(λ, cp.I, d)


def test_zero_directions_are_the_gl_d_orbit():
    λ = np.array([4.0, 3.0, 2.0, 1.0])
    Σ = spd(λ, 1)
    C = linear.random_invertible(2, 0)
    for cp in linear.critical_points(Σ, 2, C=C):
        H = hessian.hessian(cp.A, cp.B, Σ)
        # tangent of t ↦ (A e^{tX}, e^{-tX} B): δA = AX, δB = −XB
        T = np.stack([np.concatenate([(cp.A @ X).ravel(), (-X @ cp.B).ravel()])
                      for X in np.eye(4).reshape(4, 2, 2)], axis=1)
        assert np.allclose(H @ T, 0, atol=1e-10)
        assert np.linalg.matrix_rank(T) == 4


def test_pair_block_is_the_hessian_restricted_to_the_pair():
    λ = np.array([4.0, 3.0, 2.0, 1.0])
    Σ = spd(λ, 1)
    U = linear.eigh_desc(Σ)[1]
    for cp in linear.critical_points(Σ, 2):
        for (jpos, j), k in itertools.product(enumerate(cp.I), set(range(4)) - set(cp.I)):
            e = np.eye(2)[jpos]
            dirs = [(np.outer(U[:, k], e), np.zeros((2, 4))),
                    (np.zeros((4, 2)), np.outer(e, U[:, k]))]
            V = np.stack([np.concatenate([a.ravel(), b.ravel()]) for a, b in dirs], axis=1)
            H = hessian.hessian(cp.A, cp.B, Σ)
            assert np.allclose(V.T @ H @ V, hessian.pair_block(λ[j], λ[k]), atol=1e-10)


def test_inertia_refuses_non_symmetric():
    with pytest.raises(ValueError, match="H must be a symmetric"):
        hessian.inertia(np.array([[0.0, 1.0], [0.0, 0.0]]))


def test_predicted_inertia_refuses_bad_sizes():
    with pytest.raises(ValueError, match="need"):
        hessian.predicted_inertia(np.array([3.0, 2.0, 1.0]), (0, 1, 2), 2)


@pytest.mark.parametrize("seed", range(4))
def test_find_critical_point_finds_a_point_of_proposition_1(seed):
    λ = np.array([4.0, 3.0, 2.0, 1.0])
    Σ = spd(λ, seed)
    A, B = hessian.find_critical_point(Σ, 2, seed=seed)
    assert linear.relative_gradient_norm(A, B, Σ) < 1e-10
    # AB is an orthogonal projection onto eigenvectors, and the loss is the sum of the rest
    U = linear.eigh_desc(Σ)[1]
    P = U.T @ A @ B @ U
    keep = np.flatnonzero(np.isclose(np.diag(P), 1, atol=1e-8))
    assert np.allclose(P, np.diag(np.isin(np.arange(4), keep).astype(float)), atol=1e-8)
    assert linear.loss(A, B, Σ) == pytest.approx(np.delete(λ, keep).sum(), rel=1e-9)
