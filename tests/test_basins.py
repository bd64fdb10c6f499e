"""Tests of toymodels.basins: binomial intervals, basin counts and polygon labels."""

import numpy as np
import pytest
from scipy import stats

from toymodels import basins


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
