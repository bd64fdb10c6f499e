"""What a training run needs from the machine: memory (estimated up front) and cores."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from toymodels.limits import format_bytes  # noqa: F401  (re-exported: train quotes estimates with it)
from toymodels.train import models
from toymodels.train.batches import chunk_steps
from toymodels.train.config import TrainConfig

__all__ = ["estimate_memory", "available_memory", "available_cpus"]


def estimate_memory(cfg: TrainConfig, device=None) -> int:
    """Bytes that :func:`train` allocates for ``cfg`` (buffers, parameters, optimiser state) on
    ``device`` (``None``: the config's device).

    Per step the batch and its residuals are ``(n, T, D)`` tensors; the data arrive in chunks of
    several steps (three chunks in flight on the CPU, one on CUDA).
    """
    from toymodels.environment import choose_device

    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    dev = choose_device(cfg.device if device is None else device)
    return _memory(cfg, dev.type != "cpu", chunk_steps(cfg, dev.type))


def plan_memory(cfg: TrainConfig, plan) -> int:
    """:func:`estimate_memory` for a run planned already (:class:`~toymodels.train.plan.RunPlan`:
    its device and chunking are not decided again)."""
    return _memory(cfg, plan.accelerator, plan.chunk)


def _memory(cfg: TrainConfig, accelerator: bool, chunk: int) -> int:
    item = 4 if cfg.dtype == "float32" else 8
    n, T, d, D = cfg.n, cfg.batch_size, cfg.d, cfg.D
    big = n * T * D
    chunks = 1 if accelerator else 3
    data = chunks * chunk * big * 4  # the data are drawn in float32
    if cfg.dtype != "float32":
        data += big * item
    n_big = 2  # the residual, and the pre-activation (relu) or a scratch for the loss
    n_params = sum(math.prod(s) for s in models.param_shapes(cfg.model, n, d, D).values())
    work = n_big * big + 2 * n * T * (d + 1) + 3 * n * d * D + 6 * n_params
    return int(data + work * item + len(cfg.log_steps) * n * 8)


def available_memory(device) -> int:
    """Bytes free for a new allocation: GPU free memory, or the host's available memory
    (the smaller of ``MemAvailable`` and the cgroup limit, e.g. in a Binder container)."""
    from toymodels.environment import choose_device

    return free_memory(choose_device(device))


def free_memory(dev: torch.device) -> int:
    """:func:`available_memory` on a device chosen already (a ``torch.device``)."""
    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    candidates = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    for limit_file, usage_file in [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")]:
        try:
            with open(limit_file) as fh:
                limit = fh.read().strip()
            with open(usage_file) as fh:
                usage = int(fh.read().strip())
            if limit != "max" and int(limit) < 1 << 60:
                candidates.append(int(limit) - usage)
                break
        except (OSError, ValueError):
            continue
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return 1 << 62
    return max(0, min(candidates))


def available_cpus(cgroup: str = "/sys/fs/cgroup") -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota (a container
    such as a Binder session may see every host core but be allowed only one). ``cgroup`` is
    where the cgroup files live (v2 ``cpu.max``, or v1 ``cpu/cpu.cfs_quota_us``)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    root = Path(cgroup)
    for quota_file, period_file in [("cpu.max", None),
                                    ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")]:
        try:
            parts = (root / quota_file).read_text().split()
            quota = parts[0]
            period = parts[1] if period_file is None else (root / period_file).read_text().strip()
            if quota not in ("max", "-1"):
                q, p = int(quota), int(period)
                if q <= 0 or p <= 0:  # a malformed file: ignore it rather than divide by zero
                    continue
                cpus = min(cpus, max(1, math.ceil(q / p)))
            break
        except (OSError, ValueError, IndexError):
            continue
    return max(1, cpus)
