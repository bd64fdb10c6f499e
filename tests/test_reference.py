"""The reference loop (autograd + torch.optim, toymodels.train.reference) and the fast engine give
the same loss curves, for every model of the registry.

Tolerance: both loops compute the same arithmetic on the same batches from the same start, only
in another order (hand-derived products against autograd's, the fused optimiser against
torch.optim's), so each logged loss differs by rounding: a few units of the dtype's machine
epsilon per step, carried along by the training dynamics. Over these 100 steps the measured
largest relative difference is about 2.3 eps (float32 and float64 alike); the tests allow
100 eps, far below any difference a wrong gradient, batch or learning rate would make (those
change the losses in the second or third digit).
"""

import inspect

import numpy as np
import pytest
import torch

from toymodels.train import reference
from toymodels.train.engine import TrainConfig, train
from toymodels.train.models import MODELS


def config(model, optimizer, dtype, **kw):
    base = dict(model=model, D=6, d=2, n=3, S=[[0.0], [0.5], [0.9]], ω=np.linspace(0.5, 1.5, 6),
                batch_size=64, steps=100, log_every=10, lr=0.01 if optimizer != "sgd" else 0.05,
                optimizer=optimizer, dtype=dtype, progress=False)
    return TrainConfig(**{**base, **kw})


def assert_same_curves(fast, ref, dtype):
    eps = torch.finfo(getattr(torch, dtype)).eps
    assert np.array_equal(fast.log_steps, ref.log_steps)
    np.testing.assert_allclose(fast.loss_history, ref.loss_history, rtol=100 * eps, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("model", list(MODELS))
def test_engine_and_reference_loop_give_the_same_loss_curves(model, optimizer, dtype):
    c = config(model, optimizer, dtype)
    fast, ref = train(c), reference.train_reference(c)
    assert_same_curves(fast, ref, dtype)
    assert ref.loss_history[-1].mean() < 0.8 * ref.loss_history[0].mean()  # it learns


@pytest.mark.parametrize("kw", [dict(optimizer="adamw", weight_decay=0.1, schedule="cosine"),
                                dict(optimizer="sgd", momentum=0.5,
                                     schedule="linear_warmup_cosine")])
def test_same_curves_with_weight_decay_momentum_and_schedules(kw):
    kw = dict(kw)
    c = config("relu", kw.pop("optimizer"), "float64", **kw)
    assert_same_curves(train(c), reference.train_reference(c), "float64")


def test_same_batches_when_the_workers_draw_them():
    c = config("relu", "adam", "float32", n=4, S=[[0.0], [0.5], [0.9], [0.95]])
    fast = train(c, workers=2, prefetch=True)
    assert_same_curves(fast, reference.train_reference(c), "float32")


def test_same_batches_on_the_accelerator_path(monkeypatch):
    monkeypatch.setenv("TOYMODELS_ACCELERATOR_PATH", "1")
    c = config("tied", "adam", "float64")
    assert_same_curves(train(c), reference.train_reference(c), "float64")


def test_train_with_engine_reference_is_the_reference_loop():
    c = config("linear", "adam", "float64", steps=30, log_every=10)
    a, b = train(c, engine="reference"), reference.train_reference(c)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    assert a.optimizer_state == {}  # torch.optim's state is not kept: it cannot be resumed


def test_the_reference_loop_reads_in_one_screen():
    lines = inspect.getsource(reference.train_reference).splitlines()
    assert len(lines) <= 45, len(lines)


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(TypeError, match="cfg must be a TrainConfig"):
        reference.train_reference({"model": "relu"})
    with pytest.raises(TypeError, match="cfg must be a TrainConfig"):
        reference.torch_optimizer("adam", [])
