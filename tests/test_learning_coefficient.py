"""Tests of the exact learning coefficients and the free energy
(toymodels.lc.learning_coefficient): Aoyagi & Watanabe's formula (5.3), the localised quadratic
mean (5.4), Proposition 5.2's account of the Hessian, and the crossover (5.6)."""

from fractions import Fraction

import numpy as np
import pytest

from toymodels.lc import learning_coefficient as lc


# ----------------------------------------------------------------------------------------
# the exact learning coefficient of reduced-rank regression
# ----------------------------------------------------------------------------------------
def _all_cases(limit=6):
    for M in range(1, limit + 1):
        for N in range(1, limit + 1):
            for H in range(1, limit + 1):
                for r in range(0, min(M, N, H) + 1):
                    yield M, N, H, r


def test_rrr_known_values():
    # K = (ab)² in two variables: λ = 1/2 with multiplicity 2
    assert lc.rrr_learning_coefficient(1, 1, 1, 0) == lc.RRRCoefficient(Fraction(1, 2), 2, 1)
    # a full-rank truth with M = N: the regular value H(M+N−H)/2 of the rank-H matrices
    assert lc.rrr_learning_coefficient(3, 3, 3, 3).λ == Fraction(9, 2)
    assert lc.rrr_learning_coefficient(2, 6, 1, 1) == lc.RRRCoefficient(Fraction(7, 2), 1, 2)
    assert lc.rrr_learning_coefficient(6, 2, 1, 1) == lc.RRRCoefficient(Fraction(7, 2), 1, 3)
    assert lc.rrr_learning_coefficient(1, 1, 3, 0) == lc.RRRCoefficient(Fraction(1, 2), 1, 4)


def test_rrr_symmetric_in_input_and_output():
    for M, N, H, r in _all_cases():
        a, b = lc.rrr_learning_coefficient(M, N, H, r), lc.rrr_learning_coefficient(N, M, H, r)
        assert a.λ == b.λ and a.m == b.m


def test_rrr_bounds_and_full_rank_truth():
    for M, N, H, r in _all_cases():
        c = lc.rrr_learning_coefficient(M, N, H, r)
        # λ ≤ (number of parameters)/2 and λ ≥ half the dimension of the rank-r matrices
        assert c.λ <= Fraction(H * (M + N), 2)
        assert c.λ >= Fraction(r * (M + N - r), 2)
        if r == min(H, M, N):  # the truth has the largest rank: a regular point of the image
            assert c.λ == Fraction(r * (M + N - r), 2)


def test_rrr_continuous_across_case_boundaries():
    """On the boundary of the central case the central formula equals the boundary case's."""
    for M, N, H, r in _all_cases():
        num = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
        central = Fraction(num + ((M + N + H + r) % 2), 8)
        c = lc.rrr_learning_coefficient(M, N, H, r)
        if M + H == N + r or N + H == M + r or M + N == H + r:
            assert c.case == 1 and c.λ == central


def test_rrr_refuses_bad_input():
    with pytest.raises(ValueError, match="r \\(rank"):
        lc.rrr_learning_coefficient(2, 2, 1, 2)
    with pytest.raises(TypeError, match="M"):
        lc.rrr_learning_coefficient(2.5, 2, 1, 0)
    with pytest.raises(TypeError, match="H"):
        lc.rrr_learning_coefficient(2, 2, True, 0)


# ----------------------------------------------------------------------------------------
# Hessians, the localised Gaussian and the free energy
# ----------------------------------------------------------------------------------------
def test_localised_quadratic_expectation_limits():
    h = np.array([1.0, 2.0, 0.0, 5.0])
    assert lc.localised_quadratic_expectation(h, 1e9, 1e-3) == pytest.approx(1.5, abs=1e-9)
    assert lc.localised_quadratic_expectation(h, 1.0, 1.0) == pytest.approx(
        0.5 * (1 / 2 + 2 / 3 + 5 / 6))
    with pytest.raises(ValueError, match="non-negative"):
        lc.localised_quadratic_expectation([-1.0], 1.0, 1.0)


def test_hessian_llc_morse_bott_and_bounds():
    H = np.diag([1.0, 2.0, 0.0, 0.0])
    flat = np.eye(4)[:, 2:]
    full = lc.hessian_llc(H, flat)
    assert full.value == 1.0 and full.rank == 2 and full.unexplained == 0
    part = lc.hessian_llc(H, flat[:, :1])
    assert part.value is None and part.unexplained == 1
    assert (part.lower, part.upper) == (1.0, 1.5)
    with pytest.raises(ValueError, match="saddle"):
        lc.hessian_llc(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="null directions"):
        lc.hessian_llc(H, np.eye(4)[:, :1])


def test_free_energy_and_crossover():
    L1, l1, L2, l2 = 0.3, 2.0, 0.25, 5.0
    n = lc.crossover_sample_size(L1, l1, L2, l2)
    assert lc.free_energy(L1, l1, n) == pytest.approx(lc.free_energy(L2, l2, n), rel=1e-10)
    # the simpler configuration wins below n, the better one above
    assert lc.free_energy(L1, l1, n / 2) < lc.free_energy(L2, l2, n / 2)
    assert lc.free_energy(L1, l1, 2 * n) > lc.free_energy(L2, l2, 2 * n)
    assert lc.crossover_sample_size(1.0, 1.0, 0.0, 1.5) == 1.0  # better one wins for every n
    with pytest.raises(ValueError, match="L_simple"):
        lc.crossover_sample_size(0.1, 1.0, 0.2, 2.0)
    with pytest.raises(ValueError, match="λ_complex"):
        lc.crossover_sample_size(0.3, 3.0, 0.2, 2.0)
    with pytest.raises(ValueError, match="n"):
        lc.free_energy(0.1, 1.0, 0.5)
