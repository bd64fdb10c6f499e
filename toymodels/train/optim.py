"""Fused optimisers on one flat parameter buffer, and learning-rate schedules.

All parameters of all instances live in one contiguous tensor ``θ`` and their gradients in
one tensor ``g`` of the same size, so an optimiser step is a handful of in-place tensor
operations whatever the number of instances or parameter blocks. The updates are the ones of
``torch.optim.Adam``, ``torch.optim.AdamW`` and ``torch.optim.SGD`` (Kingma & Ba, 2014, for
Adam); they are elementwise, so every instance is updated from its own gradient only.
The learning rate is a Python float computed on the host, so a step never synchronises with
an accelerator.
"""

from __future__ import annotations

import math

import torch

from toymodels._checks import check_float, check_int

__all__ = ["OPTIMIZERS", "SCHEDULES", "FlatOptimizer", "learning_rate"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "linear_warmup_cosine")


def learning_rate(schedule: str, lr: float, step: int, steps: int, warmup_steps: int = 0) -> float:
    """Learning rate at ``step`` (0-based, ``0 <= step <= steps``: ``steps`` itself gives the
    rate after the last step) of ``steps``.

    ``constant``: ``lr``. ``cosine``: ``lr · (1 + cos(π t / steps)) / 2``, from ``lr`` down to
    (almost) zero. ``linear_warmup_cosine``: a linear ramp ``lr · (t + 1) / warmup_steps`` over the
    first ``warmup_steps`` steps (``0 <= warmup_steps <= steps``), then the cosine decay over the
    remaining steps. ``lr > 0`` is finite.
    """
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
    lr = check_float(lr, "lr", positive=True)
    steps = check_int(steps, "steps", minimum=1)
    step = check_int(step, "step", minimum=0, maximum=steps)
    warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0, maximum=steps)
    return _learning_rate(schedule, lr, step, steps, warmup_steps)


def _learning_rate(schedule: str, lr: float, step: int, steps: int, warmup_steps: int) -> float:
    """:func:`learning_rate` without the checks: the trainer calls it every step with values a
    :class:`~toymodels.train.config.TrainConfig` has checked once."""
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))
    if step < warmup_steps:  # linear_warmup_cosine
        return lr * (step + 1) / warmup_steps
    rest = max(steps - warmup_steps, 1)
    return lr * 0.5 * (1.0 + math.cos(math.pi * (step - warmup_steps) / rest))


class FlatOptimizer:
    """Adam, AdamW or SGD (with optional momentum) on one flat parameter tensor.

    ``step(g, lr)`` updates ``θ`` in place from the gradient ``g`` (which it may modify, for
    the weight decay of Adam and SGD, as ``torch.optim`` does). The state (``m``, ``v`` or the
    momentum buffer, and the step count) is exposed by :meth:`state` / :meth:`load_state` so that
    a run can be saved and resumed exactly.
    """

    def __init__(self, kind: str, θ: torch.Tensor, *, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0):
        if kind not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {kind!r}")
        self.kind, self.θ = kind, θ
        self.β1, self.β2 = float(betas[0]), float(betas[1])
        self.eps, self.wd, self.momentum = float(eps), float(weight_decay), float(momentum)
        self.t = 0
        if kind == "sgd":
            self.m = torch.zeros_like(θ) if self.momentum else None
            self.v = None
        else:
            self.m, self.v = torch.zeros_like(θ), torch.zeros_like(θ)
            self._tmp = torch.empty_like(θ)

    def step(self, g: torch.Tensor, lr: float) -> None:
        """One update of ``θ`` with learning rate ``lr``."""
        self.t += 1
        θ = self.θ
        if self.kind == "sgd":
            if self.wd:
                g.add_(θ, alpha=self.wd)
            if self.m is not None:
                g = self.m.mul_(self.momentum).add_(g) if self.t > 1 else self.m.copy_(g)
            θ.add_(g, alpha=-lr)
            return
        if self.kind == "adamw":
            if self.wd:
                θ.mul_(1.0 - lr * self.wd)
        elif self.wd:
            g.add_(θ, alpha=self.wd)
        self.m.lerp_(g, 1.0 - self.β1)
        self.v.mul_(self.β2).addcmul_(g, g, value=1.0 - self.β2)
        bc1 = 1.0 - self.β1 ** self.t
        sbc2 = math.sqrt(1.0 - self.β2 ** self.t)
        # θ -= lr/bc1 · m / (√v/√bc2 + ε), with √bc2 moved out of the big tensors
        denom = torch.sqrt(self.v, out=self._tmp).add_(self.eps * sbc2)
        θ.addcdiv_(self.m, denom, value=-lr * sbc2 / bc1)

    def state(self) -> dict:
        """The optimiser state as tensors (``m``, ``v`` when present) and the step count."""
        out = {"t": self.t}
        if self.m is not None:
            out["m"] = self.m
        if self.v is not None:
            out["v"] = self.v
        return out

    def load_state(self, state: dict) -> None:
        """Restore a state saved by :meth:`state` (tensors or arrays of the right size)."""
        self.t = int(state["t"])
        for key in ("m", "v"):
            buf = getattr(self, key)
            if buf is not None:
                if key not in state:
                    raise ValueError(f"the saved optimizer state lacks {key!r}")
                buf.copy_(torch.as_tensor(state[key]).reshape(buf.shape))
