"""The result of a training run, saved to disk and loaded back without pickle."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
import torch

from . import models
from ._checks import check_int
from .config import TrainConfig

__all__ = ["TrainResult"]

_FORMAT = "toymodels.TrainResult/1"


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
