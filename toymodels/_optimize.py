"""The one optimiser loop of the mathematics side: Adam with a cosine-decaying learning rate.

Used wherever the package minimises an exact (closed-form, differentiable) loss in torch
float64: :func:`toymodels.relu.minimize.minimize_restricted_loss` and
:func:`toymodels.relu.minimize.two_in_one_candidates`. (The training engine, which samples data,
has its own fused optimisers in :mod:`toymodels.train.optim`.)
"""

from __future__ import annotations

import numpy as np
import torch

from toymodels.train.divergence import check_loop_step, lr_advice


def adam_cosine(params: list, loss, steps: int, lr: float, *, zero, where: str,
                unit: str) -> None:
    """``steps`` Adam steps on ``loss().sum()`` with a cosine-decaying learning rate.

    ``loss()`` returns one loss per instance (the first axis of every parameter); the instances
    are independent. Every step, and once after the last, the losses, gradients and Adam's
    ``v`` are checked (:func:`toymodels.train.divergence.check_loop_step`): NaN, inf, a loss more
    than ``RUNAWAY`` times the larger of its initial value and ``zero`` (the zero model's loss),
    or an overflowed ``v`` raise ``DivergenceError`` naming ``where``, the step and the ``unit``.
    """
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    advice = lr_advice(lr)
    scale = None

    def check(t, L, grad):
        nonlocal scale
        L = L.detach().numpy()
        scale = np.maximum(L, zero) if scale is None else scale
        n = L.shape[0]
        v = [opt.state[p]["exp_avg_sq"].reshape(n, -1) for p in params if p in opt.state]
        check_loop_step(where, t, L, scale, advice=advice, unit=unit, grad=grad,
                        state=torch.cat(v, 1).numpy() if v else None)

    for t in range(steps):
        opt.zero_grad()
        L = loss()
        L.sum().backward()
        check(t, L, torch.cat([p.grad.reshape(L.shape[0], -1) for p in params], 1).numpy())
        opt.step()
        sched.step()
    with torch.no_grad():
        check(steps, loss(), None)
