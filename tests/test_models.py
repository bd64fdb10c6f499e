"""The three toy models: forward maps and hand-derived gradients against autograd (float64)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.train import models

F64 = torch.float64


def _setup(model, n, T, d, D, seed, zero_importance=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, T, D, generator=g, dtype=F64)
    x = torch.where(torch.rand(n, T, D, generator=g, dtype=F64) < 0.4, 0.0, x)  # sparse
    ω = torch.rand(n, D, generator=g, dtype=F64) + 0.1
    if zero_importance:
        ω[:, 0] = 0.0
    params = {k: torch.randn(s, generator=g, dtype=F64)
              for k, s in models.param_shapes(model, n, d, D).items()}
    return x, ω, params


def _autograd(model, params, x, ω):
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    L = models.loss(model, p, x, ω)
    L.sum().backward()
    return L.detach(), {k: v.grad for k, v in p.items()}


def _hand(model, params, x, ω):
    grads = {k: torch.empty_like(v) for k, v in params.items()}
    L = models.loss_and_grad(model, params, x.transpose(1, 2).contiguous(), 2 * ω / x.shape[1],
                             grads)
    return L, grads


@pytest.mark.parametrize("model", models.MODELS)
@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 3), T=st.integers(1, 40), d=st.integers(1, 4), D=st.integers(1, 7),
       seed=st.integers(0, 2**31 - 1), zero=st.booleans())
def test_hand_gradients_equal_autograd(model, n, T, d, D, seed, zero):
    x, ω, params = _setup(model, n, T, d, D, seed, zero)
    L_ref, g_ref = _autograd(model, params, x, ω)
    L, g = _hand(model, params, x, ω)
    torch.testing.assert_close(L, L_ref, rtol=1e-10, atol=1e-12)
    assert g.keys() == g_ref.keys()
    for k in g:
        torch.testing.assert_close(g[k], g_ref[k], rtol=1e-9, atol=1e-11)


def test_linear_gradient_is_equation_19_of_the_notes():
    """With ω = 1 and Σ = Σ_t x_t x_tᵀ, ∂L/∂B = −(2/T)(AᵀΣ − AᵀABΣ), ∂L/∂A = −(2/T)(ΣBᵀ − ABΣBᵀ)."""
    n, T, d, D = 2, 30, 2, 4
    x, _, p = _setup("linear", n, T, d, D, seed=3)
    ω = torch.ones(n, D, dtype=F64)
    _, g = _hand("linear", p, x, ω)
    for k in range(n):
        A, B, X = p["A"][k], p["B"][k], x[k]
        Σ = X.T @ X
        torch.testing.assert_close(g["B"][k], -(2 / T) * (A.T @ Σ - A.T @ A @ B @ Σ))
        torch.testing.assert_close(g["A"][k], -(2 / T) * (Σ @ B.T - A @ B @ Σ @ B.T))


def test_forward_maps_are_the_models_of_the_notes():
    n, T, d, D = 2, 5, 3, 6
    for model in models.MODELS:
        x, _, p = _setup(model, n, T, d, D, seed=7)
        out = models.forward(model, p, x)
        for k in range(n):
            for t in range(T):
                v = x[k, t]
                if model == "linear":
                    want = p["A"][k] @ p["B"][k] @ v
                elif model == "tied":
                    want = p["W"][k].T @ p["W"][k] @ v
                else:
                    want = torch.relu(p["W"][k].T @ p["W"][k] @ v + p["b"][k])
                torch.testing.assert_close(out[k, t], want)


def test_loss_is_importance_weighted_sum_over_features_mean_over_batch():
    x, ω, p = _setup("relu", 2, 9, 2, 3, seed=1)
    r = (models.forward("relu", p, x) - x).numpy()
    want = (ω.numpy()[:, None, :] * r**2).sum(-1).mean(-1)
    np.testing.assert_allclose(models.loss("relu", p, x, ω).numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("model", models.MODELS)
def test_instances_are_independent(model):
    """Changing (even to NaN) one instance's parameters leaves the others' gradients unchanged."""
    x, ω, p = _setup(model, 4, 20, 2, 5, seed=11)
    _, g = _hand(model, p, x, ω)
    q = {k: v.clone() for k, v in p.items()}
    for v in q.values():
        v[0] = float("nan")
    L2, g2 = _hand(model, q, x, ω)
    assert torch.isnan(L2[0]) and torch.isfinite(L2[1:]).all()
    for k in g:
        assert torch.equal(g[k][1:], g2[k][1:])


def test_bad_model_name_is_refused():
    with pytest.raises(ValueError, match=r"model must be one of \['linear', 'tied', 'relu'\]"):
        models.param_shapes("sigmoid", 1, 1, 1)
    with pytest.raises(ValueError, match="model must be one of"):
        models.forward("Relu", {}, torch.zeros(1, 1, 1))


def test_forward_and_loss_accept_any_real_batch_and_refuse_bad_ones_by_name():
    x, ω, params = _setup("relu", 2, 4, 2, 3, seed=0)
    want = models.loss("relu", params, x, ω)
    for xv in (x.numpy(), x.tolist(), x.to(torch.float32)):
        torch.testing.assert_close(models.loss("relu", params, xv, ω), want,
                                   rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(models.loss("relu", params, x, ω.numpy().tolist()), want)
    nan = x.clone()
    nan[0, 0, 0] = float("nan")
    cases = [(dict(x=x + 0j), TypeError, "x must be .*complex"),
             (dict(x=nan), ValueError, "x contains NaN"),
             (dict(x=x > 0), TypeError, "x must be .*bool"),
             (dict(x=x[:, :, :2]), ValueError, r"x must have shape \(n, T, D\) = \(2, T, 3\)"),
             (dict(ω=-ω), ValueError, r"ω \(importance\) must be >= 0"),
             (dict(ω=ω[:, :2]), ValueError, r"ω \(importance\) has shape"),
             (dict(ω="1"), TypeError, r"ω \(importance\) must be"),
             (dict(params={"W": params["W"]}), ValueError, "params of a 'relu' model"),
             (dict(params={**params, "b": params["b"][:, :2]}), ValueError, r"params\['b'\]")]
    for kw, exc, msg in cases:
        args = {"params": params, "x": x, "ω": ω, **kw}
        with pytest.raises(exc, match=msg):
            models.loss("relu", **args)


def test_param_shapes_checks_the_sizes_by_name():
    assert models.param_shapes("linear", 2, 1, 3) == {"A": (2, 3, 1), "B": (2, 1, 3)}
    for n, d, D, msg in [(True, 1, 3, "n must be an integer"), (2, 1.5, 3, "d must be an int"),
                         (2, 1, 0, "D must be >= 1"), (2, 1, 1 + 1j, "D must be an integer")]:
        with pytest.raises((TypeError, ValueError), match=msg):
            models.param_shapes("relu", n, d, D)


def test_the_registry_holds_one_class_per_model_in_order():
    assert list(models.MODELS) == ["linear", "tied", "relu"]
    for name, m in models.MODELS.items():
        assert isinstance(m, models.ToyModel) and m.name == name
    with pytest.raises(TypeError, match="register takes a ToyModel subclass"):
        models.register(int)


def test_a_new_model_is_one_registered_class():
    """Adding a model touches one place: a ToyModel subclass with @register. Here the tied model
    with a bias, x ↦ WᵀWx + b; the config accepts it, its gradient equals autograd's, and the
    fast engine and the reference loop train it to the same losses."""
    from toymodels.train.config import TrainConfig
    from toymodels.train.engine import train

    @models.register
    class TiedAffine(models.ToyModel):
        name, zero_init = "tied_affine", ("b",)

        def shapes(self, n, d, D):
            return {"W": (n, d, D), "b": (n, D)}

        def forward(self, params, x):
            W = params["W"]
            return torch.bmm(torch.bmm(x, W.transpose(1, 2)), W) + params["b"].unsqueeze(1)

        def loss_and_grad(self, params, xT, c, grads, ws, need_loss):
            W = params["W"]
            H = torch.bmm(W, xT, out=ws.H)
            R = torch.baddbmm(params["b"].unsqueeze(2), W.transpose(1, 2), H, out=ws.R).sub_(xT)
            L = models._weighted_sq(R, c, ws) if need_loss else None
            torch.sum(R, dim=2, out=grads["b"]).mul_(c)
            models._tied_weight_grad(W, H, R, xT, c, grads["W"], ws)
            return L

    try:
        x, ω, params = _setup("tied_affine", 2, 17, 2, 5, seed=4)
        L_ref, g_ref = _autograd("tied_affine", params, x, ω)
        L, g = _hand("tied_affine", params, x, ω)
        torch.testing.assert_close(L, L_ref, rtol=1e-10, atol=1e-12)
        for k in g:
            torch.testing.assert_close(g[k], g_ref[k], rtol=1e-9, atol=1e-11)
        cfg = TrainConfig(model="tied_affine", D=5, d=2, n=2, S=0.5, batch_size=32, steps=30,
                          log_every=10, dtype="float64", progress=False)
        fused, ref = train(cfg), train(cfg, engine="reference")
        np.testing.assert_allclose(fused.loss_history, ref.loss_history, rtol=1e-9)
        assert fused.b.shape == (2, 5) and fused.torch_params().keys() == {"W", "b"}
    finally:
        del models.MODELS["tied_affine"]
