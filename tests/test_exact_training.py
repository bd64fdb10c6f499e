"""Tests of toymodels.relu.exact_training: the exact loss, its derivatives and the minimiser."""

import numpy as np
import pytest

from toymodels.relu import exact_training as et
from toymodels.relu import integrals as rl

ω5 = 0.9 ** np.arange(5)


@pytest.mark.parametrize("l_max", [1, 2])
@pytest.mark.parametrize("S", [0.5, 0.9, np.linspace(0.3, 0.95, 5)])
def test_exact_loss_matches_relu_loss(l_max, S):
    W, b = et.random_init(4, 2, 5, seed=3)
    b = b + np.random.default_rng(0).normal(scale=0.2, size=b.shape)
    got = et.exact_loss(W, b, ω5, S, l_max=l_max)
    ref = rl.restricted_loss(W, b, ω5, S, l_max=l_max)
    assert np.allclose(got, ref, rtol=1e-12, atol=1e-15)


def test_gradient_and_hessian_against_finite_differences():
    W, b = et.random_init(2, 2, 4, seed=1)
    b = b - 0.1
    L, g, H = et.exact_loss_grad_hessian(W, b, 1.0, 0.8, l_max=2)
    x = np.concatenate([W.reshape(2, -1), b], axis=1)
    h = 1e-6
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        up, dn = x + e, x - e
        Lu = et.exact_loss(up[:, :8].reshape(2, 2, 4), up[:, 8:], 1.0, 0.8)
        Ld = et.exact_loss(dn[:, :8].reshape(2, 2, 4), dn[:, 8:], 1.0, 0.8)
        assert np.allclose((Lu - Ld) / (2 * h), g[:, j], atol=1e-7 * max(1, np.abs(g).max()))
    assert np.allclose(H, np.swapaxes(H, 1, 2))
    assert np.allclose(L, et.exact_loss(W, b, 1.0, 0.8))


def test_minimize_reaches_certified_minima_deterministically():
    θ = 2 * np.pi * np.arange(5) / 5
    pent = 1.1 * np.stack([np.cos(θ), np.sin(θ)])
    W0 = pent + 0.05 * np.random.default_rng(0).normal(size=(4, 2, 5))  # near a pentagon
    b0 = np.full((4, 5), -0.2)
    r1 = et.minimize_exact(W0, b0, ω5, 0.95, l_max=2, steps=20, lr=0.01)
    r2 = et.minimize_exact(W0, b0, ω5, 0.95, l_max=2, steps=20, lr=0.01)
    assert np.array_equal(r1.W, r2.W) and np.array_equal(r1.loss, r2.loss)
    assert np.all(r1.converged) and np.all(r1.grad_norm < 1e-10)
    assert np.all(r1.hessian_eigenvalues[:, 0] > -1e-8)  # minima, not saddles
    # the rotation W -> RW leaves the loss unchanged: a zero eigenvalue
    assert np.all(np.abs(r1.hessian_eigenvalues).min(1) < 1e-8)
    assert np.all(r1.loss <= et.exact_loss(W0, b0, ω5, 0.95) + 1e-15)
    assert r1.history.shape[1] == 4


def test_newton_only_polishes_a_regular_pentagon():
    θ = 2 * np.pi * np.arange(5) / 5
    W0 = 1.17 * np.stack([np.cos(θ), np.sin(θ)])[None]
    r = et.minimize_exact(W0, np.full((1, 5), -0.28), 1.0, 0.99, l_max=1, steps=0)
    assert r.converged[0] and r.history.shape == (0, 1)
    assert np.allclose(np.linalg.norm(r.W[0], axis=0), np.linalg.norm(r.W[0, :, 0]), rtol=1e-8)


def test_random_init_shapes_and_scale():
    W, b = et.random_init(2000, 2, 5, seed=4)
    assert W.shape == (2000, 2, 5) and b.shape == (2000, 5) and not b.any()
    assert np.isclose(W.std(), np.sqrt(2 / 7), rtol=0.05)
    assert np.array_equal(W, et.random_init(2000, 2, 5, seed=4)[0])


@pytest.mark.parametrize("call,exc", [
    (lambda: et.exact_loss(np.zeros((2, 5)), np.zeros((1, 5)), 1.0, 0.9), ValueError),
    (lambda: et.exact_loss(np.zeros((1, 2, 5)), np.zeros((1, 4)), 1.0, 0.9), ValueError),
    (lambda: et.exact_loss(np.zeros((1, 2, 5)), np.zeros((1, 5)), 1.0, 1.5), ValueError),
    (lambda: et.exact_loss(np.zeros((1, 2, 5)), np.zeros((1, 5)), -1.0, 0.5), ValueError),
    (lambda: et.exact_loss(np.zeros((1, 2, 5)), np.zeros((1, 5)), 1.0, 0.5, l_max=3), ValueError),
    (lambda: et.exact_loss(np.full((1, 2, 5), np.nan), np.zeros((1, 5)), 1.0, 0.5), ValueError),
    (lambda: et.minimize_exact(np.zeros((1, 2, 5)), np.zeros((1, 5)), 1.0, 0.5, lr=-1), ValueError),
    (lambda: et.minimize_exact(np.zeros((1, 2, 5)), np.zeros((1, 5)), 1.0, 0.5, steps=1.5),
     TypeError),
    (lambda: et.random_init(0, 2, 5), ValueError),
    (lambda: et.random_init(10**7, 2, 5), ValueError),
    (lambda: et.random_init(3, 2, 5, scale=-1.0), ValueError),
])
def test_bad_input(call, exc):
    with pytest.raises(exc):
        call()


# --- the closed-form square integrals (toymodels.relu.square_integrals) -------------------------
def _square_cases():
    rng = np.random.default_rng(7)
    a, b, c = (rng.normal(size=4000) for _ in range(3))
    a[:200] = 0.0
    b[200:400] = 0.0
    c[400:600] = 0.0
    a[600:800] = -b[600:800]  # f constant along a diagonal
    for k, scale in enumerate((1e-2, 1e-3, 1e-5, 1e-9, 1e-14)):  # one slope much smaller
        b[800 + 100 * k: 900 + 100 * k] *= scale
    c[1400:1600] = -a[1400:1600]  # the kink through a corner
    return a * 3, b * 3, c * 3


def test_square_integrals_match_piecewise_quadrature():
    import torch

    from toymodels.relu import square_integrals as sq

    a, b, c = _square_cases()
    E, U = sq.square_relu_integrals(a, b, c)
    t = [torch.as_tensor(x) for x in (a, b, c)]
    E_ref = rl._inner_then_outer("relu", *t).numpy()
    R_ref = rl._inner_then_outer("recon", *t).numpy()
    scale = (np.abs(a) + np.abs(b) + np.abs(c)) ** 2 + 1e-300
    assert np.all(np.abs(E - E_ref) <= 1e-13 * scale)
    assert np.all(np.abs(1 / 3 - 2 * U + E - R_ref) <= 1e-13 * (scale + 1))
    # the fast fourth-difference form used by the loss agrees with the triangles
    E_fast = sq._square_relu_sq(*t).numpy()
    assert np.all(np.abs(E_fast - E) <= 1e-13 * scale)
    assert np.all(E >= -1e-15 * scale)


def test_square_integrals_against_monte_carlo():
    from toymodels.relu import square_integrals as sq

    uv = np.random.default_rng(3).random((400_000, 2))
    for α, β, γ in ((1.2, -0.7, 0.1), (-0.4, 0.9, -0.3), (2.0, 1e-6, -1.0), (0.5, 0.5, 0.2)):
        f = np.maximum(α * uv[:, 0] + β * uv[:, 1] + γ, 0)
        E, U = sq.square_relu_integrals(α, β, γ)
        for got, sample in ((E, f * f), (U, uv[:, 0] * f)):
            se = sample.std() / np.sqrt(len(sample))
            assert abs(got - sample.mean()) <= 5 * se + 1e-15


def test_square_integrals_bad_input():
    from toymodels.relu import square_integrals as sq

    with pytest.raises(ValueError, match="γ"):
        sq.square_relu_integrals(1.0, 1.0, np.nan)
    with pytest.raises(TypeError, match="α"):
        sq.square_relu_integrals("1", 1.0, 0.0)
    with pytest.raises(ValueError, match="broadcast"):
        sq.square_relu_integrals(np.ones(2), np.ones(3), 0.0)


def test_newton_finisher_with_finite_difference_hessians_certifies_with_exact_ones():
    W0, b0 = et.random_init(40, 2, 5, seed=11)
    r = et.minimize_exact(W0, b0, 1.0, 0.9, l_max=2, steps=100, lr=0.1)
    _, g, H = et.exact_loss_grad_hessian(r.W, r.b, 1.0, 0.9, l_max=2)
    assert np.mean(r.converged) >= 0.9
    assert np.allclose(np.linalg.norm(g, axis=1), r.grad_norm, rtol=1e-6, atol=1e-13)
    assert np.allclose(np.linalg.eigvalsh(H), r.hessian_eigenvalues, atol=1e-9)
    rd = et.minimize_exact(W0, b0, 1.0, 0.9, l_max=2, steps=100, lr=0.1, hessian="differences")
    assert np.array_equal(rd.W, r.W)
    # where the loss is twice differentiable (a pentagon; not e.g. a bias exactly 0, where
    # ReLU(b)² has only one-sided second derivatives) the two Hessians agree
    from toymodels.relu.basins import classify

    smooth = np.array([classify(W) == "pentagon" for W in r.W])
    assert smooth.sum() >= 20
    assert np.allclose(rd.hessian_eigenvalues[smooth], r.hessian_eigenvalues[smooth], atol=1e-7)
    with pytest.raises(ValueError, match="hessian"):
        et.minimize_exact(W0, b0, 1.0, 0.9, steps=1, hessian="fd")


def test_logged_parameters_reproduce_the_logged_losses():
    W0, b0 = et.random_init(3, 2, 5, seed=2, scale=0.1)
    r = et.minimize_exact(W0, b0, 1.0, 0.9, l_max=2, steps=30, lr=0.02, log_every=7)
    assert r.W_history.shape == (r.history.shape[0], 3, 2, 5) and r.b_history.shape[-1] == 5
    assert np.array_equal(r.W_history[0], W0)
    for Wt, bt, Lt in zip(r.W_history, r.b_history, r.history, strict=True):
        assert np.allclose(et.exact_loss(Wt, bt, 1.0, 0.9), Lt, rtol=1e-12)


def test_results_do_not_depend_on_the_number_of_threads(monkeypatch):
    """Chunks run on worker threads when torch has more than one; each chunk is computed by
    the same operations, so the end points are bitwise the same."""
    import torch

    monkeypatch.setattr(et, "_CHUNK", 8)  # 30 instances: four chunks
    W0, b0 = et.random_init(30, 2, 5, seed=6)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        r1 = et.minimize_exact(W0, b0, 1.0, 0.9, l_max=2, steps=20, lr=0.1, hessian="differences")
        torch.set_num_threads(3)
        r3 = et.minimize_exact(W0, b0, 1.0, 0.9, l_max=2, steps=20, lr=0.1, hessian="differences")
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(r1.W, r3.W) and np.array_equal(r1.loss, r3.loss)
    assert np.array_equal(r1.hessian_eigenvalues, r3.hessian_eigenvalues)


def test_reused_hessians_reach_the_same_minima_with_fewer_gradients(monkeypatch):
    """Newton's chord steps (a Hessian kept while it cuts ‖∇L‖ four-fold) end where fresh
    Hessians at every step end, with fewer gradient evaluations. A start that Adam left far
    from a minimum may take another path into another basin: at least 90% end alike."""
    W0, b0 = et.random_init(20, 2, 5, seed=8)
    calls = []
    grad = et._grad

    def counting(x, f):
        calls[-1] += x.shape[0]
        return grad(x, f)

    monkeypatch.setattr(et, "_grad", counting)
    runs = {}
    for gain in (4.0, np.inf):  # np.inf: a fresh Hessian at every step
        monkeypatch.setattr(et, "_REUSE_GAIN", gain)
        calls.append(0)
        runs[gain] = et.minimize_exact(W0, b0, 1.0, 0.9, l_max=2, steps=100, lr=0.1,
                                       hessian="differences")
    new, old = runs[4.0], runs[np.inf]
    assert new.converged.mean() >= 0.9 and old.converged.mean() >= 0.9
    same = np.abs(new.loss - old.loss) <= 1e-9 * np.abs(old.loss)
    assert same.mean() >= 0.9
    G_new = np.einsum("nki,nkj->nij", new.W, new.W)  # up to the rotation symmetry
    G_old = np.einsum("nki,nkj->nij", old.W, old.W)
    assert np.allclose(G_new[same], G_old[same], atol=1e-5 * np.abs(G_old).max())
    assert calls[0] < calls[1]
