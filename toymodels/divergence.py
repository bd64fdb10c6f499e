"""Divergence: a loss or gradient that became NaN or infinite, found and named.

On the CPU the trainer checks every step (a sum of the gradient, read on the host) and then
finds the instances with :func:`find_divergence`; on an accelerator
:class:`AsyncDivergenceGuard` does the same without synchronising inside the step loop.
"""

from __future__ import annotations

import numpy as np
import torch

from . import models
from .config import TrainConfig

__all__ = ["DivergenceError", "find_divergence", "divergence_error", "AsyncDivergenceGuard"]


class DivergenceError(RuntimeError):
    """The loss of some instance became NaN or infinite. ``step`` and ``instances`` say where."""

    def __init__(self, message: str, *, step: int, instances: list[int]):
        super().__init__(message)
        self.step = step
        self.instances = instances


def find_divergence(cfg: TrainConfig, params: dict, x: torch.Tensor, c: torch.Tensor, t: int):
    """Slow path, run once: find which instances have a non-finite loss or gradient at step t."""
    ω = torch.as_tensor(cfg._ω, dtype=x.dtype, device=x.device)
    L = models.loss(cfg.model, params, x.transpose(1, 2), ω)
    grads = {k: torch.empty_like(v) for k, v in params.items()}
    models.loss_and_grad(cfg.model, params, x, c, grads, need_loss=False)
    bad_g = torch.zeros(cfg.n_instances, dtype=torch.bool, device=x.device)
    for v in grads.values():
        bad_g |= ~torch.isfinite(v.reshape(cfg.n_instances, -1)).all(dim=1)
    bad_L = ~torch.isfinite(L)
    if not bool((bad_L | bad_g).any()):
        return  # the float32 sum of huge but finite gradients overflowed: not a divergence
    raise divergence_error(t, bad_L.cpu().numpy(), bad_g.cpu().numpy(), L.cpu().numpy())


def divergence_error(t: int, bad_L, bad_g, L=None) -> DivergenceError:
    bad = np.flatnonzero(np.asarray(bad_L) | np.asarray(bad_g)).tolist()
    k = bad[0]
    if L is not None and bad_L[k]:
        what = f"the loss of instance {k} is {L[k]}"
    elif L is not None:
        what = f"the gradient of instance {k} is not finite (its loss is {L[k]:.4g})"
    else:
        what = f"the loss gradient of instance {k} is not finite"
    others = f"; {len(bad)} instances diverged: {bad[:20]}" + ("..." if len(bad) > 20 else "")
    return DivergenceError(
        f"training diverged at step {t}: {what} (NaN or inf){others}. "
        f"Try a smaller lr or init_scale.", step=t, instances=bad)


class AsyncDivergenceGuard:
    """Divergence check on an accelerator without synchronising in the step loop.

    Every step writes the per-instance sum of the gradient into a ring buffer on the device (a
    NaN or inf anywhere in an instance's gradient makes its sum non-finite). Every ``every``
    steps the ring is reduced on the device to the first non-finite step of each instance, and
    that small result is copied to pinned host memory asynchronously; the copy is inspected at
    the following check, once its CUDA event reports completion, so the host never waits.
    """

    def __init__(self, cfg: TrainConfig, grads: dict, device: torch.device):
        n = cfg.n_instances
        self.every = max(1, min(cfg.log_every, (1 << 20) // n, 1000))
        self.blocks = [v.reshape(n, -1) for v in grads.values()]
        # float64 sums: huge but finite float32 gradients must not overflow into a false alarm
        self.ring = torch.zeros((self.every, n), dtype=torch.float64, device=device)
        self.first = torch.full((n,), -1, dtype=torch.int64, device=device)
        self.cuda = device.type == "cuda"
        self.host = torch.empty((n,), dtype=torch.int64, pin_memory=self.cuda)
        self.event, self.base, self.pending = None, 0, False
        self.last = self.reduced = None

    def record(self, t: int) -> None:
        j = t % self.every
        if j == 0:
            self.base = t
        self.last = t
        row = self.ring[j]
        torch.sum(self.blocks[0], dim=1, dtype=torch.float64, out=row)
        for blk in self.blocks[1:]:
            row.add_(blk.sum(dim=1, dtype=torch.float64))
        if j == self.every - 1:
            self._reduce(j + 1)

    def _reduce(self, rows: int) -> None:
        bad = ~torch.isfinite(self.ring[:rows])  # (rows, n)
        idx = torch.argmax(bad.to(torch.uint8), dim=0) + self.base
        new = torch.where(bad.any(dim=0) & (self.first < 0), idx, self.first)
        self.first.copy_(new)
        self.reduced = self.last
        self.check(blocking=False)
        self.host.copy_(self.first, non_blocking=True)
        if self.cuda:
            self.event = torch.cuda.Event()
            self.event.record()
        self.pending = True

    def check(self, blocking: bool) -> None:
        if blocking:
            if self.last is not None and self.reduced != self.last:
                self._reduce(self.last - self.base + 1)
            if self.cuda:
                torch.cuda.synchronize()
            self.pending = False
            self._raise_if_bad()
            return
        if self.pending and (self.event is None or self.event.query()):
            self.pending = False
            self._raise_if_bad()

    def _raise_if_bad(self) -> None:
        first = self.host.numpy()
        bad = first >= 0
        if bad.any():
            t = int(first[bad].min())
            at_t = first == t
            raise divergence_error(t, np.zeros_like(at_t), at_t)
