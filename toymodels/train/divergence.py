"""Divergence: a run that went wrong, found and named, in every optimisation loop of the package.

A run has diverged when, at some step, for some instance,

* the loss or its gradient is NaN or infinite;
* the loss *ran away*: it is more than :data:`RUNAWAY` times its starting scale (the larger of
  the loss at the first logged step and the loss of the zero model), though still finite
  (float32 reaches 3e38 before it overflows; a run with lr = 1e9 sits at a loss near 3e36);
* the optimiser's state overflowed: Adam's second-moment estimate ``v`` became infinite (the
  square of a gradient above ~1e19 in float32). Adam's update ``m / (√v + ε)`` is then zero,
  so the parameters stop moving while the loss stays wherever it was: a run that looks
  finished.

Each is raised as :class:`DivergenceError`, whose message names the step, the instance and
what to change. On the CPU the trainer checks every step (one sum read on the host: of the
gradient for SGD, of Adam's ``v`` after the update for Adam; the loss at the logged steps) and
then finds the instances with :func:`find_divergence` or :func:`find_state_divergence`; on an
accelerator :class:`AsyncDivergenceGuard` does the same without synchronising inside the step
loop. The small loops elsewhere (``train_linear``, the
restricted-loss minimiser, the tied gradient descent) use :func:`check_loop_step`.
"""

from __future__ import annotations

import numpy as np
import torch

from toymodels._checks import check_int
from toymodels.train import models
from toymodels.train.config import TrainConfig

# ``lr_advice``, ``check_loop_step`` and ``find_state_divergence`` are the package's own plumbing
# (imported by the loops in train, flows, linear_dynamics and relu_loss), not part of the public API.
__all__ = ["RUNAWAY", "DivergenceError", "find_divergence", "divergence_error", "AsyncDivergenceGuard",
           "StepGuard"]

#: a loss more than this many times its starting scale has run away (a diverged run)
RUNAWAY = 1e8


class DivergenceError(RuntimeError, FloatingPointError):
    """A run diverged: its loss became NaN, infinite or ran away, or its optimiser state
    overflowed. ``step`` and ``instances`` say where. (A ``FloatingPointError`` too, which is
    what the numpy loops of the package raised before.)"""

    def __init__(self, message: str, *, step: int, instances: list[int]):
        super().__init__(message)
        self.step = step
        self.instances = instances


def lr_advice(lr: float, *, weight_decay: float | None = None, extra: str = "",
              default: str = "") -> str:
    """``"Try a smaller lr (now 0.01) ..."``: the sentence every divergence message ends with.
    ``default`` explains a learning rate the caller did not choose."""
    wd = f" or a smaller weight_decay (now {weight_decay:g})" if weight_decay is not None else ""
    if default:
        return f"Try passing a smaller lr= (the default, {default} = {lr:.3g}, was used){wd}{extra}."
    return f"Try a smaller lr (now {lr:g}){wd}{extra}."


def _diverged(where: str, t: int, bad, what: str, advice: str, unit: str = "instance"):
    bad = [int(k) for k in bad]
    others = (f"; {len(bad)} {unit}s diverged: {bad[:20]}" + ("..." if len(bad) > 20 else "")
              if len(bad) > 1 else "")
    return DivergenceError(f"{where} diverged at step {t}: {what}{others}. {advice}",
                           step=t, instances=bad)


def _trainer_advice(cfg: TrainConfig, overflow: bool = False) -> str:
    wd = cfg.weight_decay if cfg.weight_decay else None
    return lr_advice(cfg.lr, weight_decay=wd,
                     extra=", or dtype='float64'" if overflow else " or init_scale")


def _runaway_what(k: int, L: float, scale: float) -> str:
    return (f"the loss of instance {k} is {L:.4g}, more than {RUNAWAY:.0e} times its starting "
            f"scale {scale:.4g}: it ran away")


def _overflow_what(k: int, name: str = "instance") -> str:
    return (f"the optimizer's second-moment estimate (Adam's v) of {name} {k} overflowed to inf, "
            f"which freezes its parameters (every update is m/(√v + ε) = 0) while the loss stays "
            f"where it was")


def find_divergence(cfg: TrainConfig, params: dict, x: torch.Tensor, c: torch.Tensor, t: int, *,
                    scale: torch.Tensor | None = None, v: dict | None = None):
    """Slow path, run once: find which instances diverged at step ``t`` (see the module
    docstring) and raise. ``scale``: the per-instance starting scale of the loss (runaway when
    the loss exceeds ``RUNAWAY · scale``); ``v``: Adam's second moment, by parameter, as left by
    the update of step ``t − 1`` (checked first: its overflow happened a step earlier). Returns
    when nothing is wrong (a float32 sum of huge but finite numbers overflowed).

    Called once, after the trainer's cheap per-step test failed: ``cfg`` and ``t`` are checked
    here; ``params``, ``x`` (the batch, feature-major ``(n, D, T)``) and ``c`` (``2ω/T``) are the
    trainer's own buffers and are only checked for their shapes."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    t = check_int(t, "t", minimum=0)
    n, D = cfg.n, cfg.D
    models._check_params(cfg.model, params)
    for name, val, shape in (("x", x, (n, D, None)), ("c", c, (n, D))):
        if not isinstance(val, torch.Tensor) or val.ndim != len(shape) or any(
                want is not None and got != want for got, want in zip(val.shape, shape, strict=True)):
            got = tuple(val.shape) if isinstance(val, torch.Tensor) else type(val).__name__
            raise ValueError(f"{name} must be a tensor of shape "
                             f"{tuple('T' if s is None else s for s in shape)}, got {got}")
    if v is not None and t > 0:
        bad_v = np.zeros(cfg.n, bool)
        for block in v.values():
            bad_v |= ~torch.isfinite(block.reshape(cfg.n, -1)).all(dim=1).cpu().numpy()
        if bad_v.any():
            bad = np.flatnonzero(bad_v)
            raise _diverged("training", t - 1, bad, _overflow_what(bad[0]),
                            _trainer_advice(cfg, overflow=True))
    ω = torch.as_tensor(cfg.ω_vector, dtype=x.dtype, device=x.device)
    L = models.MODELS[cfg.model].loss(params, x.transpose(1, 2), ω)
    grads = {k: torch.empty_like(p) for k, p in params.items()}
    models.loss_and_grad(cfg.model, params, x, c, grads, need_loss=False)
    bad_g = torch.zeros(cfg.n, dtype=torch.bool, device=x.device)
    for g in grads.values():
        bad_g |= ~torch.isfinite(g.reshape(cfg.n, -1)).all(dim=1)
    bad_L = ~torch.isfinite(L)
    Ln = L.double().cpu().numpy()
    if bool((bad_L | bad_g).any()):
        raise divergence_error(t, bad_L.cpu().numpy(), bad_g.cpu().numpy(), Ln,
                               advice=_trainer_advice(cfg))
    if scale is not None:
        s = scale.double().cpu().numpy()
        run = np.flatnonzero(~(Ln <= RUNAWAY * s))
        if run.size:
            k = run[0]
            raise _diverged("training", t, run, _runaway_what(k, Ln[k], s[k]), _trainer_advice(cfg))


def find_state_divergence(cfg: TrainConfig, t: int, grads: dict, v: dict):
    """Slow path after update ``t`` of Adam, whose ``v`` is no longer finite: name the instances
    whose gradient (as used by the update) was NaN or inf, or else whose ``v`` overflowed."""
    n = cfg.n

    def bad(blocks):
        out = np.zeros(n, bool)
        for b in blocks.values():
            out |= ~torch.isfinite(b.reshape(n, -1)).all(dim=1).cpu().numpy()
        return out

    bad_g = bad(grads)
    if bad_g.any():
        raise divergence_error(t, np.zeros(n, bool), bad_g, advice=_trainer_advice(cfg))
    bad_v = np.flatnonzero(bad(v))
    if bad_v.size:
        raise _diverged("training", t, bad_v, _overflow_what(bad_v[0]),
                        _trainer_advice(cfg, overflow=True))


def divergence_error(t: int, bad_L, bad_g, L=None, *, advice: str = "Try a smaller lr or "
                     "init_scale.") -> DivergenceError:
    """The error for a loss (``bad_L``) or gradient (``bad_g``) that is NaN or inf at step t.

    ``bad_L``, ``bad_g``: boolean masks over the instances (at least one entry set); ``L``: the
    per-instance losses (NaN allowed: they are what the message reports)."""
    t = check_int(t, "t", minimum=0)
    masks = []
    for name, mask in (("bad_L", bad_L), ("bad_g", bad_g)):
        mask = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask)
        if mask.dtype != bool or mask.ndim != 1:
            raise TypeError(f"{name} must be a 1-d boolean mask over the instances, "
                            f"got dtype {mask.dtype} and shape {mask.shape}")
        masks.append(mask)
    bad_L, bad_g = masks
    if bad_L.shape != bad_g.shape:
        raise ValueError(f"bad_L and bad_g must have the same shape, got {bad_L.shape} and "
                         f"{bad_g.shape}")
    if not (bad_L | bad_g).any():
        raise ValueError("bad_L and bad_g mark no instance: there is no divergence to report")
    if L is not None:
        L = np.asarray(L.detach().cpu() if isinstance(L, torch.Tensor) else L)
        if L.shape != bad_L.shape:
            raise ValueError(f"L must have one loss per instance, shape {bad_L.shape}, "
                             f"got {L.shape}")
    if not isinstance(advice, str):
        raise TypeError(f"advice must be a string, got {type(advice).__name__}")
    bad = np.flatnonzero(bad_L | bad_g).tolist()
    k = bad[0]
    if L is not None and bad_L[k]:
        what = f"the loss of instance {k} is {L[k]}"
    elif L is not None:
        what = f"the gradient of instance {k} is not finite (its loss is {L[k]:.4g})"
    else:
        what = f"the loss gradient of instance {k} is not finite"
    return _diverged("training", t, bad, what + " (NaN or inf)", advice)


def check_loop_step(where: str, t: int, loss, scale, *, advice: str, unit: str = "instance",
                    state=None, grad=None) -> None:
    """The divergence check of a small optimisation loop (float64, host-side), at step ``t``.

    ``loss``: the per-instance loss before update ``t`` (shape ``(n,)``, or a scalar for one
    instance); ``scale``: its starting scale (runaway above ``RUNAWAY · scale``); ``grad`` and
    ``state`` (Adam's ``v``): optional arrays whose first axis is the instance (non-finite
    entries are a divergence; ``state`` as left by update ``t − 1``). Raises
    :class:`DivergenceError` naming ``where``, the step, the ``unit`` (instance, restart, ...)
    and ``advice``.
    """
    L = np.atleast_1d(np.asarray(loss, dtype=np.float64))
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), L.shape)
    nonfinite = ~np.isfinite(L)
    if grad is not None:
        g = np.asarray(grad).reshape(L.size, -1)
        nonfinite |= ~np.isfinite(g).all(axis=1)
    if nonfinite.any():
        bad = np.flatnonzero(nonfinite)
        k = bad[0]
        what = (f"the loss of {unit} {k} is {L[k]}" if not np.isfinite(L[k]) else
                f"the gradient of {unit} {k} is not finite (its loss is {L[k]:.4g})")
        raise _diverged(where, t, bad, what + " (NaN or inf)", advice, unit)
    run = np.flatnonzero(L > RUNAWAY * s)
    if run.size:
        k = run[0]
        raise _diverged(where, t, run, _runaway_what(k, L[k], s[k]).replace("instance", unit, 1),
                        advice, unit)
    if state is not None and t > 0:
        v = np.asarray(state).reshape(L.size, -1)
        bad = np.flatnonzero(~np.isfinite(v).all(axis=1))
        if bad.size:
            raise _diverged(where, t - 1, bad, _overflow_what(bad[0], unit), advice, unit)


class AsyncDivergenceGuard:
    """Divergence check on an accelerator without synchronising in the step loop.

    Every step writes two per-instance sums into a ring buffer on the device: of the gradient
    (a NaN or inf anywhere in an instance's gradient makes it non-finite) and of Adam's second
    moment ``v`` (infinite once it overflowed), plus, at the logged steps, ``inf`` for an
    instance whose loss is NaN or ran away (above ``RUNAWAY · scale``). Every ``every`` steps the
    ring is reduced on the device to the first non-finite step of each instance, and that small
    result is copied to pinned host memory asynchronously; the copy is inspected at the
    following check, once its CUDA event reports completion, so the host never waits.
    """

    def __init__(self, cfg: TrainConfig, grads: dict, device: torch.device, v: dict | None = None):
        n = cfg.n
        self.cfg = cfg
        self.every = max(1, min(cfg.log_every, (1 << 20) // n, 1000))
        self.blocks = [g.reshape(n, -1) for g in grads.values()]
        self.v_blocks = [b.reshape(n, -1) for b in v.values()] if v is not None else []
        # float64 sums: huge but finite float32 gradients must not overflow into a false alarm;
        # row 0: the gradient, row 1: Adam's v (of the previous update) and the loss
        self.ring = torch.zeros((self.every, 2, n), dtype=torch.float64, device=device)
        self.first = torch.full((2, n), -1, dtype=torch.int64, device=device)
        self.cuda = device.type == "cuda"
        self.host = torch.empty((2, n), dtype=torch.int64, pin_memory=self.cuda)
        self.event, self.base, self.pending = None, 0, False
        self.last = self.reduced = None

    def record(self, t: int, L: torch.Tensor | None = None, limit: torch.Tensor | None = None) -> None:
        """Record step ``t`` (before its update); ``L`` the losses when step ``t`` is logged,
        ``limit`` the runaway limit ``RUNAWAY · scale``."""
        j = t % self.every
        if j == 0:
            self.base = t
        self.last = t
        row = self.ring[j, 0]
        torch.sum(self.blocks[0], dim=1, dtype=torch.float64, out=row)
        for blk in self.blocks[1:]:
            row.add_(blk.sum(dim=1, dtype=torch.float64))
        aux = self.ring[j, 1]
        if self.v_blocks:
            torch.sum(self.v_blocks[0], dim=1, dtype=torch.float64, out=aux)
            for blk in self.v_blocks[1:]:
                aux.add_(blk.sum(dim=1, dtype=torch.float64))
        else:
            aux.zero_()
        if L is not None:
            ok = L <= limit if limit is not None else torch.isfinite(L)
            aux.add_(torch.where(ok, 0.0, float("inf")))
        if j == self.every - 1:
            self._reduce(j + 1)

    def _reduce(self, rows: int) -> None:
        bad = ~torch.isfinite(self.ring[:rows])  # (rows, 2, n)
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
        if not bad.any():
            return
        t = int(first[bad].min())
        if (first[0] == t).any():
            at_t = first[0] == t
            raise divergence_error(t, np.zeros_like(at_t), at_t, advice=_trainer_advice(self.cfg))
        at_t = np.flatnonzero(first[1] == t)
        what = (f"the loss of instance {at_t[0]} is NaN or ran away (above {RUNAWAY:.0e} times its "
                f"starting scale), or its optimizer state (Adam's v) overflowed in update {t - 1}")
        raise _diverged("training", t, at_t, what, _trainer_advice(self.cfg, overflow=True))


class StepGuard:
    """The divergence checks of a plain training loop (:mod:`toymodels.train.reference`), every
    step, on the host: a NaN, inf or runaway loss, and an overflow of Adam's ``v``.

    ``guard(t, L, opt)`` with the per-instance losses ``L`` of step ``t`` (before its update) and
    the ``torch.optim`` optimiser; the starting scale of the loss is the larger of the zero
    model's loss at ``S = 0`` (``Σ ω / 3``) and the loss of the first step checked.
    """

    def __init__(self, cfg: TrainConfig):
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
        self.cfg, self.scale = cfg, None
        self.zero = cfg.ω_vector.sum(1) / 3

    def __call__(self, t: int, L: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        Ln = L.detach().double().cpu().numpy()
        if self.scale is None:
            self.scale = np.maximum(self.zero, Ln)
        n = len(Ln)
        v = [opt.state[p]["exp_avg_sq"].reshape(n, -1) for group in opt.param_groups
             for p in group["params"] if "exp_avg_sq" in opt.state[p]]
        check_loop_step("training", t, Ln, self.scale, advice=_trainer_advice(self.cfg),
                        state=torch.cat(v, 1).cpu().numpy() if v else None)
