"""toymodels.present.book.glue: the prose's numbers are stored rounded, and bad input is refused."""

import math

import myst_nb
import numpy as np
import pytest

from toymodels.present.book import glue


@pytest.fixture
def stored(monkeypatch):
    calls = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: calls.update({name: value}))
    return calls


def test_floats_are_rounded_to_significant_digits(stored):
    glue("x", math.pi)
    glue("y", 123456.789, digits=2)
    glue("z", np.float64(2.0) / 3, digits=6)
    assert stored == {"x": 3.142, "y": 120000.0, "z": 0.666667}


def test_integers_are_stored_exactly(stored):
    glue("n", np.int64(240))
    assert stored["n"] == 240 and type(stored["n"]) is int


def test_glue_returns_nothing(stored):
    assert glue("x", 1.5) is None


@pytest.mark.parametrize("name", ["", "1abc", "has space", "x" * 81, 3, None])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="name must be"):
        glue(name, 1.0)


@pytest.mark.parametrize("value, error", [(float("nan"), ValueError), (float("inf"), ValueError),
                                          ("1.0", TypeError), (1 + 2j, TypeError),
                                          (True, TypeError), (None, TypeError)])
def test_bad_values_are_refused(value, error):
    with pytest.raises(error, match="value"):
        glue("x", value)


@pytest.mark.parametrize("digits, error", [(0, ValueError), (16, ValueError), (2.5, TypeError)])
def test_bad_digits_are_refused(digits, error):
    with pytest.raises(error, match="digits"):
        glue("x", 1.0, digits=digits)
