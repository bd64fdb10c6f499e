"""The configuration of a training run: :class:`TrainConfig` (see :mod:`toymodels.train.engine`).

A config fixes everything that determines a run: the model, the sizes, the per-instance
sparsity ``S`` and importance ``ω`` (Section 2.1 of the notes), the optimiser and its schedule,
the batch size, the number of steps, the logging interval and the seed. It checks every field
when it is made and says what is allowed when a value is not.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from toymodels._checks import (
    as_real_array,
    check_float,
    check_importance,
    check_int,
    check_probability,
)
from toymodels.environment import default_device
from toymodels.train import models
from toymodels.train.optim import OPTIMIZERS, SCHEDULES, _learning_rate

__all__ = ["TrainConfig", "NoSuperpositionWarning", "DTYPES"]

#: the floating-point types a run may use, by name
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class NoSuperpositionWarning(UserWarning):
    """A config with ``d >= D``: every feature can have a dimension of its own,
    so the model need not compress and there is no superposition to study."""


#: the field names of configs saved before the fields took the notation page's letters
_OLD_NAMES = {"n_features": "D", "n_hidden": "d", "n_instances": "n", "sparsity": "S",
              "importance": "ω"}


def _per_instance(arr: np.ndarray, name: str, n: int, D: int, *, allow_D: bool) -> np.ndarray:
    """Broadcast a scalar, ``(n, 1)``, ``(n, D)`` or (when allowed) ``(D,)`` array to ``(n, D)``."""
    shape = arr.shape
    ok = shape in {(), (n, 1), (n, D)} or (allow_D and shape == (D,))
    if not ok:
        allowed = "a scalar, shape (n, 1) or (n, D)"
        allowed += " or (D,)" if allow_D else ""
        allowed += f" = {(n, 1)} or {(n, D)}" + (f" or {(D,)}" if allow_D else "")
        hint = ""
        if arr.ndim == 1 and shape == (n,):
            hint = "; for one value per instance pass an array of shape (n, 1)"
        raise ValueError(f"{name} has shape {shape}; allowed: {allowed}{hint}")
    # compact: (1 or n, 1 or D), broadcasting to (n, D) without materialising it
    return np.array(arr.reshape(1, 1) if arr.ndim == 0 else arr.reshape(-1, shape[-1])
                    if arr.ndim == 2 else arr.reshape(1, -1), dtype=np.float64)


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _frozen_value(arr: np.ndarray):
    """A checked scalar as a float, an array as a read-only copy (the caller's array may change)."""
    return float(arr) if arr.ndim == 0 else _read_only(np.array(arr, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class TrainConfig:
    """Everything that defines a training run (see the module docstring for the loss).

    A config is checked when it is made and cannot be changed afterwards (assigning a field
    raises ``dataclasses.FrozenInstanceError``; arrays are stored as read-only copies), so what
    a run trains on is what it saves. ``dataclasses.replace(cfg, lr=...)`` (or
    :meth:`replace`) makes a changed copy and checks it again.

    Parameters
    ----------
    model : ``"relu"`` (``x ↦ ReLU(WᵀWx + b)``), ``"tied"`` (``x ↦ WᵀWx``) or ``"linear"``
        (``x ↦ ABx``).
    D, d, n : the number of features ``D``, of hidden dimensions ``d`` and of independent
        models (instances) ``n`` trained side by side (the notation page's letters).
    S : the sparsity, the probability that a feature is zero: a scalar, shape ``(n, 1)`` (one
        per instance), ``(n, D)``, or ``(D,)`` when ``n == 1``. A 1-d array of length ``n`` is
        refused as ambiguous; see :meth:`sweep`. Resolved per instance and feature:
        :attr:`S_vector`.
    ω : the importance weights ``ω ≥ 0``: a scalar, ``(D,)``, ``(n, 1)`` or ``(n, D)``.
        Resolved: :attr:`ω_vector`.
    batch_size, steps : batch size ``T`` and number of optimiser steps (a fresh batch each).
    lr, optimizer, weight_decay : learning rate, ``"adam" | "adamw" | "sgd"``, weight decay
        (as in ``torch.optim``: added to the gradient for adam/sgd, decoupled for adamw).
    schedule : ``"constant" | "cosine" | "linear_warmup_cosine"``
        (:func:`toymodels.train.optim.learning_rate`).
    log_every : the per-instance batch loss is logged at steps ``0, log_every, 2 log_every, …``
        and at the last step (step ``t`` = the loss of batch ``t`` before update ``t``).
    init_scale : ``None`` for the Xavier-normal-like default std ``√(2 / (d + D))``, or the
        std of the Gaussian initialisation; the ReLU bias starts at zero.
    seed : seeds the initialisation and the data (reproducible run to run on one device).
    device : ``"cpu"``, ``"cuda"``, ..., or ``None``: the device set by ``tm.setup(device=...)``
        (:func:`toymodels.environment.default_device`), else cuda when present, else cpu.
    progress : ``None``: a tqdm bar only in an interactive terminal or Colab (or when the
        environment variable ``TOYMODELS_PROGRESS=1``), never when ``CI`` is set; a bool forces.
    betas, eps, momentum : Adam's ``(β1, β2)`` and ``ε``; SGD's momentum.
    warmup_steps : for ``linear_warmup_cosine``; ``None`` means ``max(1, steps // 20)``.
    dtype : ``"float32"`` (default) or ``"float64"``.
    """

    model: str = "relu"
    D: int = 5
    d: int = 2
    n: int = 1
    S: object = 0.0
    ω: object = 1.0
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
        # Frozen: every checked (normalised) value is written once, here, with object.__setattr__;
        # a changed copy comes from dataclasses.replace, which runs these checks again.
        def put(name, value):
            object.__setattr__(self, name, value)

        if not isinstance(self.model, str) or self.model not in models.MODELS:
            raise ValueError(f"model must be one of {list(models.MODELS)}, got {self.model!r}")
        put("D", check_int(self.D, "D", minimum=1))
        put("d", check_int(self.d, "d", minimum=1))
        put("n", check_int(self.n, "n", minimum=1))
        if self.d >= self.D:
            warnings.warn(f"d = {self.d} >= D = {self.D}: every feature "
                          "can have its own dimension, so there is no superposition to see",
                          NoSuperpositionWarning, stacklevel=3)
        put("batch_size", check_int(self.batch_size, "batch_size", minimum=1))
        put("steps", check_int(self.steps, "steps", minimum=1))
        put("log_every", check_int(self.log_every, "log_every", minimum=1))
        put("seed", check_int(self.seed, "seed", minimum=0, maximum=2**63 - 1))
        n, D = self.n, self.D
        S = check_probability(self.S, "S (sparsity)")
        put("_S", _per_instance(S, "S (sparsity)", n, D, allow_D=(n == 1)))
        put("S", _frozen_value(S))
        ω = check_importance(self.ω)
        put("_ω", _per_instance(ω, "ω (importance)", n, D, allow_D=True))
        put("ω", _frozen_value(ω))
        put("lr", check_float(self.lr, "lr", positive=True))
        if not isinstance(self.optimizer, str) or self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        put("weight_decay", check_float(self.weight_decay, "weight_decay", minimum=0.0))
        if not isinstance(self.schedule, str) or self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if self.init_scale is not None:
            put("init_scale", check_float(self.init_scale, "init_scale", positive=True))
        if self.device is not None and not isinstance(self.device, (str, torch.device)):
            raise TypeError(f"device must be None, a string or a torch.device, "
                            f"got {type(self.device).__name__}")
        if isinstance(self.device, torch.device):
            put("device", str(self.device))
        if self.device is None:  # the device of tm.setup(device=...), when it set one
            put("device", default_device())
        if self.progress is not None and not isinstance(self.progress, bool):
            raise TypeError(f"progress must be None or a bool, got {self.progress!r}")
        try:
            betas = tuple(self.betas)
        except TypeError as err:
            raise TypeError(f"betas must be a pair of numbers, got {self.betas!r}") from err
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (β1, β2), got {self.betas!r}")
        put("betas", tuple(check_float(b, f"betas[{i}]", minimum=0.0, maximum=1.0, max_open=True)
                           for i, b in enumerate(betas)))
        put("eps", check_float(self.eps, "eps", positive=True))
        put("momentum", check_float(self.momentum, "momentum", minimum=0.0, maximum=1.0,
                                    max_open=True))
        if self.warmup_steps is not None:
            put("warmup_steps", check_int(self.warmup_steps, "warmup_steps", minimum=1,
                                          maximum=self.steps))
        if not isinstance(self.dtype, str) or self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}")

    # -- derived quantities -------------------------------------------------------------------
    @property
    def S_vector(self) -> np.ndarray:
        """The resolved sparsity: ``S`` broadcast to one vector ``(S_1, …, S_D)`` per instance,
        an ``(n, D)`` float64 array (a fresh copy: row ``k`` is instance ``k``'s sparsities)."""
        return np.broadcast_to(self._S, (self.n, self.D)).copy()

    @property
    def ω_vector(self) -> np.ndarray:
        """The resolved importance: ``ω`` broadcast to one vector ``(ω_1, …, ω_D)`` per
        instance, an ``(n, D)`` float64 array (a fresh copy)."""
        return np.broadcast_to(self._ω, (self.n, self.D)).copy()

    def initial_params(self) -> dict:
        """The parameters a run starts from (:func:`toymodels.train.models.init_params` with
        this config's sizes, ``seed`` and ``init_scale``): float64 tensors on the CPU."""
        return models.init_params(self.model, self.n, self.d, self.D, seed=self.seed,
                                  scale=self.init_scale)

    @property
    def log_steps(self) -> np.ndarray:
        """The steps whose loss is logged: multiples of ``log_every`` and the last step."""
        s = np.arange(0, self.steps, self.log_every)
        return s if s[-1] == self.steps - 1 else np.append(s, self.steps - 1)

    def learning_rate(self, step: int) -> float:
        """The learning rate of the schedule at ``step`` (:func:`toymodels.train.optim.learning_rate`,
        ``0 <= step <= steps``)."""
        step = check_int(step, "step", minimum=0, maximum=self.steps)
        return self._learning_rate(step)

    def _learning_rate(self, step: int) -> float:
        """:meth:`learning_rate` unchecked: the trainer's per-step call (its own step counter)."""
        return _learning_rate(self.schedule, self.lr, step, self.steps, self._warmup)

    @property
    def _warmup(self) -> int:
        return self.warmup_steps if self.warmup_steps is not None else max(1, self.steps // 20)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed, checked again: ``dataclasses.replace(self, **changes)``."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def sweep(cls, sparsities, **kwargs) -> TrainConfig:
        """One instance per sparsity: ``n = len(sparsities)``, ``S`` of shape (n, 1)."""
        S = as_real_array(sparsities, "sparsities", "a sequence of numbers in [0, 1]")
        if S.ndim != 1 or S.size == 0:
            raise ValueError(f"sparsities must be a non-empty 1-d sequence, got shape {S.shape}")
        return cls(n=S.size, S=S[:, None], **kwargs)

    # -- serialisation ------------------------------------------------------------------------
    def _fields(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (arrays become nested lists)."""
        out = {}
        for k, v in self._fields().items():
            if isinstance(v, np.ndarray) or hasattr(v, "detach"):
                v = as_real_array(v, k).tolist()
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`. Files written before the fields took the notation
        page's letters (``n_features``, ``n_hidden``, ``n_instances``, ``sparsity``,
        ``importance``) are read under the new names."""
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        d = {_OLD_NAMES.get(k, k): v for k, v in d.items()}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}")
        for key in ("S", "ω"):
            if isinstance(d.get(key), list):
                d[key] = as_real_array(d[key], key)
        if isinstance(d.get("betas"), list):
            d["betas"] = tuple(d["betas"])
        return cls(**d)

    def __eq__(self, other):
        if not isinstance(other, TrainConfig):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)
