"""Tests of the calibration models (toymodels.lc.llc_models) and the posterior chains of the
ReLU output model (toymodels.lc.posterior)."""

import numpy as np
import pytest
import torch

from toymodels.lc import learning_coefficient as lc
from toymodels.lc import llc, posterior
from toymodels.lc import llc_models as lm
from toymodels.linear import hessian as lin_hessian
from toymodels.linear.autoencoder import second_moment


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
    # an embedded feature with bias ≥ 0 lets the dead feature's weights act: the rotation and
    # the dead feature's bias only
    assert lm.relu_flat_directions(W, np.array([0.0, -0.1, -1.0])).shape == (9, 2)


def test_square_flat_directions_keep_the_loss():
    """The square with two dead features (b = 0 on the square): the rotation and the two dead
    biases are flat, and the exact loss does not move along them."""
    from toymodels.relu import kgons

    pt = kgons.kgon_critical_point(6, 4, n_dead=2)
    W, b = pt.parameters()
    exact = lm.relu_one_sparse(W, b)
    flats = lm.relu_flat_directions(W, b)
    assert flats.shape[1] == 3
    w0 = torch.as_tensor(exact.w_star)[None]
    L0 = float(exact.loss_fn(w0, None))
    for v in flats.T[1:]:  # the biases: exactly flat; the rotation to second order
        for t in (-1e-2, 1e-2):
            assert float(exact.loss_fn(w0 + t * torch.as_tensor(v), None)) == pytest.approx(
                L0, rel=1e-12)


def test_posterior_draws_shapes_and_sgd_decreases_loss():
    sgd = posterior.relu_posterior_draws(4, 200, chains=4, steps=200, ε=0.2 / 200, temperature=0.0,
                                  record_every=50, seed=0)
    assert sgd.W.shape == (4, 2, 4) and sgd.b.shape == (4, 4) and sgd.history.shape == (4, 5)
    assert np.all(sgd.history[:, -1] < sgd.history[:, 0])
    with pytest.raises(ValueError, match="temperature"):
        posterior.relu_posterior_draws(4, 200, temperature=-1.0)


def test_posterior_draws_from_a_given_start():
    from toymodels.relu import kgons

    pt = kgons.kgon_critical_point(6, 6)
    W, b = pt.parameters()
    still = posterior.relu_posterior_draws(6, 500, chains=3, steps=10, temperature=0.0,
                                           ε=1e-7, init_std=0.0, start=(W, b), record_every=5)
    assert np.allclose(still.W, W[None], atol=1e-4) and np.allclose(still.b, b[None], atol=1e-4)
    with pytest.raises(ValueError, match="start must be"):
        posterior.relu_posterior_draws(6, 500, start=(W[:, :5], b), steps=1, record_every=1)
    with pytest.raises(TypeError, match="start"):
        posterior.relu_posterior_draws(6, 500, start=W, steps=1, record_every=1)


def test_stack_problems():
    probs = [lm.relu_one_sparse(np.eye(2, 3), -np.ones(3), 100, seed=s) for s in range(3)]
    st = lm.stack_problems(probs)
    assert st.groups == 3 and st.dim == 9 and st.n == 100 and st.w_star.shape == (3, 9)
    assert st.data[0].shape == (3, 100, 3)
    assert probs[0].groups == 1 and probs[0].n == 100
    with pytest.raises(ValueError, match="exact loss"):
        lm.stack_problems([lm.relu_one_sparse(np.eye(2, 3), -np.ones(3))] * 2)
    with pytest.raises(ValueError, match="same sizes"):
        lm.stack_problems([probs[0], lm.relu_one_sparse(np.eye(2, 3), -np.ones(3), 50)])
    with pytest.raises(TypeError, match="problems"):
        lm.stack_problems(probs[:1])
    with pytest.raises(ValueError, match="several seeds"):
        lm.exact_hessian(st)
    run = llc.sgld_llc(st.loss_fn, st.w_star, st.data, n=1000, ε=1e-5, γ=10.0, chains=3,
                       steps=20, burn_in=5, batch_size=8, warn=False)
    assert run.groups == 3
