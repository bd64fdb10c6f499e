from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.relu import geometry as g


def _ngon(k, r=1.0, phase=0.0):
    θ = phase + 2 * np.pi * np.arange(k) / k
    return r * np.vstack([np.cos(θ), np.sin(θ)])


def _tetrahedron():
    T = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float).T
    return T / np.sqrt(3)


def _block(*blocks):
    """Tegum (direct) sum: each block lives in its own coordinates, orthogonal to the others."""
    d, D = sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)
    W = np.zeros((d, D))
    r = c = 0
    for b in blocks:
        W[r:r + b.shape[0], c:c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return W


def test_orthogonal_features_have_dimensionality_one_and_antipodal_pairs_one_half():
    np.testing.assert_allclose(g.feature_dimensionality(np.eye(3)), 1.0)
    np.testing.assert_allclose(g.feature_dimensionality(np.array([[1.0, -1.0]])), 0.5)
    assert g.dimensions_per_feature(np.eye(3)) == pytest.approx(1.0)
    np.testing.assert_allclose(g.interference(np.eye(3)), 0.0, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scales=st.lists(st.floats(0.3, 3.0), min_size=3, max_size=3))
def test_tegum_products_of_tight_frames_have_dimensionality_rank_over_size(seed, scales):
    rng = np.random.default_rng(seed)
    blocks = [_ngon(5, scales[0], rng.uniform(0, 6)), scales[1] * _tetrahedron(),
              scales[2] * np.array([[1.0, -1.0]])]
    W = _block(*blocks)
    Q = np.linalg.qr(rng.normal(size=(W.shape[0],) * 2))[0]
    Dim = g.feature_dimensionality(Q @ W)
    np.testing.assert_allclose(Dim, [2 / 5] * 5 + [3 / 4] * 4 + [1 / 2] * 2, atol=1e-10)
    groups = g.feature_groups(Q @ W, norm_threshold=0.1)
    assert [(x.size, x.rank) for x in groups] == [(2, 1), (4, 3), (5, 2)]
    assert [x.fraction for x in groups] == [Fraction(1, 2), Fraction(3, 4), Fraction(2, 5)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 4), extra=st.integers(0, 6))
def test_frame_potential_bound_and_equality_exactly_for_tight_frames(seed, d, extra):
    D = d + extra
    W = np.random.default_rng(seed).normal(size=(d, D))
    W /= np.linalg.norm(W, axis=0)
    fp = g.frame_potential(W)
    assert fp >= D**2 / d - 1e-9
    # the defect measures the distance from the bound: FP − D²/d = c² · defect², c = D/d
    expected = (D / d) ** 2 * g.tight_frame_defect(W) ** 2
    assert fp - D**2 / d == pytest.approx(expected, rel=1e-8, abs=1e-9)


def test_regular_polygons_and_platonic_solids_are_equal_norm_tight_frames():
    for W in (_ngon(5), _ngon(3), _tetrahedron(), np.vstack([np.eye(3), -np.eye(3)]).T):
        assert g.is_equal_norm_tight_frame(W)
    assert not g.is_equal_norm_tight_frame(np.array([[1.0, 0.0, 0.6], [0.0, 1.0, 0.8]]))


def test_polygon_detection_skips_dropped_features_and_measures_gaps():
    W = np.hstack([_ngon(5, 1.1, 0.3), np.array([[0.01], [0.02]])])[:, [0, 5, 1, 2, 3, 4]]
    P = g.polygon(W)
    assert P.k == 5 and P.regular and P.max_error_deg < 1e-9 and 1 not in P.order
    skew = W.copy()
    skew[:, 0] = 1.1 * np.array([np.cos(0.6), np.sin(0.6)])
    assert not g.polygon(skew).regular


def test_dimensions_per_feature_counts_norm_weighted_features():
    assert g.dimensions_per_feature(_ngon(5)) == pytest.approx(2 / 5)
    assert g.dimensions_per_feature(np.zeros((2, 3))) == np.inf


def test_aligned_distance_sees_through_rotation_reflection_and_relabelling():
    rng = np.random.default_rng(0)
    X = _tetrahedron().T
    Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    Y = (X @ Q)[rng.permutation(4)]
    assert g.aligned_distance(X, Y) < 1e-8
    dist, Q2, perm = g.aligned_distance(X, Y, return_alignment=True)
    np.testing.assert_allclose(X @ Q2, Y[perm], atol=1e-8)
    square = np.array([[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], float)
    assert g.aligned_distance(X, square) > 0.3


def test_pairwise_angles_and_fractions():
    np.testing.assert_allclose(g.pairwise_angles(_ngon(4).T), [90, 90, 90, 90, 180, 180])
    fr = g.nearest_fraction([0.39, 0.74, 0.51])
    assert fr == [Fraction(2, 5), Fraction(3, 4), Fraction(1, 2)]


def test_bad_input():
    with pytest.raises(ValueError, match="2-dimensional"):
        g.polygon(np.ones((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        g.feature_dimensionality(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="same shape"):
        g.aligned_distance(np.ones((3, 2)), np.ones((4, 2)))


def test_two_in_one_phase_names_each_candidate_solution():
    w = np.array([[1.0, 0.0], [0.1, -0.9], [0.8, -0.7], [-0.9, 1.1], [0.7, 0.8], [0.0, 0.0]])
    codes = g.two_in_one_phase(w)
    assert [g.TWO_IN_ONE_PHASES[c] for c in codes] == [
        "feature 1 only", "feature 2 only", "antipodal", "antipodal", "other", "other"]
    assert g.two_in_one_phase(w.reshape(2, 3, 2)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"w must have shape \(\.\.\., 2\)"):
        g.two_in_one_phase(np.ones((4, 3)))
