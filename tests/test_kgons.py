import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.relu import integrals as rl
from toymodels.relu import kgon_blocks as kb
from toymodels.relu import kgons as kg

# The c = 6 values of Chen, Lau, Mendel, Wei & Murfet (2023), as quoted (5 digits) by a
# third-party reproduction of their table; "+" a dropped feature with positive bias, "-" a dead one.
CHEN_C6 = {(4, 2): 1 / 9, (4, 1): 0.10417, (4, 0): 0.09722, (5, 1): 0.06874, (5, 0): 0.06180,
           (6, 0): 0.04819}


@pytest.mark.parametrize(("k", "n_dead"), sorted(CHEN_C6))
def test_six_features_match_the_published_losses(k, n_dead):
    pt = kg.kgon_critical_point(6, k, n_dead=n_dead)
    assert pt.loss == pytest.approx(CHEN_C6[k, n_dead], abs=6e-6)
    assert pt.grad_norm < 1e-12


@pytest.mark.parametrize("k", range(5, 14))
def test_block_roots_are_certified_and_stationary(k):
    roots = kb.kgon_block_roots(k)
    assert roots and all(fr.certified and fr.residual < 1e-40 for fr in roots)
    for fr in roots:
        eps = 1e-6  # central differences of the float64 closed form agree with the root
        for dr, db in [(eps, 0), (0, eps)]:
            d = (kb.block_loss(k, fr.r + dr, fr.b + db) - kb.block_loss(k, fr.r - dr, fr.b - db)) / (2 * eps)
            assert abs(d) < 1e-8
        assert kb.block_loss(k, fr.r, fr.b) == pytest.approx(fr.B, abs=1e-14)


def test_decagon_is_the_golden_ratio():
    fr = kb.kgon_block_roots(10)[0]
    φ = (1 + math.sqrt(5)) / 2
    assert fr.r == pytest.approx(φ, abs=1e-14) and fr.b == pytest.approx(-φ, abs=1e-14)
    assert fr.B == pytest.approx(1 / 6, abs=1e-15)


@pytest.mark.parametrize("D", [2, 3, 4, 7])
def test_small_polygons_have_zero_block_loss(D):
    for k in range(2, min(D, 4) + 1):
        pt = kg.kgon_critical_point(D, k)
        assert (pt.r, pt.b) == (1.0, 0.0) and pt.certified
        assert pt.loss == pytest.approx((D - k) * (1 / 3 - 1 / (4 * D)) / D, abs=1e-15)


@settings(max_examples=15, deadline=None)
@given(D=st.integers(5, 12), data=st.data())
def test_loss_splits_into_block_and_dropped_features(D, data):
    k = data.draw(st.integers(5, D))
    n_dead = data.draw(st.integers(0, D - k))
    pt = kg.kgon_critical_point(D, k, n_dead=n_dead)
    ref = kg.kgon_critical_point(k, k)  # (r, b) do not depend on D
    assert (pt.r, pt.b) == (ref.r, ref.b)
    split = (k * kb.block_loss(k, pt.r, pt.b) + (D - k - n_dead) * (1 / 3 - 1 / (4 * D)) + n_dead / 3) / D
    assert pt.loss == pytest.approx(split, abs=1e-14)
    W, b = pt.parameters()
    assert pt.loss == pytest.approx(kg.one_sparse_loss(W, b), abs=1e-15)
    assert pt.grad_norm < 1e-12


def test_parameters_are_a_regular_polygon():
    pt = kg.kgon_critical_point(8, 6, n_dead=1)
    W, b = pt.parameters()
    assert W.shape == (2, 8) and b.shape == (8,) and W.dtype == np.float64
    assert np.allclose(np.linalg.norm(W[:, :6], axis=0), pt.r) and np.all(W[:, 6:] == 0)
    ang = np.degrees(np.arctan2(W[1, :6], W[0, :6])) % 360
    assert np.allclose(np.sort(ang), np.arange(6) * 60)
    assert np.all(b[:6] == pt.b) and b[6] == pt.b_dropped and b[7] == pt.dead_bias
    assert pt.name == "6-gon+-"


@pytest.mark.parametrize("S", [0.5, 0.9, 0.99])
def test_dropped_bias_is_stationary(S):
    D = 6
    c = kg.dropped_bias(D, S)
    W = np.zeros((2, D))

    def loss(cv):
        b = np.zeros(D)
        b[-1] = cv
        return rl.restricted_loss(W, b, 1.0, S, l_max=2)

    h = 1e-6
    assert (loss(c + h) - loss(c - h)) / (2 * h) == pytest.approx(0, abs=1e-9)
    assert kg.dropped_bias(D) == 1 / (2 * D)


@pytest.mark.parametrize(("D", "k", "S"), [(5, 5, 0.9), (5, 4, 0.9), (6, 5, 0.95)])
def test_l2_critical_points_are_stationary_in_all_directions(D, k, S):
    pt = kg.kgon_critical_point(D, k, S=S)
    assert pt.grad_norm < 1e-10 and pt.S == S
    W, b = pt.parameters()
    assert pt.loss == pytest.approx(rl.restricted_loss(W, b, 1.0, S, l_max=2), abs=1e-15)


def test_one_sparse_loss_does_not_depend_on_sparsity():
    rng = np.random.default_rng(0)
    W, b, ω = rng.normal(size=(3, 5)), rng.normal(size=5), rng.uniform(0.1, 1, 5)
    for S in (0.1, 0.9):
        assert kg.one_sparse_loss(W, b, ω) == pytest.approx(rl.loss_L1(W, b, ω, S), rel=1e-14)
    assert kg.one_sparse_loss(W, b) == pytest.approx(rl.one_sparse_terms(W, b, 1.0).mean(), rel=1e-14)


def test_family_table():
    fam = kg.kgon_family(6)
    assert [pt.k for pt in fam] == [2, 3, 4, 5, 6]
    assert min(fam, key=lambda pt: pt.loss).k == 6


@pytest.mark.parametrize(("call", "exc", "word"), [
    (lambda: kg.kgon_critical_point(4, 5), ValueError, "k"),
    (lambda: kg.kgon_critical_point(True, 2), TypeError, "D"),
    (lambda: kg.kgon_critical_point(6, 2.5), TypeError, "k"),
    (lambda: kg.kgon_critical_point(6, 5, S=1.5), ValueError, "S"),
    (lambda: kg.kgon_critical_point(6, 5, S=float("nan")), ValueError, "S"),
    (lambda: kg.kgon_critical_point(6, 5, S=1.0), ValueError, "S"),
    (lambda: kg.kgon_critical_point(6, 5, S="0.9"), TypeError, "S"),
    (lambda: kg.kgon_critical_point(6, 5, n_dead=2), ValueError, "n_dead"),
    (lambda: kg.kgon_critical_point(6, 5, n_dead=1, dead_bias=0.0), ValueError, "dead_bias"),
    (lambda: kg.kgon_critical_point(10**6, 5), ValueError, "D"),
    (lambda: kg.kgon_critical_point(30, 5, S=0.9), ValueError, "MAX_FEATURES_L2"),
    (lambda: kg.kgon_family(6, ks="abc"), TypeError, "ks"),
    (lambda: kg.kgon_weights(3, 2, -1.0), ValueError, "r"),
    (lambda: kb.block_loss(5, np.nan, 0.0), ValueError, "r"),
    (lambda: kg.dropped_bias(6, 0.0), ValueError, "S"),
    (lambda: kb.kgon_block_roots(1), ValueError, "k"),
    (lambda: kg.kgon_critical_point(6, 5, ω=[1, 1, 1, 1, 1, 0.9]), ValueError, "importance"),
    (lambda: kg.kgon_critical_point(6, 5, ω=np.ones(5)), ValueError, "importance"),
    (lambda: kg.kgon_critical_point(6, 5, ω="x"), TypeError, "importance"),
])
def test_bad_input_names_the_argument(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_symmetric_criticality_random_directions():
    # the gradient of the full loss vanishes in directions that break the symmetry, too
    pt = kg.kgon_critical_point(7, 6)
    W, b = pt.parameters()
    Wt = torch.as_tensor(W).requires_grad_()
    bt = torch.as_tensor(b).requires_grad_()
    L = rl._L1(Wt, bt, torch.ones(7, dtype=torch.float64), np.full(7, 0.5))
    gW, gb = torch.autograd.grad(L, (Wt, bt))
    assert float(gW.abs().max()) < 1e-13 and float(gb.abs().max()) < 1e-13


def test_equal_importance_is_accepted():
    assert kg.kgon_critical_point(6, 5, ω=np.full(6, 2.0)) == kg.kgon_critical_point(6, 5)


def test_uncertified_roots_warn_with_the_residual(monkeypatch):
    fake = kb.BlockRoot(5, 1.0, -0.1, 1, 0.1, 3e-7, False, (0.1, 1.0))
    monkeypatch.setattr(kb, "_block_roots_cached", lambda k: (fake,))
    with pytest.warns(kb.RootWarning, match="residual 3.00e-07"):
        kb.kgon_block_roots(5)


def test_continuation_in_S_reaches_the_default_critical_point():
    """Starting Newton from a nearby sparsity's point (``start``) finds the same critical point."""
    near = kg.kgon_critical_point(6, 6, S=0.95)
    default = kg.kgon_critical_point(6, 6, S=0.9)
    warm = kg.kgon_critical_point(6, 6, S=0.9, start=(near.r, near.b))
    assert warm.grad_norm < 1e-10
    assert warm.r == pytest.approx(default.r, abs=1e-10) and warm.b == pytest.approx(default.b, abs=1e-10)


@pytest.mark.parametrize("call, match", [
    (lambda: kg.kgon_critical_point(6, 6, start=(1.0, 0.0)), "start"),
    (lambda: kg.kgon_critical_point(6, 6, S=0.9, start=(-1.0, 0.0)), "start"),
    (lambda: kg.kgon_critical_point(6, 6, S=0.9, start=(1.0, 0.0, 0.0)), "start"),
])
def test_bad_start_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unconverged_l2_critical_point_warns_with_the_gradient(monkeypatch):
    """If Newton on (r, b) stops short, the k-gon comes with a RootWarning naming its gradient."""
    monkeypatch.setattr(kg, "_solve_family_S",
                        lambda D, k, S, b_d, n_dead, dead_bias, start=None: (0.0, np.array([1.2, -0.3]), 1e-3))
    with pytest.warns(kb.RootWarning, match="gradient norm"):
        pt = kg.kgon_critical_point(6, 5, S=0.9)
    assert pt.grad_norm > 1e-10


@pytest.mark.parametrize(("D", "k", "S"), [(5, 5, 0.9), (7, 6, 0.8), (6, 4, 0.95), (6, 6, None)])
def test_family_newton_hessian_matches_the_exact_one(D, k, S):
    """The central-difference Hessian that steers Newton on (r, b) agrees with the exact one."""
    from toymodels.relu.landscape import _value_grad_hess

    x = np.array([1.1, -0.2]) if k >= 5 else np.array([1.0, 0.05])
    L, g, H = kg._family_grad_hess(x, D, k, S, kg.dropped_bias(D, S), 0, -1.0)
    loss = rl._loss_closure(D, S, torch.ones(D, dtype=torch.float64), 2)
    θ = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    dirs = torch.cat([torch.stack([torch.cos(θ), torch.sin(θ)]), torch.zeros(2, D - k, dtype=torch.float64)], 1)
    rest = torch.full((D - k,), kg.dropped_bias(D, S), dtype=torch.float64)
    L2, g2, H2 = _value_grad_hess(lambda v: loss(v[0] * dirs, torch.cat([v[1].expand(k), rest])),
                                  torch.as_tensor(x))
    assert L == pytest.approx(L2, rel=1e-14) and np.allclose(g, g2, rtol=0, atol=1e-14 * (1 + abs(g2).max()))
    assert np.allclose(H, H2, rtol=0, atol=1e-6 * (1 + abs(H2).max()))
