"""Fast batched training of many toy models at once, on the CPU or a GPU.

>>> from toymodels.train.engine import TrainConfig, train
>>> cfg = TrainConfig(model="relu", n_features=5, n_hidden=2, n_instances=10,
...                   sparsity=0.9, steps=200, log_every=50, progress=False)
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

The trainer's parts live in small modules: :mod:`toymodels.train.config` (:class:`TrainConfig`),
:mod:`toymodels.train.results` (:class:`TrainResult`, saved and loaded without pickle),
:mod:`toymodels.train.batches` (the data), :mod:`toymodels.train.resources` (memory and cores) and
:mod:`toymodels.train.divergence` (NaN and inf, found and named). This module has the step loop and
re-exports the names a user needs.
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
from toymodels.train.batches import BlockBatches, CpuBatches, DeviceBatches, chunk_steps
from toymodels.train.config import DTYPES, NoSuperpositionWarning, TrainConfig
from toymodels.train.divergence import (
    RUNAWAY,
    AsyncDivergenceGuard,
    DivergenceError,
    _trainer_advice,
    check_loop_step,
    find_divergence,
    find_state_divergence,
)
from toymodels.train.optim import FlatOptimizer
from toymodels.train.resources import available_cpus, available_memory, estimate_memory, format_bytes
from toymodels.train.results import TrainResult, check_checkpoint_path

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


# ----------------------------------------------------------------------------------------------
# training

#: the step loops :func:`train` offers (``engine=`` or the environment variable TOYMODELS_ENGINE)
_ENGINES = ("fused", "reference")


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


def _init_params(cfg: TrainConfig) -> dict:
    """Gaussian initialisation (float64, on the CPU, so identical on every device)."""
    n, d, D = cfg.n_instances, cfg.n_hidden, cfg.n_features
    std = cfg.init_scale if cfg.init_scale is not None else math.sqrt(2.0 / (d + D))
    gen = torch.Generator().manual_seed(cfg.seed)
    out = {}
    for name, shape in models.param_shapes(cfg.model, n, d, D).items():
        out[name] = (torch.zeros(shape, dtype=torch.float64) if name == "b" else
                     torch.randn(shape, generator=gen, dtype=torch.float64) * std)
    return out


def _compatible(old: TrainConfig, new: TrainConfig) -> list[str]:
    free = {"steps", "log_every", "progress", "device"}
    a, b = old.to_dict(), new.to_dict()
    return sorted(k for k in a if k not in free and a[k] != b[k])


def train(config: TrainConfig, *, resume: TrainResult | str | os.PathLike | None = None,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
          prefetch: bool | None = None, workers: int | None = None,
          engine: str | None = None) -> TrainResult:
    """Train ``config.n_instances`` independent toy models side by side.

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
    from toymodels.environment import choose_device

    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    cfg = config
    device = choose_device(cfg.device)
    dtype = DTYPES[cfg.dtype]
    need, have = estimate_memory(cfg, device), available_memory(device)
    if need > 0.9 * have:
        raise ValueError(
            f"this config needs about {format_bytes(need)} on {device} but only {format_bytes(have)} "
            f"is available; reduce n_instances ({cfg.n_instances}), batch_size ({cfg.batch_size}) "
            f"or n_features ({cfg.n_features})")
    if checkpoint_every is not None:
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
    if engine is None:
        engine = os.environ.get("TOYMODELS_ENGINE", "").strip() or "fused"
        if engine not in _ENGINES:
            raise ValueError(f"the environment variable TOYMODELS_ENGINE must be 'fused' or "
                             f"'reference' (or unset: 'fused'), got {engine!r}")
    if not isinstance(engine, str) or engine not in _ENGINES:
        raise ValueError(f"engine must be 'fused' or 'reference', got {engine!r} (None reads "
                         "the environment variable TOYMODELS_ENGINE)")
    if engine == "reference" and (resume is not None or checkpoint is not None):
        raise ValueError("engine='reference' supports neither resume nor checkpoint")
    if checkpoint is not None:
        check_checkpoint_path(checkpoint, cfg)  # never overwrite another run's results

    n, T, d, D = cfg.n_instances, cfg.batch_size, cfg.n_hidden, cfg.n_features
    shapes = models.param_shapes(cfg.model, n, d, D)
    sizes = {k: math.prod(s) for k, s in shapes.items()}
    θ = torch.empty(sum(sizes.values()), dtype=dtype, device=device)
    g = torch.empty_like(θ)
    params, grads = _views(θ, shapes), _views(g, shapes)
    opt = FlatOptimizer(cfg.optimizer, θ, betas=cfg.betas, eps=cfg.eps,
                        weight_decay=cfg.weight_decay, momentum=cfg.momentum)
    v = _views(opt.v, shapes) if opt.v is not None else None  # Adam's second moment, by block

    log_steps = cfg.log_steps
    start, prev_hist, prev_steps = 0, None, None
    if resume is not None:
        old = (resume.validate("resume") if isinstance(resume, TrainResult)
               else TrainResult.load(resume))
        diff = _compatible(old.config, cfg)
        if diff:
            raise ValueError(f"cannot resume: the config differs in {diff}")
        if old.steps_done > cfg.steps:
            raise ValueError(f"cannot resume: the saved run has done {old.steps_done} steps, "
                             f"more than steps={cfg.steps}")
        if int(old.optimizer_state.get("t", -1)) != old.steps_done:
            raise ValueError("cannot resume: the saved result carries no optimizer state for its "
                             f"{old.steps_done} steps (was it trained with engine='reference'?)")
        start = old.steps_done
        for k in shapes:
            params[k].copy_(torch.as_tensor(old.params[k]))
        if old.optimizer_state:
            opt.load_state(old.optimizer_state)
        keep = old.log_steps < start
        prev_hist, prev_steps = old.loss_history[keep], old.log_steps[keep]
    else:
        for k, p in _init_params(cfg).items():
            params[k].copy_(p)
    new_logs = log_steps[log_steps >= start]
    log_index = {int(s): i for i, s in enumerate(new_logs)}
    loss_log = torch.full((len(new_logs), n), float("nan"), dtype=torch.float64, device=device)

    c = torch.as_tensor(2.0 * cfg.importance_array / T, dtype=dtype, device=device)
    accel = _accelerator_path(device)
    K = chunk_steps(cfg, "cuda" if accel else "cpu")
    on_cpu = device.type == "cpu"
    threads_before = torch.get_num_threads()
    cpus = available_cpus() if on_cpu else 1
    if workers is None:
        big = n * T * D * d >= 1 << 22  # enough work per step to be worth splitting
        workers = min(n, threads_before, cpus) if big else 1
    workers = check_int(workers, "workers", minimum=1)
    if accel:
        workers = 1
    stepper = _Stepper(cfg, params, grads, c, dtype, device, min(workers, n))
    if prefetch is None:
        prefetch = cpus >= 2
    # with several workers (and prefetching) the workers draw the batch themselves
    by_workers = (not accel and bool(prefetch) and stepper.pool is not None
                  and engine != "reference" and dtype == torch.float32)
    batches = (DeviceBatches(cfg, start, K, device) if accel
               else BlockBatches(cfg, start, K) if by_workers
               else CpuBatches(cfg, start, K, threaded=bool(prefetch)))
    before = batches.draw if by_workers else None
    guard = AsyncDivergenceGuard(cfg, grads, device, v) if accel else None
    # runaway: a logged loss above RUNAWAY times the larger of the zero model's loss at S = 0
    # (Σ ω / 3) and the first logged loss (known at the first logged step of this run)
    zero = torch.as_tensor(cfg.importance_array.sum(1) / 3, dtype=torch.float64, device=device)
    limit = None
    if prev_hist is not None and len(prev_hist):
        limit = RUNAWAY * torch.maximum(zero, torch.as_tensor(prev_hist[0], device=device))

    bar = None
    if _show_progress(cfg.progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc=f"training {n} {cfg.model} models",
                   mininterval=0.5, leave=False)
    bar_every = max(1, cfg.steps // 200)
    last_save, t0 = time.monotonic(), time.perf_counter()

    def snapshot(steps_done: int) -> TrainResult:
        hist = loss_log[: sum(1 for s in new_logs if s < steps_done)].cpu().numpy()
        steps_logged = new_logs[new_logs < steps_done]
        if prev_hist is not None:
            hist = np.concatenate([prev_hist, hist])
            steps_logged = np.concatenate([prev_steps, steps_logged])
        state = {k: (v.cpu().numpy() if torch.is_tensor(v) else v) for k, v in opt.state().items()}
        return TrainResult(
            config=cfg,
            params={k: v.detach().cpu().numpy().astype(np.float64) for k, v in params.items()},
            loss_history=hist, log_steps=steps_logged.astype(np.int64), steps_done=steps_done,
            optimizer_state=state,
            elapsed_s=time.perf_counter() - t0)

    if engine == "reference":
        try:
            _reference_loop(cfg, params, batches, log_index, loss_log, dtype, start, zero)
        finally:
            batches.close()
            stepper.close()
        result = snapshot(cfg.steps)
        result.optimizer_state = {}  # torch.optim's state is not kept: such a result can't resume
        return result
    lr, constant_lr, last_loss = cfg.lr, cfg.schedule == "constant", None
    if on_cpu:
        # one intra-op thread: the parallelism comes from the data thread and the workers
        # (blocking Python threads degrade gracefully on a busy machine, OpenMP spinning does not)
        torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for t in range(start, cfg.steps):
                x = batches.next()
                if dtype != torch.float32:
                    x = x.to(dtype)
                li = log_index.get(t)
                L = stepper(x, li is not None, before)
                if li is not None:
                    loss_log[li].copy_(L)
                    if limit is None:
                        limit = RUNAWAY * torch.maximum(zero, L.double())
                if guard is None:
                    # one host read a step: for SGD the gradient's sum before the update (NaN or
                    # inf anywhere makes it non-finite); for Adam the sum of v after it (v takes
                    # in g², so it is NaN or inf for a bad gradient and inf once it overflowed).
                    # The loss is compared with the runaway limit at the logged steps.
                    if (v is None and not math.isfinite(float(g.sum()))) or (
                            li is not None and not bool((L <= limit).all())):
                        find_divergence(cfg, params, x, c, t, v=v,
                                        scale=None if limit is None else limit / RUNAWAY)
                else:
                    guard.record(t, L if li is not None else None, limit)
                opt.step(g, lr if constant_lr else cfg._learning_rate(t))
                if guard is None and v is not None and not math.isfinite(float(opt.v.sum())):
                    find_state_divergence(cfg, t, grads, v)
                done = t + 1
                if bar is not None and (done % bar_every == 0 or done == cfg.steps):
                    bar.update(done - bar.n)
                    if last_loss is not None:
                        bar.set_postfix(loss=f"{last_loss:.4g}", refresh=False)
                if li is not None and on_cpu and bar is not None:
                    last_loss = float(L.mean())
                if checkpoint is not None and done < cfg.steps:
                    due = (done % checkpoint_every == 0 if checkpoint_every is not None else
                           li is not None and time.monotonic() - last_save > 30)
                    if due:
                        if guard is not None:
                            guard.check(blocking=True)
                        snapshot(done).save(checkpoint)
                        last_save = time.monotonic()
            if guard is not None:
                guard.check(blocking=True)
    finally:
        batches.close()
        stepper.close()
        if on_cpu:
            torch.set_num_threads(threads_before)
        if bar is not None:
            bar.close()
    result = snapshot(cfg.steps)
    if isinstance(resume, TrainResult):
        result.elapsed_s += resume.elapsed_s
    if checkpoint is not None:
        result.save(checkpoint)
    return result


def _views(flat: torch.Tensor, shapes: dict) -> dict:
    """The blocks of a flat buffer (parameters, gradients or optimizer state) by name."""
    out, off = {}, 0
    for k, s in shapes.items():
        size = math.prod(s)
        out[k] = flat[off:off + size].view(s)
        off += size
    return out


def _reference_loop(cfg, params, batches, log_index, loss_log, dtype, start, zero) -> None:
    """The plain loop: autograd through the model's forward pass and ``torch.optim``, with the
    same divergence checks as the fused loop (every step: a NaN, inf or runaway loss, and an
    overflow of Adam's ``v``)."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(list(leaves.values()), lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)
    else:
        kind = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        opt = kind(list(leaves.values()), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                   weight_decay=cfg.weight_decay)
    ω = torch.as_tensor(cfg.importance_array, dtype=dtype, device=loss_log.device)
    for t in range(start, cfg.steps):
        x = batches.next().to(dtype).transpose(1, 2)  # (n, T, D)
        L = models._loss(cfg.model, leaves, x, ω)
        Ln = L.detach().double()
        if t == start:
            scale = torch.maximum(zero, Ln)
        v = [opt.state[p]["exp_avg_sq"].reshape(len(Ln), -1) for p in leaves.values()
             if "exp_avg_sq" in opt.state[p]]
        check_loop_step("training", t, Ln.cpu().numpy(), scale.cpu().numpy(),
                        state=torch.cat(v, 1).cpu() if v else None, advice=_trainer_advice(cfg))
        opt.zero_grad(set_to_none=True)
        L.sum().backward()
        for group in opt.param_groups:
            group["lr"] = cfg._learning_rate(t)
        opt.step()
        li = log_index.get(t)
        if li is not None:
            loss_log[li].copy_(L.detach())
    with torch.no_grad():
        for k, v in leaves.items():
            params[k].copy_(v)


class _Stepper:
    """The gradient of every instance, the instances split into blocks over worker threads.

    Each block is processed in sub-blocks of instances whose ``(D, T)`` tensors together stay
    small (at most ``_SUB_ELEMENTS`` entries per tensor): the batch, the pre-activation and the
    residual of a sub-block then stay in the caches between the products and the elementwise
    passes that use them, instead of streaming through memory (on two cores sharing one cache,
    about a fifth faster for 200 features × 1024 samples). Small problems are one sub-block.
    """

    def __init__(self, cfg, params, grads, c, dtype, device, workers):
        n, T, d, D = cfg.n_instances, cfg.batch_size, cfg.n_hidden, cfg.n_features
        self.model = cfg.model
        sub = max(1, _SUB_ELEMENTS // (D * T)) if device.type == "cpu" else n
        edges = np.linspace(0, n, workers + 1).round().astype(int)
        self.blocks = []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            a, b = int(a), int(b)
            spaces, parts = {}, []
            for s in range(a, b, sub):
                e = min(s + sub, b)
                if e - s not in spaces:
                    spaces[e - s] = models.Workspace(cfg.model, e - s, T, d, D, dtype=dtype,
                                                     device=device)
                parts.append(({k: v[s:e] for k, v in params.items()},
                              {k: v[s:e] for k, v in grads.items()}, c[s:e], s, e, spaces[e - s]))
            self.blocks.append((a, b, parts))
        self.pool = None
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(workers - 1, thread_name_prefix="toymodels-step",
                                           initializer=torch.set_num_threads, initargs=(1,))

    def _block(self, block, x, need_loss, before=None):
        losses = []
        for p, g, c, s, e, ws in block[2]:
            if before is not None:
                before(s, e)  # e.g. draw these instances of the batch
            losses.append(models.loss_and_grad(self.model, p, x[s:e], c, g, ws=ws,
                                               need_loss=need_loss))
        if not need_loss:
            return None
        return losses[0] if len(losses) == 1 else torch.cat(losses)

    def __call__(self, x: torch.Tensor, need_loss: bool, before=None):
        """The gradients (and, when asked, the losses) on batch ``x``; before each sub-block
        ``before(s, e)`` is called with its instance range, in the thread that computes it."""
        if self.pool is None:
            return self._block(self.blocks[0], x, need_loss, before)
        futures = [self.pool.submit(self._block, blk, x, need_loss, before)
                   for blk in self.blocks[1:]]
        losses = [self._block(self.blocks[0], x, need_loss, before)]
        losses += [f.result() for f in futures]
        return torch.cat(losses) if need_loss else None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


#: the sub-blocks of :class:`_Stepper` hold at most this many entries per ``(D, T)`` tensor
_SUB_ELEMENTS = 1 << 18


def _accelerator_path(device: torch.device) -> bool:
    """Whether to use the accelerator code path (batches drawn by torch on the device, the
    asynchronous divergence guard). Tests force it on the CPU, where no GPU is available, with
    the environment variable ``TOYMODELS_ACCELERATOR_PATH=1``."""
    return device.type != "cpu" or os.environ.get("TOYMODELS_ACCELERATOR_PATH") == "1"
