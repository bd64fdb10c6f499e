"""The run plan (toymodels.train.plan): decided once per train() call, and the device that
tm.setup(device=...) sets is the one new configs use."""

import numpy as np
import pytest
import torch
from test_batches import config  # the batch-sampler tests' config: 4 instances, 40 features

import toymodels as tm
from toymodels import environment
from toymodels.train import batches, engine, plan, resources
from toymodels.train.config import TrainConfig
from toymodels.train.engine import train

SMALL = dict(D=5, d=2, n=2, S=0.5, batch_size=32, steps=12, log_every=4, progress=False)


@pytest.fixture
def counted(monkeypatch):
    """Count the calls of choose_device, chunk_steps and plan_run wherever they are looked up."""
    calls = {"choose_device": 0, "chunk_steps": 0, "plan_run": 0}

    def counter(name, real):
        def wrapper(*args, **kw):
            calls[name] += 1
            return real(*args, **kw)
        return wrapper

    monkeypatch.setattr(environment, "choose_device",
                        counter("choose_device", environment.choose_device))
    real_chunk = counter("chunk_steps", batches.chunk_steps)
    for module in (batches, plan, resources):
        monkeypatch.setattr(module, "chunk_steps", real_chunk)
    monkeypatch.setattr(engine, "plan_run", counter("plan_run", plan.plan_run))
    return calls


@pytest.mark.parametrize("kw", [dict(), dict(engine="reference"), dict(workers=2, prefetch=True)])
def test_the_plan_is_computed_once_per_train_call(counted, kw):
    engine.train(TrainConfig(**SMALL), **kw)
    assert counted == {"choose_device": 1, "chunk_steps": 1, "plan_run": 1}


def test_the_plan_is_computed_once_on_the_accelerator_path(counted, monkeypatch):
    monkeypatch.setenv("TOYMODELS_ACCELERATOR_PATH", "1")
    engine.train(TrainConfig(**SMALL))
    assert counted == {"choose_device": 1, "chunk_steps": 1, "plan_run": 1}


def test_the_plan_says_how_the_run_executes():
    p = plan.plan_run(TrainConfig(**SMALL), workers=3, prefetch=True)
    assert p.device == torch.device("cpu") and p.dtype == torch.float32 and p.on_cpu
    assert p.workers == 2  # never more workers than instances
    assert p.chunk == batches.chunk_steps(TrainConfig(**SMALL), "cpu")
    assert p.workers_draw and isinstance(p.batches(TrainConfig(**SMALL)), batches.BlockBatches)
    plain = p.batches(TrainConfig(**SMALL), plain=True)
    assert isinstance(plain, batches.CpuBatches) and not plain.threaded
    assert not plan.plan_run(TrainConfig(**SMALL, dtype="float64"), workers=2,
                             prefetch=True).workers_draw
    one = plan.plan_run(TrainConfig(**SMALL), prefetch=False)
    assert one.workers == 1 and not one.prefetch  # a small problem is not split


def test_one_thread_sets_and_restores_the_threads():
    before = torch.get_num_threads()
    p = plan.plan_run(TrainConfig(**SMALL))
    with p.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_plan_run_refuses_bad_arguments_by_name():
    with pytest.raises(TypeError, match="cfg must be a TrainConfig"):
        plan.plan_run({"D": 5})
    with pytest.raises(TypeError, match="prefetch must be None or a bool"):
        plan.plan_run(TrainConfig(**SMALL), prefetch=1)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        plan.plan_run(TrainConfig(**SMALL), workers=0)


def test_setup_device_is_the_device_of_new_configs():
    try:
        assert tm.setup(seed=0, device="cpu", style=False) == torch.device("cpu")
        assert environment.default_device() == "cpu"
        cfg = TrainConfig(**SMALL)
        assert cfg.device == "cpu"
        assert plan.plan_run(cfg).device == torch.device("cpu")
        assert TrainConfig(**SMALL, device="cpu").device == "cpu"  # an explicit one wins
        result = engine.train(cfg)
        assert result.config.device == "cpu" and np.all(np.isfinite(result.final_loss))
    finally:
        tm.setup(seed=0, style=False)
    assert environment.default_device() is None and TrainConfig(**SMALL).device is None


def test_setup_refuses_a_device_this_machine_lacks_and_keeps_the_old_default():
    with pytest.raises(ValueError, match="available"):
        tm.setup(seed=0, device="cuda:99", style=False)
    assert environment.default_device() is None


def test_prefetch_follows_the_cores_and_never_changes_the_result(monkeypatch):
    c = config(steps=40, log_every=10, D=6, batch_size=128)
    seen = []
    real = plan.CpuBatches

    def spy(*args, **kw):
        seen.append(kw.get("threaded"))
        return real(*args, **kw)

    monkeypatch.setattr(plan, "CpuBatches", spy)
    monkeypatch.setattr(plan, "available_cpus", lambda: 1)
    one = train(c)
    monkeypatch.setattr(plan, "available_cpus", lambda: 2)
    two = train(c)
    assert seen == [False, True]  # a data thread only when a second core can run it
    np.testing.assert_array_equal(one.W, two.W)
    np.testing.assert_array_equal(one.loss_history, two.loss_history)
