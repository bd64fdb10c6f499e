"""Issue 11, part B: each finding of the fuzz pass has a test here that failed before its fix.

Sizes refused before work starts (with the estimate), thread counts capped, results files
validated on load, temporaries cleaned up, checkpoints that belong to another run refused, and
the wrong or empty messages of the report.
"""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest
import torch

import toymodels as tm
from toymodels import limits
from toymodels.linear import autoencoder as linear
from toymodels.linear.dynamics import escape_rate
from toymodels.relu import loss as relu_loss
from toymodels.relu import minimize as relu_minimize
from toymodels.relu.thomson import solve_thomson
from toymodels.tied import moments
from toymodels.tied.data import streaming_moments


def _refused(fn, *args, match, **kwargs):
    """``fn(*args, **kwargs)`` must raise ValueError matching ``match``; a hang (the bug this
    guards against) is interrupted after 20 s and fails the test instead of blocking the suite."""
    def on_alarm(signum, frame):
        raise TimeoutError("the call did not refuse; it started the work")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    try:
        with pytest.raises(ValueError, match=match) as info:
            fn(*args, **kwargs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return str(info.value)


# -- sizes refused before the work starts ---------------------------------------------------------
def test_critical_points_refuses_binom_26_13_with_the_estimate():
    Σ = np.diag(np.arange(26, 0, -1.0))
    msg = _refused(linear.critical_points, Σ, 13, match="critical_points with D = 26, d = 13")
    assert "10,400,600 points" in msg and "MAX_ITEMS" in msg


def test_critical_levels_refuses_40_eigenvalues_and_d_20():
    _refused(linear.critical_levels, np.arange(40, 0, -1.0), 20,
             match=r"critical_levels with 40 eigenvalues λ and d = 20 \([\d,]+ index sets\)")


def test_skeleton_probabilities_refuses_ten_million_features():
    _refused(moments.skeleton_probabilities, 0.5, 10**7, match=r"D = 10000000.*operations")


def test_monte_carlo_loss_refuses_1e15_samples():
    W, b = np.eye(2), np.zeros(2)
    _refused(relu_loss.monte_carlo_loss, W, b, 1.0, 0.5, 10**15,
             match=r"monte_carlo_loss with T = 1000000000000000 samples")


def test_streaming_moments_refuses_1e15_samples():
    _refused(streaming_moments, 10**15, 5, match=r"streaming_moments with T = 10+, D = 5")


def test_streaming_moments_can_be_interrupted():
    """Ctrl-C (SIGINT) reaches the main thread while the workers draw, and the workers stop at
    their next chunk instead of running to the end."""
    before = threading.active_count()
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            streaming_moments(10**9, 10, chunk_rows=1000, threads=2, streams=2)
    finally:
        timer.cancel()
    assert threading.active_count() <= before


def test_a_limit_can_be_raised_by_the_user(monkeypatch):
    Σ = np.diag(np.arange(12, 0, -1.0))
    monkeypatch.setattr(limits, "MAX_ITEMS", 10)
    _refused(linear.critical_points, Σ, 2, match="MAX_ITEMS = 10")
    monkeypatch.setattr(limits, "MAX_ITEMS", 1000)
    assert len(linear.critical_points(Σ, 2)) == 66


# -- threads capped at what the machine has ----------------------------------------------------
def test_setup_caps_threads_at_the_machine(monkeypatch):
    before = torch.get_num_threads()
    try:
        tm.setup(threads=100_000, style=False)
        assert torch.get_num_threads() <= limits.machine_cores()
        torch.ones(64, 64) @ torch.ones(64, 64)  # used to segfault
        monkeypatch.setenv("TOYMODELS_THREADS", "100000")
        tm.setup(style=False)
        assert torch.get_num_threads() <= limits.machine_cores()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("name, value", [("TOYMODELS_THREADS", "many"), ("TOYMODELS_THREADS", "0"),
                                         ("TOYMODELS_PROGRESS", "maybe"),
                                         ("TOYMODELS_WIDGETS", "sometimes")])
def test_bad_environment_variables_are_named(monkeypatch, name, value):
    from toymodels.environment import env_flag

    monkeypatch.setenv(name, value)
    before = torch.get_num_threads()
    try:
        with pytest.raises(ValueError, match=name):
            if name == "TOYMODELS_THREADS":
                tm.setup(style=False)
            else:
                env_flag(name)
    finally:
        torch.set_num_threads(before)


# -- wrong or empty messages -----------------------------------------------------------------------
def test_format_bytes_uses_the_right_unit():
    assert limits.format_bytes(2**40) == "1 TiB"
    assert limits.format_bytes(1536) == "1.5 KiB"
    assert limits.format_bytes(3 * 2**50) == "3 PiB"


def test_escape_rate_names_an_index_out_of_range():
    with pytest.raises(ValueError, match=r"I \(an index in it\) must be <= 3, got 7"):
        escape_rate(np.diag([4.0, 2.0, 1.0, 0.5]), (7,), 2)


def test_escape_rate_unchanged_for_a_valid_point():
    Σ = np.diag([4.0, 2.0, 1.0, 0.5])
    # the saddle {1,3}: the pair (j = 3, k = 2) has μ from the 2×2 block 2[[λ_3, −λ_2], [−λ_2, λ_2]]
    block = np.linalg.eigvalsh(2 * np.array([[1.0, -2.0], [-2.0, 2.0]]))
    assert escape_rate(Σ, (0, 2), 2) == pytest.approx(-block[0], rel=1e-12)


def test_solve_thomson_refuses_a_negative_tolerance():
    with pytest.raises(ValueError, match="tol must be positive"):
        solve_thomson(4, tol=-1)


def test_minimize_restricted_loss_refuses_l_max_7():
    with pytest.raises(ValueError, match="l_max must be <= 2, got 7"):
        relu_minimize.minimize_restricted_loss(2, 3, 1.0, 0.5, l_max=7, steps=1)


# -- one input policy --------------------------------------------------------------------------------
def test_pointwise_loss_takes_lists_and_refuses_negative_importance():
    W, b, x = [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], [[0.5, 0.0]]
    assert relu_loss.pointwise_loss(W, b, [1.0, 1.0], x) == pytest.approx([0.0])
    with pytest.raises(ValueError, match="ω"):
        relu_loss.pointwise_loss(W, b, [1.0, -1.0], x)


@pytest.mark.parametrize("bad", [1 + 2j, np.array([0.5 + 1j]), True, "0.5", np.array(["0.5"]),
                                 torch.tensor([0.5 + 0j])])
def test_complex_bool_and_strings_are_refused_by_name(bad):
    with pytest.raises(TypeError, match="^S "):
        moments.mean(bad)


def test_every_real_float_dtype_is_accepted():
    Σ = np.diag([4.0, 2.0, 1.0, 0.5])
    A = np.eye(4)[:, :2]
    expected = linear.loss(A, A.T, Σ)
    for conv in (lambda a: a.tolist(), lambda a: a.astype(np.float16), lambda a: a.astype(np.float32),
                 lambda a: torch.as_tensor(a, dtype=torch.bfloat16),
                 lambda a: torch.as_tensor(a, dtype=torch.float16)):
        assert linear.loss(conv(A), conv(A.T), conv(Σ)) == pytest.approx(expected)


# -- results files ---------------------------------------------------------------------------------


