"""The training loop a reader reads: what :func:`toymodels.train.engine.train` computes, written
plainly with autograd and ``torch.optim``.

Same interface as the fast engine (a :class:`~toymodels.train.config.TrainConfig` in, a
:class:`~toymodels.train.results.TrainResult` out), same initial parameters, same batches, same
learning-rate schedule and the same divergence checks; ``tests/test_reference.py`` shows that
the two give the same loss curves. The engine differs only in *how* it computes each step:
hand-derived gradients, one fused optimiser over all parameters, data drawn in parallel.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from toymodels.train import models
from toymodels.train.config import TrainConfig
from toymodels.train.divergence import StepGuard
from toymodels.train.plan import plan_run
from toymodels.train.results import TrainResult

__all__ = ["train_reference", "torch_optimizer"]


def train_reference(cfg: TrainConfig, *, plan=None) -> TrainResult:
    """Train the ``cfg.n`` models of ``cfg`` side by side with autograd and ``torch.optim``.

    Each step ``t`` draws the batch ``x`` of that step (``T`` samples of the sparse data of
    Section 2.1 per instance), computes each instance's loss
    ``L = (1/T) Σ_t Σ_i ω_i (x_ti − x̂_ti)²`` (the Monte Carlo estimate of the loss of Section
    3.1), back-propagates the sum of the ``n`` losses (the instances share no parameter, so each
    gets the gradient of its own loss) and takes one optimiser step at the schedule's learning
    rate. ``plan``: a :class:`~toymodels.train.plan.RunPlan` (``None``: :func:`plan_run`).
    """
    plan = plan_run(cfg) if plan is None else plan
    model = models.MODELS[cfg.model]  # forward pass and loss (toymodels.train.models)
    params = {k: p.to(plan.dtype).to(plan.device).requires_grad_()
              for k, p in cfg.initial_params().items()}
    opt = torch_optimizer(cfg, params.values())
    ω = torch.as_tensor(cfg.ω_vector, dtype=plan.dtype, device=plan.device)
    batches = plan.batches(cfg, plain=True)
    logged, history, check = set(cfg.log_steps.tolist()), [], StepGuard(cfg)
    start = time.perf_counter()
    with plan.one_thread():  # on the CPU, one torch thread (as the engine)
        for t in range(cfg.steps):
            x = batches.next().to(plan.dtype).transpose(1, 2)  # the batch of step t, (n, T, D)
            L = model.loss(params, x, ω)  # one loss per instance, (n,)
            check(t, L, opt)  # NaN, inf or a runaway loss: DivergenceError naming t, instance
            if t in logged:
                history.append(L.detach().double().cpu())
            opt.zero_grad()
            L.sum().backward()
            for group in opt.param_groups:
                group["lr"] = cfg.learning_rate(t)
            opt.step()
    batches.close()
    return TrainResult(
        config=cfg, params={k: p.detach().cpu().numpy().astype(np.float64) for k, p in params.items()},
        loss_history=torch.stack(history).numpy(), log_steps=cfg.log_steps.astype(np.int64),
        steps_done=cfg.steps, elapsed_s=time.perf_counter() - start)


def torch_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimiser of ``cfg`` (Adam, AdamW or SGD with its settings) over
    ``params``, an iterable of leaf tensors."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    params = list(params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    kind = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return kind(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
