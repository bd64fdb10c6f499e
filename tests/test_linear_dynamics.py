"""Tests of toymodels.linear.dynamics: full-batch GD and Adam on the exact loss."""

import numpy as np
import pytest

from toymodels.linear import autoencoder as linear
from toymodels.linear import dynamics as ld


def spd(λ, seed):
    U, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(λ), len(λ))))
    return U @ np.diag(λ) @ U.T


λ = np.array([4.0, 2.0, 1.0, 0.5])
Σ = spd(λ, 0)


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_training_reaches_the_pca_minimum(optimizer):
    run = ld.train_linear(Σ, 2, steps=3000, optimizer=optimizer, init_scale=0.1, seed=1)
    assert run.loss[-1] == pytest.approx(λ[2:].sum(), rel=1e-4)
    U = linear.eigh_desc(Σ)[1]
    assert linear.principal_angles(run.A, U[:, :2]).max() < 1e-2
    assert run.loss[0] == pytest.approx(linear.loss(*_init(0.1, 1), Σ), rel=1e-12)


def _init(scale, seed):
    rng = np.random.default_rng(seed)
    return scale * rng.standard_normal((4, 2)), scale * rng.standard_normal((2, 4))


def test_gd_step_is_a_gradient_step():
    A, B = _init(0.3, 2)
    run = ld.train_linear(Σ, 2, steps=1, lr=0.01, A0=A, B0=B)
    gA, gB = linear.gradient(A, B, Σ)
    assert np.allclose(run.A, A - 0.01 * gA) and np.allclose(run.B, B - 0.01 * gB)


def test_gd_decreases_the_loss_monotonically_for_a_small_step():
    run = ld.train_linear(Σ, 2, steps=500, init_scale=0.1)
    assert np.all(np.diff(run.loss) <= 1e-12)


def test_escape_time_grows_like_log_one_over_epsilon_with_the_hessian_rate():
    lr = ld.default_lr(Σ)
    I = (0, 2)
    level = λ.sum() - λ[list(I)].sum()
    rate = np.log(1 + lr * ld.escape_rate(Σ, I, 2))
    times = [ld.escape_from_saddle(Σ, 2, I, ε, drop=0.5, steps=4000, seed=0) for ε in (1e-3, 1e-6)]
    slope = (times[1] - times[0]) / np.log(1e3)
    assert slope == pytest.approx(1 / rate, rel=0.05)
    assert level == pytest.approx(2.5)


def test_escape_rate_is_minus_the_smallest_pair_block_eigenvalue():
    # at I = {1,3} the only descending pair is (j=3, k=2)
    μ = np.linalg.eigvalsh(np.array([[2 * λ[2], -2 * λ[1]], [-2 * λ[1], 2 * λ[1]]])).min()
    assert ld.escape_rate(Σ, (0, 2), 2) == pytest.approx(-μ, rel=1e-10)
    assert ld.escape_rate(Σ, (0, 1), 2) == 0.0


def test_time_near_and_escape_time():
    loss = np.array([3.0, 3.0, 2.99, 2.0, 1.0])
    assert ld.time_near(loss, 3.0, 0.02) == 3
    assert ld.escape_time(loss, 3.0, 0.5) == 3
    assert ld.escape_time(loss, 3.0, 5.0) is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        ld.train_linear(Σ, 2, optimizer="sgd")
    with pytest.raises(ValueError, match="lr must be positive"):
        ld.train_linear(Σ, 2, lr=-1.0)
    with pytest.raises(ValueError, match="d must be smaller than D"):
        ld.train_linear(Σ, 4)
    with pytest.raises(ValueError, match="init_scale must be"):
        ld.train_linear(Σ, 2, init_scale=np.nan)
    with pytest.raises(FloatingPointError, match="diverged"):
        ld.train_linear(Σ, 2, lr=10.0, steps=200, init_scale=1.0)
