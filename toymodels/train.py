"""Fast batched training of many toy models at once, on the CPU or a GPU.

>>> from toymodels.train import TrainConfig, train
>>> cfg = TrainConfig(model="relu", n_features=5, n_hidden=2, n_instances=10,
...                   sparsity=0.9, steps=200, log_every=50, progress=False)
>>> result = train(cfg)
>>> result.W.shape, result.loss_history.shape
((10, 2, 5), (5, 10))

Each of the ``n`` instances is an independent model (linear ``x ↦ ABx``, tied ``x ↦ WᵀWx`` or
ReLU ``x ↦ ReLU(WᵀWx + b)``, see :mod:`toymodels.models`) trained on its own fresh batches of
the sparse uniform data of Section 2.1 of the notes, with its own sparsity ``S`` and importance
weights ``ω``, on the importance-weighted loss

    ``L = (1/T) Σ_t Σ_i ω_i (x_ti − x̂_ti)²``    (a mean over the batch, a sum over features),

the Monte Carlo estimate of the integral loss of Section 3.1. The gradient of each instance
depends only on that instance (the instances share nothing but the matrix products that
compute them side by side).

What makes it fast (see ``benchmarks/bench_train.py``): hand-derived gradients
(:func:`toymodels.models.loss_and_grad`) with no autograd graph, preallocated buffers, the
importance weights folded into the small matrices, the loss computed only at logged steps, a
fused optimiser on one flat parameter buffer (:mod:`toymodels.optim`), and on the CPU cheap
random numbers (raw PCG64 bits turned into floats by two integer operations, see
:mod:`toymodels.batches`) drawn in parallel with the products. With one gradient worker a
background thread draws the next steps' batches while the current step computes (when a second
core is available, :func:`available_cpus`); with several workers each draws its own instances
of the batch just before their gradients (no third thread competes for the cores, every core
gets the same mix of work, and the numbers are used while they are in the cache), the
instances of each worker taken a few at a time so that the large intermediate tensors stay in
the cache. On CUDA nothing in the step loop waits for the device: the divergence check
accumulates on the device and is read back asynchronously.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import models
from ._checks import check_float, check_int, check_probability
from .batches import BlockBatches, CpuBatches, DeviceBatches, chunk_steps
from .optim import OPTIMIZERS, SCHEDULES, FlatOptimizer, learning_rate

__all__ = [
    "TrainConfig",
    "TrainResult",
    "DivergenceError",
    "train",
    "estimate_memory",
    "available_memory",
    "available_cpus",
]

_FORMAT = "toymodels.TrainResult/1"
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class NoSuperpositionWarning(UserWarning):
    """A config with ``n_hidden >= n_features``: every feature can have a dimension of its own,
    so the model need not compress and there is no superposition to study."""


class DivergenceError(RuntimeError):
    """The loss of some instance became NaN or infinite. ``step`` and ``instances`` say where."""

    def __init__(self, message: str, *, step: int, instances: list[int]):
        super().__init__(message)
        self.step = step
        self.instances = instances


# ----------------------------------------------------------------------------------------------
# configuration


def _as_array(value, name: str) -> np.ndarray:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number or an array of numbers, got a bool")
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from err


def _per_instance(arr: np.ndarray, name: str, n: int, D: int, *, allow_D: bool) -> np.ndarray:
    """Broadcast a scalar, ``(n, 1)``, ``(n, D)`` or (when allowed) ``(D,)`` array to ``(n, D)``."""
    shape = arr.shape
    ok = shape in {(), (n, 1), (n, D)} or (allow_D and shape == (D,))
    if not ok:
        allowed = "a scalar, shape (n_instances, 1) or (n_instances, n_features)"
        allowed += " or (n_features,)" if allow_D else ""
        allowed += f" = {(n, 1)} or {(n, D)}" + (f" or {(D,)}" if allow_D else "")
        hint = ""
        if arr.ndim == 1 and shape == (n,):
            hint = "; for one value per instance pass an array of shape (n_instances, 1)"
        raise ValueError(f"{name} has shape {shape}; allowed: {allowed}{hint}")
    # compact: (1 or n, 1 or D), broadcasting to (n, D) without materialising it
    return np.array(arr.reshape(1, 1) if arr.ndim == 0 else arr.reshape(-1, shape[-1])
                    if arr.ndim == 2 else arr.reshape(1, -1), dtype=np.float64)


@dataclass
class TrainConfig:
    """Everything that defines a training run (see the module docstring for the loss).

    Parameters
    ----------
    model : ``"relu"`` (``x ↦ ReLU(WᵀWx + b)``), ``"tied"`` (``x ↦ WᵀWx``) or ``"linear"``
        (``x ↦ ABx``).
    n_features, n_hidden, n_instances : ``D``, ``d`` and the number ``n`` of independent models.
    sparsity : ``S``, the probability that a feature is zero: a scalar, shape
        ``(n_instances, 1)`` (one per instance), ``(n_instances, n_features)``, or
        ``(n_features,)`` when ``n_instances == 1``. A 1-d array of length ``n_instances`` is
        refused as ambiguous; see :meth:`sweep`.
    importance : ``ω ≥ 0``: a scalar, ``(n_features,)``, ``(n_instances, 1)`` or
        ``(n_instances, n_features)``.
    batch_size, steps : batch size ``T`` and number of optimiser steps (a fresh batch each).
    lr, optimizer, weight_decay : learning rate, ``"adam" | "adamw" | "sgd"``, weight decay
        (as in ``torch.optim``: added to the gradient for adam/sgd, decoupled for adamw).
    schedule : ``"constant" | "cosine" | "linear_warmup_cosine"``
        (:func:`toymodels.optim.learning_rate`).
    log_every : the per-instance batch loss is logged at steps ``0, log_every, 2 log_every, …``
        and at the last step (step ``t`` = the loss of batch ``t`` before update ``t``).
    init_scale : ``None`` for the Xavier-normal-like default std ``√(2 / (d + D))``, or the
        std of the Gaussian initialisation; the ReLU bias starts at zero.
    seed : seeds the initialisation and the data (reproducible run to run on one device).
    device : ``None`` (cuda when present, else cpu), ``"cpu"``, ``"cuda"``, ...
    progress : ``None``: a tqdm bar only in an interactive terminal or Colab (or when the
        environment variable ``TOYMODELS_PROGRESS=1``), never when ``CI`` is set; a bool forces.
    betas, eps, momentum : Adam's ``(β1, β2)`` and ``ε``; SGD's momentum.
    warmup_steps : for ``linear_warmup_cosine``; ``None`` means ``max(1, steps // 20)``.
    dtype : ``"float32"`` (default) or ``"float64"``.
    """

    model: str = "relu"
    n_features: int = 5
    n_hidden: int = 2
    n_instances: int = 1
    sparsity: object = 0.0
    importance: object = 1.0
    batch_size: int = 1024
    steps: int = 10_000
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "constant"
    log_every: int = 100
    init_scale: float | None = None
    seed: int = 0
    device: object = None
    progress: bool | None = None
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.0
    warmup_steps: int | None = None
    dtype: str = "float32"
    _S: np.ndarray = field(init=False, repr=False, compare=False)
    _ω: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.model, str) or self.model not in models.MODELS:
            raise ValueError(f"model must be one of {list(models.MODELS)}, got {self.model!r}")
        self.n_features = check_int(self.n_features, "n_features", minimum=1)
        self.n_hidden = check_int(self.n_hidden, "n_hidden", minimum=1)
        self.n_instances = check_int(self.n_instances, "n_instances", minimum=1)
        if self.n_hidden >= self.n_features:
            warnings.warn(f"n_hidden = {self.n_hidden} >= n_features = {self.n_features}: every feature "
                          "can have its own dimension, so there is no superposition to see",
                          NoSuperpositionWarning, stacklevel=3)
        self.batch_size = check_int(self.batch_size, "batch_size", minimum=1)
        self.steps = check_int(self.steps, "steps", minimum=1)
        self.log_every = check_int(self.log_every, "log_every", minimum=1)
        self.seed = check_int(self.seed, "seed", minimum=0, maximum=2**63 - 1)
        n, D = self.n_instances, self.n_features
        S = check_probability(_as_array(self.sparsity, "sparsity"), "sparsity")
        self._S = _per_instance(S, "sparsity", n, D, allow_D=(n == 1))
        ω = _as_array(self.importance, "importance")
        if not np.all(np.isfinite(ω)):
            raise ValueError("importance must be finite, got non-finite entries")
        if np.any(ω < 0):
            raise ValueError(f"importance must be >= 0, got an entry {ω[ω < 0].ravel()[0]:g}")
        self._ω = _per_instance(ω, "importance", n, D, allow_D=True)
        self.lr = check_float(self.lr, "lr", positive=True)
        if not isinstance(self.optimizer, str) or self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        self.weight_decay = check_float(self.weight_decay, "weight_decay", minimum=0.0)
        if not isinstance(self.schedule, str) or self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if self.init_scale is not None:
            self.init_scale = check_float(self.init_scale, "init_scale", positive=True)
        if self.device is not None and not isinstance(self.device, (str, torch.device)):
            raise TypeError(f"device must be None, a string or a torch.device, "
                            f"got {type(self.device).__name__}")
        if isinstance(self.device, torch.device):
            self.device = str(self.device)
        if self.progress is not None and not isinstance(self.progress, bool):
            raise TypeError(f"progress must be None or a bool, got {self.progress!r}")
        try:
            betas = tuple(self.betas)
        except TypeError as err:
            raise TypeError(f"betas must be a pair of numbers, got {self.betas!r}") from err
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (β1, β2), got {self.betas!r}")
        self.betas = tuple(check_float(b, f"betas[{i}]", minimum=0.0, maximum=1.0, max_open=True)
                           for i, b in enumerate(betas))
        self.eps = check_float(self.eps, "eps", positive=True)
        self.momentum = check_float(self.momentum, "momentum", minimum=0.0, maximum=1.0,
                                     max_open=True)
        if self.warmup_steps is not None:
            self.warmup_steps = check_int(self.warmup_steps, "warmup_steps", minimum=1,
                                          maximum=self.steps)
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {list(_DTYPES)}, got {self.dtype!r}")

    # -- derived quantities -------------------------------------------------------------------
    @property
    def sparsity_array(self) -> np.ndarray:
        """``S`` broadcast to ``(n_instances, n_features)`` (float64)."""
        return np.broadcast_to(self._S, (self.n_instances, self.n_features)).copy()

    @property
    def importance_array(self) -> np.ndarray:
        """``ω`` broadcast to ``(n_instances, n_features)`` (float64)."""
        return np.broadcast_to(self._ω, (self.n_instances, self.n_features)).copy()

    @property
    def log_steps(self) -> np.ndarray:
        """The steps whose loss is logged: multiples of ``log_every`` and the last step."""
        s = np.arange(0, self.steps, self.log_every)
        return s if s[-1] == self.steps - 1 else np.append(s, self.steps - 1)

    def learning_rate(self, step: int) -> float:
        """The learning rate of the schedule at ``step``."""
        warm = self.warmup_steps if self.warmup_steps is not None else max(1, self.steps // 20)
        return learning_rate(self.schedule, self.lr, step, self.steps, warm)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return TrainConfig(**{**self._fields(), **changes})

    @classmethod
    def sweep(cls, sparsities, **kwargs) -> TrainConfig:
        """One instance per sparsity: ``n_instances = len(sparsities)``, ``S`` of shape (n, 1)."""
        S = _as_array(sparsities, "sparsities")
        if S.ndim != 1 or S.size == 0:
            raise ValueError(f"sparsities must be a non-empty 1-d sequence, got shape {S.shape}")
        return cls(n_instances=S.size, sparsity=S[:, None], **kwargs)

    # -- serialisation ------------------------------------------------------------------------
    def _fields(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (arrays become nested lists)."""
        out = {}
        for k, v in self._fields().items():
            if isinstance(v, np.ndarray) or hasattr(v, "detach"):
                v = _as_array(v, k).tolist()
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}")
        d = dict(d)
        for key in ("sparsity", "importance"):
            if isinstance(d.get(key), list):
                d[key] = np.asarray(d[key], dtype=np.float64)
        if isinstance(d.get("betas"), list):
            d["betas"] = tuple(d["betas"])
        return cls(**d)

    def __eq__(self, other):
        if not isinstance(other, TrainConfig):
            return NotImplemented
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(other.to_dict(),
                                                                        sort_keys=True)


# ----------------------------------------------------------------------------------------------
# memory


def _chunk_steps(cfg: TrainConfig, device_type: str) -> int:
    """Steps of data drawn per seeding of the generator (fixed by the config)."""
    return chunk_steps(cfg.n_instances, cfg.batch_size, cfg.n_features, device_type)


def estimate_memory(cfg: TrainConfig, device=None) -> int:
    """Bytes that :func:`train` allocates for ``cfg`` (buffers, parameters, optimiser state).

    Per step the batch and its residuals are ``(n, T, D)`` tensors; the data arrive in chunks of
    several steps (three chunks in flight on the CPU, one on CUDA).
    """
    from .environment import choose_device

    dev = choose_device(cfg.device if device is None else device)
    item = 4 if cfg.dtype == "float32" else 8
    n, T, d, D = cfg.n_instances, cfg.batch_size, cfg.n_hidden, cfg.n_features
    big = n * T * D
    chunks = 3 if dev.type == "cpu" else 1
    data = chunks * _chunk_steps(cfg, dev.type) * big * 4  # the data are drawn in float32
    if cfg.dtype != "float32":
        data += big * item
    n_big = 2  # the residual, and the pre-activation (relu) or a scratch for the loss
    n_params = sum(math.prod(s) for s in models.param_shapes(cfg.model, n, d, D).values())
    work = n_big * big + 2 * n * T * (d + 1) + 3 * n * d * D + 6 * n_params
    return int(data + work * item + len(cfg.log_steps) * n * 8)


def available_memory(device) -> int:
    """Bytes free for a new allocation: GPU free memory, or the host's available memory
    (the smaller of ``MemAvailable`` and the cgroup limit, e.g. in a Binder container)."""
    from .environment import choose_device

    dev = choose_device(device)
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
                cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
            break
        except (OSError, ValueError, IndexError):
            continue
    return max(1, cpus)


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(b) < 1024:
            return f"{b:.3g} {unit}"
        b /= 1024
    return f"{b / 1024:,.3g} TiB" if b < 1024 * 1000 else f"{b / 1024:,.0f} TiB"


# ----------------------------------------------------------------------------------------------
# results


@dataclass(eq=False)
class TrainResult:
    """Trained parameters, the loss history and what is needed to resume.

    Parameters are numpy float64 arrays: ``W`` ``(n, d, D)`` and ``b`` ``(n, D)`` for relu,
    ``W`` for tied, ``A`` ``(n, D, d)`` and ``B`` ``(n, d, D)`` for linear (the others are
    ``None``). ``loss_history`` ``(n_logs, n)`` holds the per-instance batch losses at
    ``log_steps``.
    """

    config: TrainConfig
    params: dict
    loss_history: np.ndarray
    log_steps: np.ndarray
    steps_done: int
    optimizer_state: dict = field(default_factory=dict, repr=False)
    elapsed_s: float = 0.0

    # -- parameters (None where the model has no such parameter) -------------------------
    W = property(lambda self: self.params.get("W"), doc="``W`` (n, d, D): relu and tied")
    b = property(lambda self: self.params.get("b"), doc="``b`` (n, D): relu")
    A = property(lambda self: self.params.get("A"), doc="``A`` (n, D, d): linear")
    B = property(lambda self: self.params.get("B"), doc="``B`` (n, d, D): linear")

    @property
    def final_loss(self) -> np.ndarray:
        """Per-instance loss at the end: the mean of the logged losses of the last 10% of the
        steps (at least the last logged loss), shape ``(n,)``."""
        steps = self.config.steps if self.steps_done == self.config.steps else self.steps_done
        last = self.log_steps >= steps - max(1, steps // 10)
        if not last.any():
            last = np.arange(len(self.log_steps)) == len(self.log_steps) - 1
        return self.loss_history[last].mean(axis=0)

    def torch_params(self, device=None, dtype=torch.float32) -> dict:
        """The parameters as torch tensors (named ``A, B`` / ``W`` / ``W, b``)."""
        names = {"linear": ("A", "B"), "tied": ("W",), "relu": ("W", "b")}[self.config.model]
        return {k: torch.as_tensor(np.ascontiguousarray(getattr(self, k)), dtype=dtype,
                                   device=device) for k in names}

    def evaluate(self, batch_size: int = 100_000, *, seed: int = 12345) -> np.ndarray:
        """Per-instance loss on ``batch_size`` fresh samples (float64 Monte Carlo), ``(n,)``."""
        from .data import sparse_uniform

        batch_size = check_int(batch_size, "batch_size", minimum=1)
        cfg = self.config
        x = torch.from_numpy(sparse_uniform(batch_size, cfg.n_features, cfg._S,
                                            rng=seed, instances=cfg.n_instances))
        p = self.torch_params(dtype=torch.float64)
        with torch.no_grad():
            return models.loss(cfg.model, p, x, torch.from_numpy(cfg._ω)).numpy()

    # -- persistence ------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write to ``path`` (an ``.npz``: arrays plus the config as JSON; no pickle).

        The file is written to a temporary file in the same folder and moved over ``path`` with
        ``os.replace``, so an interrupted save leaves any previous file intact.
        """
        path = os.fspath(path)
        meta = {"format": _FORMAT, "config": self.config.to_dict(), "steps_done": self.steps_done,
                "elapsed_s": self.elapsed_s, "optimizer_t": int(self.optimizer_state.get("t", 0))}
        arrays = {"meta": np.array(json.dumps(meta)), "loss_history": self.loss_history,
                  "log_steps": self.log_steps}
        arrays.update({f"param_{k}": v for k, v in self.params.items()})
        arrays.update({f"opt_{k}": np.asarray(v) for k, v in self.optimizer_state.items()
                       if k != "t"})
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path) -> TrainResult:
        """Read a file written by :meth:`save` (``allow_pickle=False``: no code is run)."""
        with np.load(os.fspath(path), allow_pickle=False) as z:
            if "meta" not in z.files:
                raise ValueError(f"{path} is not a saved TrainResult (no 'meta' entry)")
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"{path}: unknown format {meta.get('format')!r}, "
                                 f"expected {_FORMAT!r}")
            params = {k[6:]: z[k] for k in z.files if k.startswith("param_")}
            opt = {k[4:]: z[k] for k in z.files if k.startswith("opt_")}
            opt["t"] = meta["optimizer_t"]
            return cls(config=TrainConfig.from_dict(meta["config"]), params=params,
                       loss_history=z["loss_history"], log_steps=z["log_steps"],
                       steps_done=int(meta["steps_done"]), optimizer_state=opt,
                       elapsed_s=float(meta["elapsed_s"]))


# ----------------------------------------------------------------------------------------------
# training


def _show_progress(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    env = os.environ.get("TOYMODELS_PROGRESS")
    if env is not None:
        return env.strip().lower() not in {"", "0", "false", "no"}
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
        (autograd through :func:`toymodels.models.loss` and ``torch.optim``, on the same batches
        and initialisation: a cross-check, and the "before" of the performance figures; it
        supports neither ``resume`` nor ``checkpoint``). ``None`` reads the environment variable
        ``TOYMODELS_ENGINE`` (default ``"fused"``).

    Raises
    ------
    ValueError : the config would not fit in memory (the message gives the estimate).
    DivergenceError : a loss became NaN or infinite (the message names the step and instance).
    """
    from .environment import choose_device

    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    cfg = config
    device = choose_device(cfg.device)
    dtype = _DTYPES[cfg.dtype]
    need, have = estimate_memory(cfg, device), available_memory(device)
    if need > 0.9 * have:
        raise ValueError(
            f"this config needs about {_fmt_bytes(need)} on {device} but only {_fmt_bytes(have)} "
            f"is available; reduce n_instances ({cfg.n_instances}), batch_size ({cfg.batch_size}) "
            f"or n_features ({cfg.n_features})")
    if checkpoint_every is not None:
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
    if engine is None:
        engine = os.environ.get("TOYMODELS_ENGINE", "fused")
    if engine not in ("fused", "reference"):
        raise ValueError(f"engine must be 'fused' or 'reference', got {engine!r}")
    if engine == "reference" and (resume is not None or checkpoint is not None):
        raise ValueError("engine='reference' supports neither resume nor checkpoint")

    n, T, d, D = cfg.n_instances, cfg.batch_size, cfg.n_hidden, cfg.n_features
    shapes = models.param_shapes(cfg.model, n, d, D)
    sizes = {k: math.prod(s) for k, s in shapes.items()}
    θ = torch.empty(sum(sizes.values()), dtype=dtype, device=device)
    g = torch.empty_like(θ)
    params, grads, off = {}, {}, 0
    for k, s in shapes.items():
        params[k] = θ[off:off + sizes[k]].view(s)
        grads[k] = g[off:off + sizes[k]].view(s)
        off += sizes[k]
    opt = FlatOptimizer(cfg.optimizer, θ, betas=cfg.betas, eps=cfg.eps,
                        weight_decay=cfg.weight_decay, momentum=cfg.momentum)

    log_steps = cfg.log_steps
    start, prev_hist, prev_steps = 0, None, None
    if resume is not None:
        old = resume if isinstance(resume, TrainResult) else TrainResult.load(resume)
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
    K = _chunk_steps(cfg, "cuda" if accel else "cpu")
    on_cpu = device.type == "cpu"
    threads_before = torch.get_num_threads()
    if workers is None:
        big = n * T * D * d >= 1 << 22  # enough work per step to be worth splitting
        workers = min(n, threads_before, available_cpus()) if on_cpu and big else 1
    workers = check_int(workers, "workers", minimum=1)
    if accel:
        workers = 1
    stepper = _Stepper(cfg, params, grads, c, dtype, device, min(workers, n))
    if prefetch is None:
        prefetch = on_cpu and available_cpus() >= 2
    # with several workers (and prefetching) the workers draw the batch themselves
    by_workers = (not accel and bool(prefetch) and stepper.pool is not None
                  and engine != "reference" and dtype == torch.float32)
    batches = (DeviceBatches(cfg, start, K, device) if accel
               else BlockBatches(cfg, start, K) if by_workers
               else CpuBatches(cfg, start, K, threaded=bool(prefetch)))
    before = batches.draw if by_workers else None
    guard = _AsyncDivergenceGuard(cfg, grads, device) if accel else None

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
            _reference_loop(cfg, params, batches, log_index, loss_log, dtype, start)
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
                if guard is None:
                    if not math.isfinite(float(g.sum())) or (li is not None
                                                             and not bool(torch.isfinite(L).all())):
                        _diverged(cfg, params, x, c, t)
                else:
                    guard.record(t)
                opt.step(g, lr if constant_lr else cfg.learning_rate(t))
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


def _reference_loop(cfg, params, batches, log_index, loss_log, dtype, start) -> None:
    """The plain loop: autograd through the model's forward pass and ``torch.optim``."""
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
        L = models.loss(cfg.model, leaves, x, ω)
        bad = ~torch.isfinite(L.detach())
        if bool(bad.any()):
            raise _divergence_error(t, bad.cpu().numpy(), np.zeros(len(L), bool),
                                    L.detach().cpu().numpy())
        opt.zero_grad(set_to_none=True)
        L.sum().backward()
        for group in opt.param_groups:
            group["lr"] = cfg.learning_rate(t)
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


def _diverged(cfg: TrainConfig, params: dict, x: torch.Tensor, c: torch.Tensor, t: int):
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
    raise _divergence_error(t, bad_L.cpu().numpy(), bad_g.cpu().numpy(), L.cpu().numpy())


def _divergence_error(t: int, bad_L, bad_g, L=None) -> DivergenceError:
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


def _accelerator_path(device: torch.device) -> bool:
    """Whether to use the accelerator code path (batches drawn by torch on the device, the
    asynchronous divergence guard). Tests force it on the CPU, where no GPU is available, with
    the environment variable ``TOYMODELS_ACCELERATOR_PATH=1``."""
    return device.type != "cpu" or os.environ.get("TOYMODELS_ACCELERATOR_PATH") == "1"


class _AsyncDivergenceGuard:
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
            raise _divergence_error(t, np.zeros_like(at_t), at_t)
