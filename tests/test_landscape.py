import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.relu import integrals as ri
from toymodels.relu import kgons as kg
from toymodels.relu import landscape as ls
from toymodels.relu import loss as rl
from toymodels.relu import polytopes as pt


def _random(seed, d=2, D=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(d, D)), 0.3 * rng.normal(size=D)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), S=st.sampled_from([None, 0.8]))
def test_hessian_matches_finite_differences_of_the_gradient(seed, S):
    W, b = _random(seed)
    H = ls.loss_hessian(W, b, S=S)
    θ = ls.flatten(W, b)
    h = 1e-6
    rng = np.random.default_rng(seed)
    v = rng.normal(size=θ.size)
    gp = ls.loss_gradient(*ls.unflatten(θ + h * v, 2, 4), S=S)
    gm = ls.loss_gradient(*ls.unflatten(θ - h * v, 2, 4), S=S)
    fd = (gp - gm) / (2 * h)
    assert np.allclose(H @ v, fd, atol=1e-5 * max(1.0, np.abs(fd).max()))
    assert np.allclose(H, H.T)


def test_gradient_matches_the_loss():
    W, b = _random(3, d=3, D=5)
    g = ls.loss_gradient(W, b, S=0.9, l_max=1)
    θ = ls.flatten(W, b)
    h = 1e-6
    for i in (0, 7, 16):
        e = np.zeros(θ.size)
        e[i] = h
        fp = ri.restricted_loss(*ls.unflatten(θ + e, 3, 5), 1.0, 0.9, l_max=1)
        fm = ri.restricted_loss(*ls.unflatten(θ - e, 3, 5), 1.0, 0.9, l_max=1)
        assert g[i] == pytest.approx((fp - fm) / (2 * h), abs=1e-8)


def test_flatten_round_trip():
    W, b = _random(1, d=3, D=5)
    W2, b2 = ls.unflatten(ls.flatten(W, b), 3, 5)
    assert np.array_equal(W, W2) and np.array_equal(b, b2)


def test_rotation_is_null_and_loss_is_invariant():
    W, b = _random(2, d=2, D=5)
    dirs = ls.symmetry_directions(W, b)["rotation"]
    assert dirs.shape == (1, 15)
    c, s = np.cos(0.3), np.sin(0.3)
    Q = np.array([[c, -s], [s, c]])
    assert kg.one_sparse_loss(Q @ W, b) == pytest.approx(kg.one_sparse_loss(W, b), rel=1e-13)


def test_pentagon_report():
    p = kg.kgon_critical_point(6, 5, n_dead=1)
    rep = ls.analyse_critical_point(*p.parameters())
    assert rep.kind == "minimum" and rep.morse_index == 0 and rep.null_dim == 4
    assert rep.explained == {"rotation": 1, "dead bias": 1, "dead weight": 2} and rep.null_explained
    assert rep.margin > 0.05 and rep.n_positive == 18 - 4 and not rep.kinks


def test_large_polygons_are_saddles():
    p = kg.kgon_critical_point(12, 12)
    rep = ls.analyse_critical_point(*p.parameters())
    assert rep.kind == "saddle" and rep.morse_index == 1 and rep.null_explained


def test_kinks_and_the_second_order_test():
    p = kg.kgon_critical_point(3, 2)  # digon + dropped feature: a saddle on a kink
    W, b = p.parameters()
    assert ls.kinks(W, b)
    q, v, descent = ls.second_order_test(W, b)
    assert q < -0.1 and descent < 0 and np.isclose(np.linalg.norm(v), 1)
    assert ls.analyse_critical_point(W, b).kind == "saddle (kink)"
    assert not ls.kinks(*kg.kgon_critical_point(5, 5).parameters())


def test_tetrahedron_is_a_critical_point_and_tegum_products_add():
    cp = pt.polytope_critical_point("tetrahedron", 0.9)
    assert cp.grad_norm < 1e-10 and cp.W.shape == (3, 4) and cp.fraction == 0.75
    # a digon and a triangle in orthogonal subspaces: the l <= 2 loss of the 5-feature model
    # is not what adds; the full loss does (checked on one sample, exactly)
    from toymodels.tied.data import sparse_uniform
    tri = pt.polytope_critical_point("triangle", 0.9)
    dig = pt.polytope_critical_point("digon", 0.9)
    W = np.zeros((3, 5))
    W[:2, :3], W[2:, 3:] = tri.W, dig.W
    b = np.r_[tri.bias, dig.bias]
    x = sparse_uniform(20_000, 5, 0.9, rng=0)
    both = rl.pointwise_loss(W, b, 1.0, x)
    parts = rl.pointwise_loss(tri.W, tri.bias, 1.0, x[:, :3]) + rl.pointwise_loss(dig.W, dig.bias, 1.0, x[:, 3:])
    assert np.allclose(both, parts, atol=1e-14)


def test_saving_of_a_dedicated_feature_is_the_variance():
    s, se = pt.saving_per_dimension("dedicated", 0.9, T=1_000)
    assert s == pytest.approx(0.1 / 3 - 0.01 / 4, abs=1e-12) and se < 1e-20


@pytest.mark.parametrize(("call", "exc", "word"), [
    (lambda: ls.loss_hessian(np.zeros((2, 3)), np.zeros(4)), ValueError, "b"),
    (lambda: ls.loss_hessian(np.full((2, 3), np.nan), np.zeros(3)), ValueError, "W"),
    (lambda: ls.loss_hessian(np.zeros((2, 3)), np.zeros(3), S=1.0), ValueError, "S"),
    (lambda: ls.loss_hessian(np.zeros((2, 3)), np.zeros(3), l_max=3), ValueError, "l_max"),
    (lambda: ls.loss_hessian(np.zeros((2, 3)), np.zeros(3), ω=-1.0), ValueError, "importance"),
    (lambda: ls.loss_hessian(np.zeros((2, 300)), np.zeros(300)), ValueError, "MAX_PARAMETERS"),
    (lambda: ls.unflatten(np.zeros(5), 2, 3), ValueError, "θ"),
    (lambda: ls.kinks(np.zeros((2, 3)), np.zeros(3), tol="x"), TypeError, "tol"),
    (lambda: ls.second_order_test(np.zeros((2, 3)), np.zeros(3), eps=1.0), ValueError, "eps"),
    (lambda: pt.polytope_critical_point("dodecahedron", 0.9), ValueError, "name"),
    (lambda: pt.polytope_critical_point(3, 0.9), TypeError, "name"),
    (lambda: pt.polytope_critical_point("tetrahedron", 0.0), ValueError, "S"),
    (lambda: pt.polytope_directions("square antiprism", ()), ValueError, "shape"),
    (lambda: pt.full_loss_minimum("digon", 0.9, T=10**9), ValueError, "T"),
])
def test_bad_input_names_the_argument(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_unconverged_polytope_point_warns_with_the_gradient(monkeypatch):
    """A configuration whose Newton polish cannot reach 1e-10 is reported, never silently kept."""
    import scipy.linalg

    def no_newton(*args, **kwargs):  # every Newton step fails: only L-BFGS (gtol 1e-8) remains
        raise np.linalg.LinAlgError

    monkeypatch.setattr(np.linalg, "solve", no_newton)
    monkeypatch.setattr(scipy.linalg, "solve", no_newton, raising=False)
    with pytest.warns(kg.RootWarning, match="gradient norm"):
        cp = pt.polytope_critical_point("tetrahedron", 0.9)
    assert cp.grad_norm > 1e-10
