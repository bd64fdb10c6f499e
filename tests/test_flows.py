"""Tests of toymodels.tied.flows: the tied and untied flows of notes §2.2 and their energies."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.linear import autoencoder as linear
from toymodels.tied import flows

sizes = st.tuples(st.integers(1, 4), st.integers(2, 7)).filter(lambda t: t[0] < t[1])


def _random(d, D, seed):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((D, D))
    Σ = G @ G.T + 0.1 * np.eye(D)
    return rng.standard_normal((d, D)), Σ


def _autograd(f, W):
    Wt = torch.tensor(W, requires_grad=True)
    f(Wt).backward()
    return Wt.grad.numpy()


@given(sizes, st.integers(0, 10**6))
@settings(max_examples=40, deadline=None)
def test_exact_tied_gradient_is_the_gradient_of_the_tied_loss(dD, seed):
    W, Σ = _random(*dD, seed)
    Σt = torch.tensor(Σ)

    def L(Wt):
        M = Wt.T @ Wt
        return torch.trace(Σt) - 2 * torch.trace(M @ Σt) + torch.trace(M @ Σt @ M)

    assert np.isclose(flows.tied_loss(W, Σ), float(L(torch.tensor(W))))
    assert np.allclose(flows.tied_gradient(W, Σ), _autograd(L, W), rtol=1e-9, atol=1e-9)


def test_tied_loss_is_the_sum_of_squared_reconstruction_errors():
    rng = np.random.default_rng(0)
    X, W = rng.random((50, 5)), rng.standard_normal((2, 5))
    direct = np.sum((X - X @ (W.T @ W).T) ** 2)
    assert np.isclose(flows.tied_loss(W, linear.second_moment(X)), direct)


@given(sizes, st.integers(0, 10**6))
@settings(max_examples=40, deadline=None)
def test_tying_the_untied_flow_gives_the_notes_flow_and_oja(dD, seed):
    W, Σ = _random(*dD, seed)
    dA, dB = flows.untied_field(W.T, W, Σ)
    gA, gB = linear.gradient(W.T, W, Σ)
    assert np.allclose(dA, -gA / 2) and np.allclose(dB, -gB / 2)
    assert np.allclose(dB, flows.notes_field(W, Σ))
    assert np.allclose(dA.T, flows.oja_field(W, Σ))
    assert np.allclose(flows.exact_field(W, Σ), -flows.tied_gradient(W, Σ) / 2)


def test_the_two_halves_differ_so_the_untied_flow_leaves_the_tied_set():
    W, Σ = _random(2, 5, 3)
    dA, dB = flows.untied_field(W.T, W, Σ)
    assert np.linalg.norm(dA.T - dB) > 1e-3 * np.linalg.norm(dB)
    traj = flows.integrate_untied(W.T, W, Σ, 0.05, n_eval=3)
    assert np.linalg.norm(traj.A[-1].T - traj.W[-1]) > 1e-6


@given(sizes, st.integers(0, 10**6))
@settings(max_examples=30, deadline=None)
def test_eigenbasis_form_and_column_form_agree_with_the_notes_flow(dD, seed):
    W, Σ = _random(*dD, seed)
    λ, U = np.linalg.eigh(Σ)
    Wbar = W @ U
    assert np.allclose(flows.notes_field(W, Σ) @ U, flows.eigenbasis_field(Wbar, λ))
    assert np.allclose(flows.column_field(Wbar, λ), flows.eigenbasis_field(Wbar, λ))


@given(sizes, st.integers(0, 10**6), st.floats(0.1, 5))
@settings(max_examples=30, deadline=None)
def test_energies_and_their_gradients(dD, seed, λ):
    W, _ = _random(*dD, seed)
    D = W.shape[1]

    def E_notes(Wt):
        M = Wt.T @ Wt
        off = M - torch.diag(torch.diag(M))
        return λ / 4 * ((1 - torch.diag(M)) ** 2).sum() + λ / 2 * (off**2).sum()

    def E_corr(Wt):
        return λ / 4 * ((torch.eye(D, dtype=Wt.dtype) - Wt.T @ Wt) ** 2).sum()

    assert np.isclose(flows.energy_notes(W, λ), float(E_notes(torch.tensor(W))))
    assert np.isclose(flows.energy_corrected(W, λ), float(E_corr(torch.tensor(W))))
    assert np.allclose(flows.energy_notes_gradient(W, λ), _autograd(E_notes, W))
    assert np.allclose(flows.energy_corrected_gradient(W, λ), _autograd(E_corr, W))
    Σ = λ * np.eye(D)
    assert np.isclose(flows.energy_corrected(W, λ), flows.tied_loss(W, Σ) / 4)
    assert np.allclose(-flows.energy_corrected_gradient(W, λ), flows.notes_field(W, Σ))


def test_the_notes_energy_does_not_generate_the_flow_when_features_interfere():
    W, _ = _random(2, 5, 1)
    v, g = flows.notes_field(W, np.eye(5)), -flows.energy_notes_gradient(W)
    assert np.linalg.norm(v - g) > 0.1 * np.linalg.norm(v)


@given(sizes, st.integers(0, 10**6))
@settings(max_examples=30, deadline=None)
def test_every_orthonormal_row_matrix_is_a_fixed_point_of_the_notes_flow(dD, seed):
    d, D = dD
    _, Σ = _random(d, D, seed)
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, d)))[0]
    W = Q.T
    assert flows.fixed_point_residual(W, Σ, "notes") < 1e-12
    # ... but generically not of Oja's rule or the exact flow
    assert flows.fixed_point_residual(W, Σ, "oja") > 1e-6
    assert flows.fixed_point_residual(W, Σ, "exact") > 1e-6
    U = np.linalg.eigh(Σ)[1][:, ::-1]
    assert flows.fixed_point_residual(U[:, :d].T, Σ, "exact") < 1e-12


def test_exact_flow_decreases_the_loss_and_finds_the_principal_subspace():
    W0, Σ = _random(2, 5, 4)
    Σ = Σ / np.linalg.eigvalsh(Σ).max()
    traj = flows.integrate_tied(0.1 * W0, Σ, 200.0, flow="exact", n_eval=50)
    L = [flows.tied_loss(W, Σ) for W in traj.W]
    assert np.all(np.diff(L) <= 1e-12)
    λ = np.sort(np.linalg.eigvalsh(Σ))[::-1]
    assert np.isclose(L[-1], λ[2:].sum(), rtol=1e-6)
    assert flows.subspace_angle(traj.W[-1], Σ) < 1e-4


def test_notes_flow_freezes_where_it_reaches_the_sphere():
    Σ = np.diag([3.0, 2.0, 1.0])
    w0 = np.array([[0.6, 0.6, 0.5]]) / np.linalg.norm([0.6, 0.6, 0.5]) * 0.99
    end = flows.integrate_tied(w0, Σ, 50.0, flow="notes", n_eval=2).W[-1]
    assert np.isclose(np.linalg.norm(end), 1, atol=1e-6)
    assert flows.subspace_angle(end, Σ) > 0.5  # far from the top eigenvector e_1
    assert flows.subspace_angle(flows.integrate_tied(w0, Σ, 50.0, flow="oja").W[-1], Σ) < 1e-3


def test_gradient_descent_tracks_the_flow_for_small_steps():
    W0, Σ = _random(2, 4, 6)
    Σ = Σ / np.linalg.eigvalsh(Σ).max()
    flow = flows.integrate_tied(0.3 * W0, Σ, 2.0, flow="exact", n_eval=2).W[-1]
    errs = [np.linalg.norm(flows.gradient_descent_tied(0.3 * W0, Σ, h, int(2 / h)).W[-1] - flow)
            for h in (0.02, 0.01)]
    assert errs[1] < 0.6 * errs[0]  # first order in the step size


def test_gram_has_norms_on_the_diagonal():
    W = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0]])
    M = flows.gram(W)
    assert np.allclose(np.diag(M), np.sum(W**2, axis=0)) and np.isclose(M[0, 2], 2.0)


def test_bad_inputs_are_refused():
    Σ = np.eye(3)
    with pytest.raises(ValueError, match="W must be d×D with D = 3"):
        flows.notes_field(np.ones((1, 4)), Σ)
    with pytest.raises(ValueError, match="flow must be one of"):
        flows.integrate_tied(np.ones((1, 3)), Σ, 1.0, flow="sideways")
    with pytest.raises(ValueError, match="t_max must be positive"):
        flows.integrate_tied(np.ones((1, 3)), Σ, -1.0)
    with pytest.raises(ValueError, match="symmetric"):
        flows.tied_loss(np.ones((1, 3)), np.triu(np.ones((3, 3))))
    with pytest.raises(ValueError, match="λ must be a scalar"):
        flows.energy_notes(np.ones((1, 3)), [1.0, 2.0])
    with pytest.raises(ValueError, match="lr must be positive"):
        flows.gradient_descent_tied(np.ones((1, 3)), Σ, 0.0, 3)
    with pytest.raises(TypeError, match="steps"):
        flows.gradient_descent_tied(np.ones((1, 3)), Σ, 0.1, 2.5)
    with pytest.raises(ValueError, match="not unique"):
        flows.subspace_angle(np.ones((1, 3)), Σ)
    with pytest.raises(ValueError, match="W contains NaN"):
        flows.exact_field(np.full((1, 3), np.nan), Σ)


@given(sizes, st.integers(0, 10**6), st.sampled_from(sorted(flows.FLOWS)))
@settings(max_examples=15, deadline=None)
def test_hidden_lyapunov_never_increases_along_the_tied_flows(dD, seed, flow):
    W0, Σ = _random(*dD, seed)
    Σ = Σ / np.linalg.eigvalsh(Σ).max()
    rtol = 1e-9
    traj = flows.integrate_tied(W0, Σ, 5.0, flow=flow, n_eval=30, rtol=rtol)
    V = [flows.hidden_lyapunov(W) for W in traj.W]
    # non-increasing up to the integrator's relative error (a plateau may wobble by about rtol·V)
    assert np.all(np.diff(V) <= 10 * rtol * max(V[0], 1))
    d, D = dD
    assert np.isclose(flows.energy_corrected(W0), flows.hidden_lyapunov(W0) + (D - d) / 4)
