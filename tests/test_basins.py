"""Tests of toymodels.relu.basins: binomial intervals, basin counts and polygon labels."""

import numpy as np
import pytest
from scipy import stats

from toymodels.present import plots
from toymodels.relu import basins


def _regular(k, D, r=1.0):
    W = np.zeros((2, D))
    θ = 2 * np.pi * np.arange(k) / k
    W[:, :k] = r * np.stack([np.cos(θ), np.sin(θ)])
    return W


@pytest.mark.parametrize("k,n", [(0, 10), (3, 20), (10, 10), (500, 1000), (1, 7)])
def test_wilson_contains_estimate_and_matches_scipy(k, n):
    lo, hi = basins.wilson_interval(k, n)
    assert 0 <= lo <= k / n <= hi <= 1
    ref = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert np.isclose(lo, ref.low, atol=1e-12) and np.isclose(hi, ref.high, atol=1e-12)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 20), (10, 10), (500, 1000)])
def test_clopper_pearson_matches_scipy_and_is_wider(k, n):
    lo, hi = basins.clopper_pearson_interval(k, n)
    ref = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    assert np.isclose(lo, ref.low, atol=1e-12) and np.isclose(hi, ref.high, atol=1e-12)
    wlo, whi = basins.wilson_interval(k, n)
    assert hi - lo >= (whi - wlo) - 1e-12


def test_interval_shrinks_like_one_over_root_n():
    widths = [np.subtract(*basins.wilson_interval(n // 4, n)[::-1]) for n in (100, 400, 1600)]
    assert np.allclose(np.array(widths[:-1]) / np.array(widths[1:]), 2, rtol=0.05)


def test_basin_probabilities_counts_and_order():
    est = basins.basin_probabilities(["a", "b", "a", "c", "a", "b"])
    assert list(est) == ["a", "b", "c"]
    assert est["a"].count == 3 and est["a"].n == 6 and est["a"].p == 0.5
    assert est["a"].lo < 0.5 < est["a"].hi
    assert sum(e.count for e in est.values()) == 6
    cp = basins.basin_probabilities(["a", "b"], method="clopper-pearson")
    assert cp["a"].lo == pytest.approx(basins.clopper_pearson_interval(1, 2)[0])
    assert "a: 3/6" in str(est["a"])


def test_polygon_labels():
    assert basins.polygon_label(_regular(5, 5)) == "pentagon"
    assert basins.polygon_label(_regular(4, 5)) == "square"
    assert basins.polygon_label(_regular(3, 6)) == "triangle"
    W = np.zeros((2, 5))
    W[:, 0], W[:, 1] = [1, 0], [0, 1]
    assert basins.polygon_label(W) == "orthogonal pair"
    W[:, 2] = [-1, 0.1]
    assert basins.polygon_label(W) == "irregular 3"
    W[:, 2] = [-1, 0.6]  # gaps 90°, 59°, 211°: no family
    assert basins.polygon_label(W) == basins.classify(W) == "irregular 3"
    W[:, 2] = [-1, 0.05]  # an antipodal pair and an orthogonal feature: three of a square
    assert basins.polygon_label(W) == "irregular 3"  # the old label is kept
    assert basins.classify(W) == basins.THREE_OF_A_SQUARE
    assert basins.classify(_regular(4, 6)[:, [0, 1, 2, 4, 5]]) == basins.THREE_OF_A_SQUARE
    assert basins.polygon_label(np.zeros((2, 4))) == "none"


@pytest.mark.parametrize("call,exc", [
    (lambda: basins.wilson_interval(5, 3), ValueError),
    (lambda: basins.wilson_interval(1.5, 3), TypeError),
    (lambda: basins.wilson_interval(1, 0), ValueError),
    (lambda: basins.clopper_pearson_interval(1, 3, confidence=1.0), ValueError),
    (lambda: basins.basin_probabilities([]), ValueError),
    (lambda: basins.basin_probabilities("abc"), TypeError),
    (lambda: basins.basin_probabilities([1, 2]), TypeError),
    (lambda: basins.basin_probabilities(["a"], method="bayes"), ValueError),
    (lambda: basins.polygon_label(np.zeros((3, 4))), ValueError),
    (lambda: basins.polygon_label(np.full((2, 3), np.nan)), ValueError),
])
def test_bad_input(call, exc):
    with pytest.raises(exc):
        call()


def test_classify_by_dimension():
    assert basins.classify(np.array([[1.0, -1.0]])) == "antipodal"
    assert basins.classify(np.array([[1.0, 0.0]])) == "feature 1 only"
    assert basins.classify(_regular(5, 6)) == "pentagon"
    W3 = np.zeros((3, 4))
    W3[0, 0], W3[0, 1], W3[1, 2], W3[2, 3] = 1, -1, 1, 1
    assert basins.classify(W3) == "1/1 ×2 + 2/1"
    assert basins.classify(np.zeros((3, 4))) == "none"


def test_basin_study_small_run():
    st = basins.basin_study(5, 2, [0.9, 0.5], 3, steps=20, batch_size=16, seed=0)
    assert st.W.shape == (6, 2, 5) and st.labels.shape == (6,) and list(st.setting) == [0] * 3 + [1] * 3
    from toymodels.relu import integrals as rl
    ref = rl.restricted_loss(st.W, st.b, 1.0, np.repeat([0.9, 0.5], 3)[:, None], l_max=2)
    assert np.allclose(st.loss, ref, rtol=1e-10)
    assert sum(e.count for e in st.table(1).values()) == 3
    lab = st.labels[0]
    assert st.median_loss(0, lab) == pytest.approx(np.median(st.loss[:3][st.labels[:3] == lab]))
    again = basins.basin_study(5, 2, [0.9, 0.5], 3, steps=20, batch_size=16, seed=0)
    assert np.array_equal(again.labels, st.labels)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ax = plots.plot_basin_probabilities(st)
    heights = {}
    for p in ax.patches:
        heights[p.get_x()] = heights.get(p.get_x(), 0) + p.get_height()
    assert np.allclose(list(heights.values()), 1.0)
    plt.close("all")
    with pytest.raises(ValueError):
        st.median_loss(0, "no such basin")


@pytest.mark.parametrize("call,exc", [
    (lambda: basins.basin_study(5, 2, [1.5], 3), ValueError),
    (lambda: basins.basin_study(5, 2, [0.9], 0), ValueError),
    (lambda: basins.basin_study(5, 2, [0.9], 10**6), ValueError),
    (lambda: basins.basin_study(5, 2, [0.9], 3, ω=[1, 2]), ValueError),
    (lambda: basins.basin_study(5, 2.0, [0.9], 3), TypeError),
    (lambda: plots.plot_basin_probabilities("study"), TypeError),
    (lambda: basins.classify(np.zeros(3)), ValueError),
])
def test_study_bad_input(call, exc):
    with pytest.raises(exc):
        call()


def test_exact_basin_study_is_certified_and_deterministic():
    st = basins.exact_basin_study(4, [0.9, 0.7], 3, steps=30, lr=0.1, seed=1)
    assert st.W.shape == (6, 2, 4) and list(st.setting) == [0] * 3 + [1] * 3
    from toymodels.relu import exact_training as et
    W0, _ = et.random_init(3, 2, 4, seed=1)  # the same starts for every setting
    ref = et.minimize_exact(W0, np.zeros((3, 4)), 1.0, 0.7, steps=30, lr=0.1,
                            hessian="differences")
    assert np.allclose(st.W[3:], ref.W, atol=1e-9) and np.allclose(st.loss[3:], ref.loss, rtol=1e-12)
    assert np.all(st.grad_norm < 1e-10)
    assert np.allclose(st.min_eigenvalue[3:], ref.hessian_eigenvalues[:, 0], atol=1e-8)
    assert list(st.labels) == [basins.classify(W) for W in st.W]
    assert st.loss_history.shape == (len(st.log_steps), 6) and st.log_steps[-1] == 29
    again = basins.exact_basin_study(4, [0.9, 0.7], 3, steps=30, lr=0.1, seed=1)
    assert np.array_equal(again.W, st.W)


@pytest.mark.parametrize("call,exc", [
    (lambda: basins.exact_basin_study(5, [1.5], 3), ValueError),
    (lambda: basins.exact_basin_study(5, [0.9], 0), ValueError),
    (lambda: basins.exact_basin_study(5, [0.9], 3, ω=[1, 2]), ValueError),
    (lambda: basins.exact_basin_study(5, [0.9], 10**4, steps=10**5), ValueError),
    (lambda: basins.exact_basin_study(5.0, [0.9], 3), TypeError),
    (lambda: basins.exact_basin_study(5, [0.9], 3, hessian="no"), ValueError),
])
def test_exact_study_bad_input(call, exc):
    with pytest.raises(exc):
        call()
