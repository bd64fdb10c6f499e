"""Fused optimisers and learning-rate schedules (toymodels.train.optim)."""

import numpy as np
import pytest
import torch

from toymodels.train import optim
from toymodels.train.engine import TrainConfig, train


@pytest.mark.parametrize("kind,kw", [("adam", {}), ("adam", {"weight_decay": 0.1}),
                                     ("adamw", {"weight_decay": 0.1}), ("sgd", {}),
                                     ("sgd", {"momentum": 0.9, "weight_decay": 0.01})])
def test_fused_optimizers_match_torch_optim(kind, kw):
    g0 = torch.Generator().manual_seed(0)
    θ0 = torch.randn(50, generator=g0, dtype=torch.float64)
    target = torch.randn(50, generator=g0, dtype=torch.float64)
    p = torch.nn.Parameter(θ0.clone())
    ref = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[kind](
        [p], lr=0.01, **kw)
    θ = θ0.clone()
    fused = optim.FlatOptimizer(kind, θ, **kw)
    for _ in range(30):
        ref.zero_grad()
        ((p - target) ** 4).sum().backward()
        ref.step()
        fused.step(4 * (θ - target) ** 3, 0.01)
    torch.testing.assert_close(θ, p.detach(), rtol=1e-10, atol=1e-12)


def test_schedules():
    c = cfg(steps=1000, schedule="cosine", lr=0.1)
    assert c.learning_rate(0) == 0.1 and c.learning_rate(500) == pytest.approx(0.05)
    assert c.learning_rate(999) < 1e-5
    w = cfg(steps=1000, schedule="linear_warmup_cosine", lr=0.1, warmup_steps=100)
    assert w.learning_rate(0) == pytest.approx(0.001) and w.learning_rate(99) == 0.1
    assert w.learning_rate(550) == pytest.approx(0.05)
    for name in ["constant", "cosine", "linear_warmup_cosine"]:
        for opt in ["adam", "adamw", "sgd"]:
            r = train(cfg(schedule=name, optimizer=opt, steps=12, weight_decay=0.01))
            assert np.all(np.isfinite(r.final_loss))


def test_learning_rate_checks_its_arguments_by_name():
    assert optim.learning_rate("cosine", 0.1, 10, 10) == pytest.approx(0.0, abs=1e-12)
    for args, msg in [(("cosine", 0.1, -1, 10), "step must be >= 0"),
                      (("cosine", 0.1, 11, 10), "step must be <= 10"),
                      (("cosine", 0.1, True, 10), "step must be an integer"),
                      (("cosine", float("nan"), 1, 10), "lr must be finite"),
                      (("cosine", 0.1, 1, 0), "steps must be >= 1"),
                      (("linear_warmup_cosine", 0.1, 1, 10, 1.5), "warmup_steps must be an int"),
                      (("warm", 0.1, 1, 10), "schedule must be one of")]:
        with pytest.raises((TypeError, ValueError), match=msg):
            optim.learning_rate(*args)
    with pytest.raises(ValueError, match="step must be <= 40"):
        cfg().learning_rate(41)


SMALL = dict(D=5, d=2, n=3, batch_size=64, steps=40, log_every=10,
             progress=False)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**SMALL, **kw})
