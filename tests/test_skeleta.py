"""Tests of toymodels.tied.skeleta: the law of the number of active features."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels.tied import skeleta as sk

floats = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None)
@given(S=st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_poisson_binomial_pmf_matches_enumeration_of_subsets(S):
    S = np.array(S)
    D = len(S)
    pmf = sk.active_count_pmf(S)
    brute = np.zeros(D + 1)
    for on in itertools.product([0, 1], repeat=D):
        on = np.array(on)
        brute[on.sum()] += np.prod(np.where(on == 1, 1 - S, S))
    np.testing.assert_allclose(pmf, brute, atol=1e-12)
    P1, P2 = sk.subset_probabilities(S)
    for i in range(D):
        on = np.zeros(D)
        on[i] = 1
        assert float(P1[i]) == pytest.approx(np.prod(np.where(on == 1, 1 - S, S)), abs=1e-12)
        for j in range(D):
            if i != j:
                on2 = on.copy()
                on2[j] = 1
                exact = np.prod(np.where(on2 == 1, 1 - S, S))
                assert float(P2[i, j]) == pytest.approx(exact, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(S=st.floats(0, 1), D=st.integers(1, 40))
def test_mass_of_higher_skeleta_is_the_binomial_tail(S, D):
    pmf = sk.active_count_pmf(S, D)
    assert sk.higher_skeleta_mass(S, D) == pytest.approx(pmf[2:].sum(), abs=1e-12)
    formula = 1 - S**D - D * (1 - S) * S ** (D - 1)
    assert sk.higher_skeleta_mass(S, D) == pytest.approx(formula, abs=1e-12)


def test_conditional_sampler_has_exactly_l_active_and_the_right_inclusion_law():
    S = np.array([0.1, 0.5, 0.8, 0.95])
    x = sk.sample_given_active_count(100_000, S, 2, rng=0)
    assert np.all((x > 0).sum(1) == 2)
    incl = np.zeros(4)  # exact P(i active | 2 active) by enumeration
    for i, j in itertools.combinations(range(4), 2):
        on = np.zeros(4)
        on[[i, j]] = 1
        p = np.prod(np.where(on == 1, 1 - S, S))
        incl[[i, j]] += p
    incl /= sk.active_count_pmf(S)[2]
    se = np.sqrt(incl * (1 - incl) / len(x))
    assert np.all(np.abs((x > 0).mean(0) - incl) < 6 * se)
