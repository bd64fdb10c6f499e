"""Fast batched training of many toy models at once, on the CPU or a GPU.

>>> from toymodels.train.engine import TrainConfig, train
>>> cfg = TrainConfig(model="relu", D=5, d=2, n=10, S=0.9, steps=200, log_every=50,
...                   progress=False)
>>> result = train(cfg)
>>> result.W.shape, result.loss_history.shape
((10, 2, 5), (5, 10))

Each of the ``n`` instances is an independent model (linear ``x ↦ ABx``, tied ``x ↦ WᵀWx`` or
ReLU ``x ↦ ReLU(WᵀWx + b)``, see :mod:`toymodels.train.models`) trained on its own fresh batches of
the sparse uniform data of Section 2.1 of the notes, with its own sparsity ``S`` and importance
weights ``ω``, on the importance-weighted loss

    ``L = (1/T) Σ_t Σ_i ω_i (x_ti − x̂_ti)²``    (a mean over the batch, a sum over features),

the Monte Carlo estimate of the integral loss of Section 3.1. The gradient of each instance
depends only on that instance (the instances share nothing but the matrix products that
compute them side by side).

What makes it fast (see ``benchmarks/bench_train.py``): hand-derived gradients
(:func:`toymodels.train.models.loss_and_grad`) with no autograd graph, preallocated buffers, the
importance weights folded into the small matrices, the loss computed only at logged steps, a
fused optimiser on one flat parameter buffer (:mod:`toymodels.train.optim`), and on the CPU cheap
random numbers (raw PCG64 bits turned into floats by two integer operations, see
:mod:`toymodels.train.batches`) drawn in parallel with the products. With one gradient worker a
background thread draws the next steps' batches while the current step computes (when a second
core is available, :func:`available_cpus`); with several workers each draws its own instances
of the batch just before their gradients (no third thread competes for the cores, every core
gets the same mix of work, and the numbers are used while they are in the cache), the
instances of each worker taken a few at a time so that the large intermediate tensors stay in
the cache. On CUDA nothing in the step loop waits for the device: the divergence check
accumulates on the device and is read back asynchronously.

What one step computes is written plainly in :mod:`toymodels.train.reference` (autograd and
``torch.optim``; ``train(cfg, engine="reference")`` runs it): the same losses, tested.

The trainer's parts live in small modules: :mod:`toymodels.train.config` (:class:`TrainConfig`),
:mod:`toymodels.train.plan` (:class:`~toymodels.train.plan.RunPlan`: device, dtype, chunking,
threads, decided once per call), :mod:`toymodels.train.models` (the model registry),
:mod:`toymodels.train.stepper` (the gradients, over worker threads),
:mod:`toymodels.train.optim` (fused optimisers), :mod:`toymodels.train.batches` (the data),
:mod:`toymodels.train.results` (:class:`TrainResult`, saved and loaded without pickle),
:mod:`toymodels.train.resources` (memory and cores) and :mod:`toymodels.train.divergence` (NaN
and inf, found and named). This module has the step loop and re-exports the names a user needs.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np
import torch

from toymodels._checks import check_int
from toymodels.environment import env_flag
from toymodels.train import models
from toymodels.train.config import NoSuperpositionWarning, TrainConfig
from toymodels.train.divergence import (
    RUNAWAY,
    AsyncDivergenceGuard,
    DivergenceError,
    find_divergence,
    find_state_divergence,
)
from toymodels.train.optim import FlatOptimizer
from toymodels.train.plan import RunPlan, plan_run
from toymodels.train.reference import train_reference
from toymodels.train.resources import (
    available_cpus,
    available_memory,
    estimate_memory,
    format_bytes,
    free_memory,
    plan_memory,
)
from toymodels.train.results import TrainResult, check_checkpoint_path, config_differences
from toymodels.train.stepper import GradientStepper, views

__all__ = [
    "TrainConfig",
    "TrainResult",
    "DivergenceError",
    "NoSuperpositionWarning",
    "train",
    "estimate_memory",
    "available_memory",
    "available_cpus",
]

#: the step loops :func:`train` offers (``engine=`` or the environment variable TOYMODELS_ENGINE)
_ENGINES = ("fused", "reference")


def train(config: TrainConfig, *, resume: TrainResult | str | os.PathLike | None = None,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
          prefetch: bool | None = None, workers: int | None = None,
          engine: str | None = None) -> TrainResult:
    """Train ``config.n`` independent toy models side by side.

    Parameters
    ----------
    config : a :class:`TrainConfig`.
    resume : a :class:`TrainResult` (or the path of a saved one) of a shorter or interrupted run
        with the same config (``steps``, ``log_every``, ``progress`` and ``device`` may differ):
        training continues from its last step. With the same ``steps`` the result equals that of
        an uninterrupted run (the data of each step depend only on the seed and the step).
    checkpoint : a path: the result so far is saved there (atomically) every
        ``checkpoint_every`` steps (default: every ``log_every`` steps, at most every 30 s of
        wall-clock time) and at the end, so a long sweep can be resumed after a crash.
    prefetch : on the CPU, draw the batches in a background thread ahead of time or, with
        several ``workers`` (float32), in the workers themselves (each draws its instances of
        the batch just before their gradients: the same numbers as the other ways of drawing
        them). ``None``: when this process may use at least two cores (:func:`available_cpus`);
        on one core a data thread would only compete with the products.
    workers : on the CPU, the number of threads that compute the gradients, each for a
        contiguous block of instances (``None``: one for small problems, else as many as torch's
        intra-op threads). During training torch's intra-op threads are set to 1 (and restored).
    engine : ``"fused"`` (default: hand-derived gradients, fused optimiser) or ``"reference"``
        (autograd through :func:`toymodels.train.models.loss` and ``torch.optim``, on the same batches
        and initialisation: a cross-check, and the "before" of the performance figures; it
        supports neither ``resume`` nor ``checkpoint``). ``None`` reads the environment variable
        ``TOYMODELS_ENGINE`` (default ``"fused"``).

    Raises
    ------
    ValueError : the config would not fit in memory (the message gives the estimate).
    DivergenceError : a loss became NaN or infinite (the message names the step and instance).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    cfg = config
    plan = plan_run(cfg, workers=workers, prefetch=prefetch)
    need, have = plan_memory(cfg, plan), free_memory(plan.device)
    if need > 0.9 * have:
        raise ValueError(
            f"this config needs about {format_bytes(need)} on {plan.device} but only "
            f"{format_bytes(have)} is available; reduce n ({cfg.n}), batch_size "
            f"({cfg.batch_size}) or D ({cfg.D})")
    if checkpoint_every is not None:
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
    engine = _check_engine(engine)
    if engine == "reference" and (resume is not None or checkpoint is not None):
        raise ValueError("engine='reference' supports neither resume nor checkpoint")
    if checkpoint is not None:
        check_checkpoint_path(checkpoint, cfg)  # never overwrite another run's results
    if engine == "reference":
        return train_reference(cfg, plan=plan)
    run = _Run(cfg, plan, resume)
    _loop(run, checkpoint, checkpoint_every)
    result = run.snapshot(cfg.steps)
    if isinstance(resume, TrainResult):
        result.elapsed_s += resume.elapsed_s
    if checkpoint is not None:
        result.save(checkpoint)
    return result


def _check_engine(engine) -> str:
    if engine is None:
        engine = os.environ.get("TOYMODELS_ENGINE", "").strip() or "fused"
        if engine not in _ENGINES:
            raise ValueError(f"the environment variable TOYMODELS_ENGINE must be 'fused' or "
                             f"'reference' (or unset: 'fused'), got {engine!r}")
    if not isinstance(engine, str) or engine not in _ENGINES:
        raise ValueError(f"engine must be 'fused' or 'reference', got {engine!r} (None reads "
                         "the environment variable TOYMODELS_ENGINE)")
    return engine


def _show_progress(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    forced = env_flag("TOYMODELS_PROGRESS")
    if forced is not None:
        return forced
    if os.environ.get("CI"):
        return False
    if "google.colab" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Run:
    """The state of one fused run: all parameters in one flat buffer ``θ`` (and the gradients
    in ``g``), viewed by block; the fused optimiser; the loss log of this call; where it starts
    (step 0, or the last step of the result it resumes)."""

    def __init__(self, cfg: TrainConfig, plan: RunPlan, resume):
        self.cfg, self.plan = cfg, plan
        self.shapes = models.param_shapes(cfg.model, cfg.n, cfg.d, cfg.D)
        self.θ = torch.empty(sum(math.prod(s) for s in self.shapes.values()), dtype=plan.dtype,
                             device=plan.device)
        self.g = torch.empty_like(self.θ)
        self.params, self.grads = views(self.θ, self.shapes), views(self.g, self.shapes)
        self.opt = FlatOptimizer(cfg.optimizer, self.θ, betas=cfg.betas, eps=cfg.eps,
                                 weight_decay=cfg.weight_decay, momentum=cfg.momentum)
        # Adam's second moment, by block
        self.v = views(self.opt.v, self.shapes) if self.opt.v is not None else None
        self.start, self.prev_hist, self.prev_steps = 0, None, None
        if resume is not None:
            self._resume(resume)
        else:
            for k, p in cfg.initial_params().items():
                self.params[k].copy_(p)
        log_steps = cfg.log_steps
        self.new_logs = log_steps[log_steps >= self.start]
        self.log_index = {int(s): i for i, s in enumerate(self.new_logs)}
        self.loss_log = torch.full((len(self.new_logs), cfg.n), float("nan"), dtype=torch.float64,
                                   device=plan.device)
        self.c = torch.as_tensor(2.0 * cfg.ω_vector / cfg.batch_size, dtype=plan.dtype,
                                 device=plan.device)
        # runaway: a logged loss above RUNAWAY times the larger of the zero model's loss at S = 0
        # (Σ ω / 3) and the first logged loss (known at the first logged step of this run)
        self.zero = torch.as_tensor(cfg.ω_vector.sum(1) / 3, dtype=torch.float64,
                                    device=plan.device)
        self.limit = None
        if self.prev_hist is not None and len(self.prev_hist):
            first = torch.as_tensor(self.prev_hist[0], device=plan.device)
            self.limit = RUNAWAY * torch.maximum(self.zero, first)
        self.t0 = time.perf_counter()

    def _resume(self, resume) -> None:
        cfg = self.cfg
        old = (resume.validate("resume") if isinstance(resume, TrainResult)
               else TrainResult.load(resume))
        diff = config_differences(old.config, cfg)
        if diff:
            raise ValueError(f"cannot resume: the config differs in {diff}")
        if old.steps_done > cfg.steps:
            raise ValueError(f"cannot resume: the saved run has done {old.steps_done} steps, "
                             f"more than steps={cfg.steps}")
        if int(old.optimizer_state.get("t", -1)) != old.steps_done:
            raise ValueError("cannot resume: the saved result carries no optimizer state for its "
                             f"{old.steps_done} steps (was it trained with engine='reference'?)")
        self.start = old.steps_done
        for k in self.shapes:
            self.params[k].copy_(torch.as_tensor(old.params[k]))
        if old.optimizer_state:
            self.opt.load_state(old.optimizer_state)
        keep = old.log_steps < self.start
        self.prev_hist, self.prev_steps = old.loss_history[keep], old.log_steps[keep]

    def snapshot(self, steps_done: int) -> TrainResult:
        """The result after ``steps_done`` steps (with the history of the run it resumed)."""
        new_logs = self.new_logs
        hist = self.loss_log[: sum(1 for s in new_logs if s < steps_done)].cpu().numpy()
        steps_logged = new_logs[new_logs < steps_done]
        if self.prev_hist is not None:
            hist = np.concatenate([self.prev_hist, hist])
            steps_logged = np.concatenate([self.prev_steps, steps_logged])
        state = {k: (v.cpu().numpy() if torch.is_tensor(v) else v)
                 for k, v in self.opt.state().items()}
        return TrainResult(
            config=self.cfg,
            params={k: v.detach().cpu().numpy().astype(np.float64) for k, v in self.params.items()},
            loss_history=hist, log_steps=steps_logged.astype(np.int64), steps_done=steps_done,
            optimizer_state=state, elapsed_s=time.perf_counter() - self.t0)

    def check(self, t: int, x, L, logged: bool, guard) -> None:
        """The divergence check of step ``t`` before its update (see :mod:`toymodels.train.divergence`)."""
        if logged and self.limit is None:
            self.limit = RUNAWAY * torch.maximum(self.zero, L.double())
        if guard is not None:
            guard.record(t, L if logged else None, self.limit)
            return
        # one host read a step: for SGD the gradient's sum before the update (NaN or inf anywhere
        # makes it non-finite); for Adam the sum of v after it (v takes in g², so it is NaN or
        # inf for a bad gradient and inf once it overflowed). The loss is compared with the
        # runaway limit at the logged steps.
        if (self.v is None and not math.isfinite(float(self.g.sum()))) or (
                logged and not bool((L <= self.limit).all())):
            find_divergence(self.cfg, self.params, x, self.c, t, v=self.v,
                            scale=None if self.limit is None else self.limit / RUNAWAY)

    def update(self, t: int, guard) -> None:
        """Update ``t`` of the optimiser (then, on the host path, Adam's ``v`` checked)."""
        cfg = self.cfg
        self.opt.step(self.g, cfg.lr if cfg.schedule == "constant" else cfg._learning_rate(t))
        if guard is None and self.v is not None and not math.isfinite(float(self.opt.v.sum())):
            find_state_divergence(cfg, t, self.grads, self.v)


class _Progress:
    """The progress bar (when shown) and the checkpoints of a run."""

    def __init__(self, run: _Run, checkpoint, checkpoint_every):
        cfg = run.cfg
        self.run, self.checkpoint, self.every = run, checkpoint, checkpoint_every
        self.bar, self.bar_every, self.last_loss = None, max(1, cfg.steps // 200), None
        if _show_progress(cfg.progress):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=cfg.steps, initial=run.start, mininterval=0.5, leave=False,
                            desc=f"training {cfg.n} {cfg.model} models")
        self.last_save = time.monotonic()

    def after(self, done: int, L, logged: bool, guard) -> None:
        """After update ``done − 1``: advance the bar, save a checkpoint when one is due."""
        run, bar = self.run, self.bar
        if bar is not None and (done % self.bar_every == 0 or done == run.cfg.steps):
            bar.update(done - bar.n)
            if self.last_loss is not None:
                bar.set_postfix(loss=f"{self.last_loss:.4g}", refresh=False)
        if logged and run.plan.on_cpu and bar is not None:
            self.last_loss = float(L.mean())
        if self.checkpoint is not None and done < run.cfg.steps:
            due = (done % self.every == 0 if self.every is not None else
                   logged and time.monotonic() - self.last_save > 30)
            if due:
                if guard is not None:
                    guard.check(blocking=True)
                run.snapshot(done).save(self.checkpoint)
                self.last_save = time.monotonic()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _loop(run: _Run, checkpoint, checkpoint_every) -> None:
    """The fused step loop: batch, gradients (and, at logged steps, losses), divergence check,
    optimiser update, progress and checkpoints."""
    cfg, plan = run.cfg, run.plan
    stepper = GradientStepper(cfg, run.params, run.grads, run.c, plan.dtype, plan.device,
                              plan.workers)
    batches = plan.batches(cfg, run.start)
    # with several workers (and prefetching) the workers draw the batch themselves
    before = batches.draw if plan.workers_draw else None
    guard = (AsyncDivergenceGuard(cfg, run.grads, plan.device, run.v) if plan.accelerator
             else None)
    progress = _Progress(run, checkpoint, checkpoint_every)
    try:
        with torch.no_grad(), plan.one_thread():
            for t in range(run.start, cfg.steps):
                x = batches.next()
                if plan.dtype != torch.float32:
                    x = x.to(plan.dtype)
                li = run.log_index.get(t)
                L = stepper(x, li is not None, before)
                if li is not None:
                    run.loss_log[li].copy_(L)
                run.check(t, x, L, li is not None, guard)
                run.update(t, guard)
                progress.after(t + 1, L, li is not None, guard)
            if guard is not None:
                guard.check(blocking=True)
    finally:
        batches.close()
        stepper.close()
        progress.close()
