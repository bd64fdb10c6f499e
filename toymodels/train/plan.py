"""The run plan: where and how a training run executes, decided once per run.

A :class:`~toymodels.train.config.TrainConfig` says *what* to train; :class:`RunPlan` says *how*
on this machine: the device, the floating-point type, whether the accelerator code path is taken
(batches drawn on the device, divergence checked asynchronously), how many steps of data one
seeding of the generator draws (the chunk), how many cores there are, how many threads compute
the gradients and whether the data are drawn ahead of time. :func:`plan_run` computes it from
the config and the machine; :func:`~toymodels.train.engine.train`, the reference loop
(:mod:`toymodels.train.reference`) and the memory estimate all read the same plan.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from toymodels._checks import check_int
from toymodels.train.batches import BlockBatches, CpuBatches, DeviceBatches, chunk_steps
from toymodels.train.config import DTYPES, TrainConfig
from toymodels.train.resources import available_cpus

__all__ = ["RunPlan", "plan_run"]

#: ``n T D d`` at and above which a step is worth splitting over several gradient threads
_SPLIT_WORK = 1 << 22


@dataclass(frozen=True)
class RunPlan:
    """How a run executes (see the module docstring); made by :func:`plan_run`.

    ``device``, ``dtype``: where and in which type the parameters live. ``accelerator``: the
    accelerator code path. ``chunk``: steps of data per seeding of the generator
    (:func:`~toymodels.train.batches.chunk_steps`). ``cpus``: cores this process may use (1 off
    the CPU). ``threads``: torch's intra-op threads when the run started (restored at its end).
    ``workers``: threads computing the gradients, each for a block of instances. ``prefetch``:
    draw the data ahead of time (in a data thread, or in the workers).
    """

    device: torch.device
    dtype: torch.dtype
    accelerator: bool
    chunk: int
    cpus: int
    threads: int
    workers: int
    prefetch: bool

    @property
    def on_cpu(self) -> bool:
        return self.device.type == "cpu"

    @property
    def workers_draw(self) -> bool:
        """Whether each gradient worker draws its own instances of the batch (float32, several
        workers, prefetching): the same numbers as the data thread, drawn where they are used."""
        return (not self.accelerator and self.prefetch and self.workers > 1
                and self.dtype == torch.float32)

    @contextlib.contextmanager
    def one_thread(self):
        """On the CPU, run the block with one torch intra-op thread (restored after): the
        parallelism comes from the data thread and the gradient workers, and blocking Python
        threads degrade gracefully on a busy machine where OpenMP's spinning threads do not
        (tiny products on several OpenMP threads were 20 times slower on a shared machine)."""
        if self.on_cpu:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if self.on_cpu:
                torch.set_num_threads(self.threads)

    def batches(self, cfg: TrainConfig, start: int = 0, *, plain: bool = False):
        """The data stream of the run from step ``start``: the batch of step ``t`` is the
        ``(n, D, T)`` tensor of :meth:`next`'s ``t − start``-th call. ``plain``: one stream
        drawn in the calling thread (the reference loop), with the very same numbers."""
        if self.accelerator:
            return DeviceBatches(cfg, start, self.chunk, self.device)
        if self.workers_draw and not plain:
            return BlockBatches(cfg, start, self.chunk)
        return CpuBatches(cfg, start, self.chunk, threaded=self.prefetch and not plain)


def plan_run(cfg: TrainConfig, *, workers: int | None = None,
             prefetch: bool | None = None) -> RunPlan:
    """The :class:`RunPlan` of ``cfg`` on this machine (the device is chosen here, once).

    ``workers``: gradient threads (``None``: one for small problems, else as many as torch's
    intra-op threads, the cores and the instances allow; always one on an accelerator).
    ``prefetch``: draw the data ahead of time (``None``: when at least two cores are available).
    """
    from toymodels.environment import choose_device

    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    if prefetch is not None and not isinstance(prefetch, bool):
        raise TypeError(f"prefetch must be None or a bool, got {prefetch!r}")
    if workers is not None:
        workers = check_int(workers, "workers", minimum=1)
    device = choose_device(cfg.device)
    accelerator = _accelerator_path(device)
    on_cpu = device.type == "cpu"
    threads = torch.get_num_threads()
    cpus = available_cpus() if on_cpu else 1
    if workers is None:
        big = cfg.n * cfg.batch_size * cfg.D * cfg.d >= _SPLIT_WORK
        workers = min(cfg.n, threads, cpus) if big else 1
    return RunPlan(device=device, dtype=DTYPES[cfg.dtype], accelerator=accelerator,
                   chunk=chunk_steps(cfg, "cuda" if accelerator else "cpu"), cpus=cpus,
                   threads=threads, workers=1 if accelerator else min(workers, cfg.n),
                   prefetch=cpus >= 2 if prefetch is None else prefetch)


def _accelerator_path(device: torch.device) -> bool:
    """Whether to use the accelerator code path (batches drawn by torch on the device, the
    asynchronous divergence guard). Tests force it on the CPU, where no GPU is available, with
    the environment variable ``TOYMODELS_ACCELERATOR_PATH=1``."""
    return device.type != "cpu" or os.environ.get("TOYMODELS_ACCELERATOR_PATH") == "1"
