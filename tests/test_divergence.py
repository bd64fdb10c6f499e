"""Divergence is found wherever it happens: every optimisation loop of the package raises
DivergenceError (naming the step, the instance and what to change) for a non-finite or runaway
loss and for an optimiser state that overflowed (which freezes the parameters)."""


import numpy as np
import pytest

from toymodels.linear import dynamics as ld
from toymodels.relu import minimize as rl
from toymodels.tied import flows
from toymodels.train.engine import DivergenceError, TrainConfig, train

SMALL = dict(D=5, d=2, n=3, batch_size=64, steps=40, log_every=10,
             progress=False)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**SMALL, **kw})



BASE = dict(D=5, d=2, n=2, S=0.9, steps=20, batch_size=64,
            log_every=5, progress=False)


def run(engine=None, **kw):
    return train(TrainConfig(**{**BASE, **kw}), engine=engine)


# the reproductions: each returned final losses near 3e36 (or untouched parameters)
OVERFLOW = [dict(lr=1e9), dict(lr=1e9, optimizer="adamw"), dict(weight_decay=1e30),
            dict(lr=1e9, model="tied"), dict(lr=1e9, model="linear")]


@pytest.mark.parametrize("kw", OVERFLOW, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("path", ["cpu", "accelerator"])
def test_adam_state_overflow_is_a_divergence(kw, path, monkeypatch):
    if path == "accelerator":
        monkeypatch.setenv("TOYMODELS_ACCELERATOR_PATH", "1")
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*instance.*smaller lr") as err:
        run(**kw)
    assert 0 <= err.value.step < 20 and err.value.instances and set(err.value.instances) <= {0, 1}
    if path == "cpu":
        assert "second-moment" in str(err.value)


@pytest.mark.parametrize("kw", [dict(lr=1e9), dict(weight_decay=1e30)])
def test_the_reference_engine_finds_it_too(kw):
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*smaller lr"):
        run(engine="reference", **kw)


@pytest.mark.parametrize("path", ["cpu", "accelerator"])
def test_a_runaway_loss_is_a_divergence(path, monkeypatch):
    if path == "accelerator":
        monkeypatch.setenv("TOYMODELS_ACCELERATOR_PATH", "1")
    # Adam with lr = 1e3: every loss and every state stays finite, but the loss ends near 5e10,
    # ten orders of magnitude above the loss of the zero model
    with pytest.raises(DivergenceError, match=r"diverged at step \d+: the loss of instance \d is "
                       r".*ran away.*smaller lr") as err:
        run(lr=1e3)
    assert err.value.instances and err.value.step % 5 == 0  # found at a logged step


def test_the_message_says_what_to_change():
    with pytest.raises(DivergenceError, match=r"smaller lr \(now 1e\+09\), or dtype='float64'"):
        run(lr=1e9)
    with pytest.raises(DivergenceError, match=r"smaller weight_decay \(now 1e\+30\)"):
        run(weight_decay=1e30)


def test_healthy_aggressive_runs_still_pass():
    r = run(lr=0.1, steps=200)
    assert np.all(np.isfinite(r.final_loss))


# --- the other loops ---------------------------------------------------------------------------

Σ = np.diag([3.0, 2.0, 1.0])


@pytest.mark.parametrize("opt", ["adam", "gd"])
def test_train_linear_diverges_loudly(opt):
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*smaller lr \(now 1e\+09\)"):
        ld.train_linear(Σ, 2, optimizer=opt, lr=1e9, steps=200)


def test_train_linear_adam_that_recovers_is_not_a_divergence():
    run_ = ld.train_linear(Σ, 2, optimizer="adam", lr=1.0, steps=200)
    assert run_.loss[-1] < run_.loss[0]


def test_train_linear_on_a_zero_covariance_blames_no_lr():
    run_ = ld.train_linear(np.zeros((3, 3)), 1, steps=5)
    assert np.all(run_.loss == 0.0) and np.isfinite(run_.lr)


def test_the_default_lr_is_named_as_the_default():
    with pytest.raises(DivergenceError, match="default"):
        ld.train_linear(Σ, 2, A0=np.full((3, 2), 1e3), B0=np.full((2, 3), 1e3), steps=50)


def test_minimize_restricted_loss_diverges_loudly():
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*restart.*smaller lr") as err:
        rl.minimize_restricted_loss(2, 5, 1.0, 0.9, lr=1e9, steps=100, n_restarts=2)
    assert set(err.value.instances) <= {0, 1}


def test_two_in_one_candidates_diverges_loudly():
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*smaller lr") as err:
        rl.two_in_one_candidates([1.0, 2.0], 0.5, lr=1e9, steps=100)
    assert set(err.value.instances) <= {0, 1}


def test_tied_gradient_descent_diverges_with_the_same_error():
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*smaller lr") as err:
        flows.gradient_descent_tied(np.ones((1, 3)), Σ, 10.0, 100)
    assert isinstance(err.value, FloatingPointError)  # what it raised before, still caught


def test_adam_is_checked_after_every_update():
    # one instance with a huge importance: its first gradient is finite but its square overflows
    # Adam's v in update 0, long before the first logged step after it (10)
    ω = np.ones((2, 5))
    ω[1] = 1e36
    with pytest.raises(DivergenceError, match=r"diverged at step 0: the optimizer's second-moment "
                       r"estimate \(Adam's v\) of instance 1 overflowed") as err:
        run(model="tied", ω=ω, S=0.0, lr=0.01, log_every=10)
    assert err.value.instances == [1]


def test_divergence_names_step_and_instance():
    ω = np.ones((3, 5))
    ω[1] = 1e36  # instance 1 alone blows up: finite at step 0, inf at step 1
    with pytest.raises(DivergenceError, match=r"diverged at step 1: the loss of instance 1 is"
                       r" (inf|nan)") as err:
        train(cfg(model="tied", ω=ω, optimizer="sgd", lr=0.01, S=0.0))
    assert err.value.step == 1 and err.value.instances == [1]
    with pytest.raises(DivergenceError) as err:  # the same with the workers drawing the data
        train(cfg(model="tied", ω=ω, optimizer="sgd", lr=0.01, S=0.5),
              workers=2, prefetch=True)
    assert err.value.step == 1 and err.value.instances == [1]


def test_divergence_found_without_synchronising(monkeypatch):
    """The accelerator path (a ring of per-step gradient sums reduced on the device and read back
    asynchronously), exercised on the CPU: it names the same step and instance."""
    monkeypatch.setenv("TOYMODELS_ACCELERATOR_PATH", "1")
    ω = np.ones((3, 5))
    ω[2] = 1e36
    with pytest.raises(DivergenceError, match=r"diverged at step 1: the loss gradient of "
                       r"instance 2 is not finite") as err:
        train(cfg(model="tied", ω=ω, optimizer="sgd", lr=0.01, S=0.0))
    assert err.value.step == 1 and err.value.instances == [2]
    r = train(cfg(steps=57, log_every=7))  # a healthy run passes every (partial) check
    assert np.all(np.isfinite(r.final_loss))
