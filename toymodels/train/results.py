"""The result of a training run, saved to disk and loaded back without pickle."""

from __future__ import annotations

import glob
import json
import math
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
import torch

from toymodels import limits
from toymodels._checks import check_int
from toymodels.train import models
from toymodels.train.config import TrainConfig

__all__ = ["TrainResult", "DamagedResultError", "config_differences", "check_checkpoint_path"]

_FORMAT = "toymodels.TrainResult/1"

#: config fields that may differ between a run and its continuation (resume / checkpoint)
_FREE_FIELDS = frozenset({"steps", "log_every", "progress", "device"})


class DamagedResultError(ValueError):
    """A results file that cannot be trusted: truncated, corrupt, too big, or holding names,
    shapes, dtypes or values that do not match its config. The message names the file."""


def config_differences(old: TrainConfig, new: TrainConfig) -> list[str]:
    """The config fields in which ``new`` differs from ``old``, ignoring those a continued run
    may change (``steps``, ``log_every``, ``progress``, ``device``)."""
    a, b = old.to_dict(), new.to_dict()
    return sorted(k for k in a if k not in _FREE_FIELDS and a[k] != b[k])


def check_checkpoint_path(path, config: TrainConfig) -> None:
    """Refuse ``checkpoint=path`` when ``path`` already holds something that is not a result of
    this run: another run's results (its config differs beyond ``steps``, ``log_every``,
    ``progress``, ``device``) or a file that is not a TrainResult at all. Saving there would
    silently destroy it. A missing file, or an earlier checkpoint of the same run, is fine."""
    path = os.fspath(path)
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"checkpoint: the folder {folder} of {path} does not exist")
        return
    if os.path.isdir(path):
        raise ValueError(f"checkpoint: {path} is a folder, not a file")
    try:
        old = _read_config(path)
    except DamagedResultError as err:
        raise ValueError(f"checkpoint: {path} exists and is not a TrainResult of this run "
                         f"({err}); refusing to overwrite it: pass another path") from None
    diff = config_differences(old, config)
    if diff:
        raise ValueError(f"checkpoint: {path} holds the results of another run (its config differs "
                         f"in {diff}); refusing to overwrite it: pass another path, or delete the "
                         "file if it is no longer needed")


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
        names = models.param_shapes(self.config.model, 1, 1, 1)  # the names, from the registry
        return {k: torch.as_tensor(np.ascontiguousarray(self.params[k]), dtype=dtype,
                                   device=device) for k in names}

    def evaluate(self, batch_size: int = 100_000, *, seed: int = 12345) -> np.ndarray:
        """Per-instance loss on ``batch_size`` fresh samples (float64 Monte Carlo), ``(n,)``."""
        from toymodels.tied.data import sparse_uniform

        batch_size = check_int(batch_size, "batch_size", minimum=1)
        cfg = self.config
        limits.refuse_if_too_big(
            f"evaluate with batch_size = {batch_size}, {cfg.n} instances, "
            f"D = {cfg.D}", memory=4 * 8.0 * batch_size * cfg.n * cfg.D,
            advice="use a smaller batch_size")
        x = torch.from_numpy(sparse_uniform(batch_size, cfg.D, cfg.S_vector,
                                            rng=seed, n=cfg.n))
        p = self.torch_params(dtype=torch.float64)
        with torch.no_grad():
            return models.loss(cfg.model, p, x, torch.from_numpy(cfg.ω_vector)).numpy()

    # -- checks ------------------------------------------------------------------------------
    def validate(self, source: str = "TrainResult") -> TrainResult:
        """Check names, shapes, dtypes and values against the config; raise
        :class:`DamagedResultError` (a ``ValueError``) naming ``source`` and what is wrong."""
        cfg = self.config

        def bad(msg):
            return DamagedResultError(f"{source}: {msg}")

        if not isinstance(cfg, TrainConfig):
            raise bad(f"config must be a TrainConfig, got {type(cfg).__name__}")
        shapes = models.param_shapes(cfg.model, cfg.n, cfg.d, cfg.D)
        if set(self.params) != set(shapes):
            raise bad(f"the parameters are {sorted(self.params)}, but a {cfg.model!r} model has "
                      f"{sorted(shapes)}")
        for k, shape in shapes.items():
            _check_array(bad, f"parameter {k}", self.params[k], tuple(shape), "f")
        steps_done = self.steps_done
        if isinstance(steps_done, bool) or not isinstance(steps_done, (int, np.integer)) \
                or not 0 <= steps_done <= cfg.steps:
            raise bad(f"steps_done must be an integer in 0..{cfg.steps} (the config's steps), "
                      f"got {steps_done!r}")
        logs = _check_array(bad, "log_steps", self.log_steps, None, "iu", ndim=1)
        if logs.size and (np.any(np.diff(logs) <= 0) or logs[0] < 0
                          or logs[-1] >= max(steps_done, 1)):
            raise bad(f"log_steps must be increasing steps in 0..{steps_done - 1} (below "
                      f"steps_done = {steps_done})")
        _check_array(bad, "loss_history", self.loss_history, (logs.size, cfg.n), "f")
        n_params = sum(math.prod(s) for s in shapes.values())
        opt = {k: v for k, v in self.optimizer_state.items() if k != "t"}
        t = self.optimizer_state.get("t", 0)
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= steps_done:
            raise bad(f"the optimizer step count must be an integer in 0..{steps_done}, got {t!r}")
        expected = _optimizer_keys(cfg)
        if not set(opt) <= expected:
            raise bad(f"unexpected optimizer state {sorted(set(opt) - expected)} for "
                      f"optimizer={cfg.optimizer!r} (expected {sorted(expected)})")
        if (opt or t > 0) and set(opt) != expected:
            raise bad(f"the optimizer state lacks {sorted(expected - set(opt))}")
        for k, v in opt.items():
            _check_array(bad, f"optimizer state {k}", v, (n_params,), "f")
        return self

    # -- persistence ------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write to ``path`` (an ``.npz``: arrays plus the config as JSON; no pickle).

        The file is written to a temporary file ``.tmp-<name>-<pid>-*`` in the same folder and
        moved over ``path`` with ``os.replace``, so an interrupted save leaves any previous file
        intact; the temporary file is removed when the save fails or is interrupted, and those
        left by a process that was killed (``SIGKILL``) are removed by the next save to ``path``.
        """
        path = os.fspath(path)
        self.validate("the result to save")
        meta = {"format": _FORMAT, "config": self.config.to_dict(), "steps_done": self.steps_done,
                "elapsed_s": self.elapsed_s, "optimizer_t": int(self.optimizer_state.get("t", 0))}
        arrays = {"meta": np.array(json.dumps(meta)), "loss_history": self.loss_history,
                  "log_steps": self.log_steps}
        arrays.update({f"param_{k}": v for k, v in self.params.items()})
        arrays.update({f"opt_{k}": np.asarray(v) for k, v in self.optimizer_state.items()
                       if k != "t"})
        folder = os.path.dirname(os.path.abspath(path))
        prefix = f".tmp-{os.path.basename(path)}-"
        _remove_stale_temps(folder, prefix)
        fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=".npz", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path) -> TrainResult:
        """Read a file written by :meth:`save` (``allow_pickle=False``: no code is run).

        The file is checked before it is trusted: its declared uncompressed size must stay
        below :data:`toymodels.limits.MAX_MEMORY` (checked before anything is decompressed), its
        entries must be exactly those of a result of its config, with the right shapes, dtypes
        and finite values. A truncated, corrupt or inconsistent file raises
        :class:`DamagedResultError` (a ``ValueError``) naming the file and what is wrong.
        """
        path = os.fspath(path)
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                files = _check_entries(path, z)
                meta = _read_meta(path, z)
                cfg = meta["config"]
                params = {k[6:]: z[k] for k in files if k.startswith("param_")}
                opt = {k[4:]: z[k] for k in files if k.startswith("opt_")}
                opt["t"] = meta["optimizer_t"]
                result = cls(config=cfg, params=params, loss_history=z["loss_history"],
                             log_steps=z["log_steps"], steps_done=meta["steps_done"],
                             optimizer_state=opt, elapsed_s=meta["elapsed_s"])
        except (FileNotFoundError, IsADirectoryError, PermissionError, DamagedResultError):
            raise
        except Exception as err:  # EOFError, BadZipFile, zlib.error, KeyError, OSError, ...
            raise DamagedResultError(f"{path}: cannot be read as a TrainResult: the file is "
                                     f"truncated or corrupt ({type(err).__name__}: {err})") from err
        return result.validate(path)


def _optimizer_keys(cfg: TrainConfig) -> set:
    if cfg.optimizer in ("adam", "adamw"):
        return {"m", "v"}
    return {"m"} if cfg.momentum else set()


def _check_array(bad, name, value, shape, kinds, *, ndim=None) -> np.ndarray:
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise bad(f"{name} must be a numpy array, got {type(value).__name__}")
    kind_names = {"f": "floating", "iu": "integer"}
    if value.dtype.kind not in kinds:
        raise bad(f"{name} must have a {kind_names.get(kinds, kinds)} dtype, got {value.dtype}")
    if shape is not None and value.shape != shape:
        raise bad(f"{name} must have shape {shape} (from the config), got {value.shape}")
    if ndim is not None and value.ndim != ndim:
        raise bad(f"{name} must have {ndim} axes, got shape {value.shape}")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise bad(f"{name} contains NaN or inf")
    return value


def _check_entries(path, z) -> list:
    """The entry names of the open npz ``z``, after checking the declared sizes (before any
    decompression) and that every name is one a TrainResult writes."""
    zf = getattr(z, "zip", None)
    if zf is not None:
        declared = sum(info.file_size for info in zf.infolist())
        if declared > limits.MAX_MEMORY:
            raise DamagedResultError(
                f"{path}: its entries declare {limits.format_bytes(declared)} uncompressed, beyond "
                f"toymodels.limits.MAX_MEMORY = {limits.format_bytes(limits.MAX_MEMORY)}; refusing "
                "to decompress it")
    files = list(z.files)
    known = {"meta", "loss_history", "log_steps"}
    odd = [k for k in files if k not in known and not (k.startswith("param_") and k[6:] in "WbAB"
                                                        and len(k) == 7)
           and k not in ("opt_m", "opt_v")]
    if odd:
        raise DamagedResultError(f"{path}: unknown entries {odd}; a TrainResult holds meta, "
                                 "loss_history, log_steps, param_* and opt_m/opt_v")
    missing = sorted(known - set(files))
    if missing:
        raise DamagedResultError(f"{path}: missing entries {missing}; is it a saved TrainResult?")
    return files


def _read_meta(path, z) -> dict:
    raw = z["meta"]
    if raw.dtype.kind != "U" or raw.shape != ():
        raise DamagedResultError(f"{path}: the 'meta' entry must be a JSON string")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as err:
        raise DamagedResultError(f"{path}: the 'meta' entry is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise DamagedResultError(f"{path}: unknown format {got!r}, expected {_FORMAT!r}")
    for key, kind in (("steps_done", int), ("optimizer_t", int), ("elapsed_s", (int, float)),
                      ("config", dict)):
        if isinstance(meta.get(key), bool) or not isinstance(meta.get(key), kind):
            raise DamagedResultError(f"{path}: the 'meta' entry lacks a valid {key!r}")
    try:
        meta["config"] = TrainConfig.from_dict(meta["config"])
    except (TypeError, ValueError, KeyError) as err:
        raise DamagedResultError(f"{path}: its config is not valid ({err})") from None
    return meta


def _read_config(path) -> TrainConfig:
    """The config stored in a results file (reads only its 'meta' entry)."""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            _check_entries(path, z)
            return _read_meta(path, z)["config"]
    except DamagedResultError:
        raise
    except Exception as err:
        raise DamagedResultError(f"{path}: cannot be read as a TrainResult "
                                 f"({type(err).__name__}: {err})") from err


def _remove_stale_temps(folder: str, prefix: str) -> None:
    """Remove ``prefix<pid>-*.npz`` temporaries whose writing process no longer exists."""
    for tmp in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.npz")):
        pid = os.path.basename(tmp)[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
                continue  # that process is alive (maybe saving right now): leave its file
            except ProcessLookupError:
                pass
            except (PermissionError, OSError):
                continue
        elif not pid.isdigit():
            continue
        else:
            continue  # our own pid: a save in another thread of this process
        try:
            os.unlink(tmp)
        except OSError:
            pass
