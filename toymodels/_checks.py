"""Argument checks shared by every module: the package's one input policy.

Each check raises ``TypeError`` or ``ValueError`` with a message that names the
argument, says what was received and what is allowed, so a bad call fails at
the boundary of ``toymodels`` instead of deep inside numpy or torch.

The policy, the same for every public function:

* accepted as numbers: Python ``int``/``float``, numpy integer and real floating scalars and
  arrays (float16, float32, float64), torch integer and real floating tensors (bfloat16 and
  float16 included), and (nested) Python lists or tuples of numbers; all become float64;
* refused with ``TypeError``: complex numbers, bools (``True`` is not the number 1 here),
  strings and bytes (``"0.5"`` is not parsed), and anything else that is not a real number;
* refused with ``ValueError``: NaN and infinities, and values outside the documented range.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_int",
    "check_float",
    "check_probability",
    "check_finite_array",
    "check_symmetric_pd",
    "check_vector",
    "check_importance",
    "as_real_array",
    "as_real_tensor",
    "env_int",
    "as_rng",
]


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` after checking it is an integer in ``[minimum, maximum]``."""
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(value, name: str, *, positive: bool = False, minimum: float | None = None,
                maximum: float | None = None, max_open: bool = False) -> float:
    """Return ``value`` as a finite ``float``, optionally ``> 0``, ``>= minimum`` and
    ``<= maximum`` (``< maximum`` with ``max_open``)."""
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive (> 0), got {value:g}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value:g}")
    if maximum is not None and (value >= maximum if max_open else value > maximum):
        raise ValueError(f"{name} must be {'<' if max_open else '<='} {maximum:g}, got {value:g}")
    return value


def check_probability(value, name: str, *, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a float64 array with entries in ``[0, 1]``.

    ``shape``, when given, is the shape the array must broadcast to.
    """
    arr = as_real_array(value, name, "a number or an array of numbers in [0, 1]")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite and in [0, 1], got non-finite entries")
    if np.any(arr < 0) or np.any(arr > 1):
        bad = arr[(arr < 0) | (arr > 1)].ravel()[0]
        raise ValueError(f"{name} must lie in [0, 1], got an entry {bad:g}")
    if shape is not None:
        try:
            np.broadcast_to(arr, shape)
        except ValueError as err:
            raise ValueError(
                f"{name} has shape {arr.shape}, which does not broadcast to the required shape {shape}"
            ) from err
    return arr


def check_vector(value, name: str, length: int, *, nonnegative: bool = False,
                 length_name: str = "") -> np.ndarray:
    """Return a float64 vector of the given ``length`` (a scalar is broadcast); ``length_name``
    names the argument the length comes from, for the message."""
    arr = as_real_array(value, name, "a number or a vector of numbers")
    if arr.ndim == 0:
        arr = np.full(length, float(arr))
    if arr.shape != (length,):
        which = f" ({length_name} = {length})" if length_name else ""
        raise ValueError(f"{name} must be a scalar or have shape ({length},){which}, "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got non-finite entries")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got an entry {arr[arr < 0][0]:g}")
    return arr


def check_importance(value, name: str = "ω (importance)") -> np.ndarray:
    """Return the importance weights ``ω`` (Section 3.1 of the notes: the loss weights
    ``Σ_i ω_i (x_i − x̂_i)²``) as a float64 array, after checking that they are real, finite and
    ``>= 0``. The one check of ``ω`` in the package; the caller checks the shape it needs."""
    arr = as_real_array(value, name, "a number or an array of numbers >= 0")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got non-finite entries")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got an entry {arr[arr < 0].ravel()[0]:g}")
    return arr


def check_finite_array(value, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a float64 array, refusing NaN/inf and the wrong number of axes."""
    arr = as_real_array(value, name)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} axes, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; only finite values are allowed")
    return arr


def check_symmetric_pd(Σ, name: str = "Σ", *, rtol: float = 1e-10) -> np.ndarray:
    """Return ``Σ`` as float64 after checking it is square, symmetric and positive definite."""
    Σ = check_finite_array(Σ, name, ndim=2)
    if Σ.shape[0] != Σ.shape[1]:
        raise ValueError(f"{name} must be square, got shape {Σ.shape}")
    scale = max(np.abs(Σ).max(), np.finfo(float).tiny)
    if np.abs(Σ - Σ.T).max() > rtol * scale:
        raise ValueError(f"{name} must be symmetric; max |{name} - {name}ᵀ| = {np.abs(Σ - Σ.T).max():.3g}")
    λ_min = np.linalg.eigvalsh(Σ).min()
    if λ_min <= rtol * scale:
        raise ValueError(
            f"{name} must be positive definite (invertible), but its smallest eigenvalue is {λ_min:.3g}"
        )
    return (Σ + Σ.T) / 2


def as_real_array(value, name: str, what: str = "a real number or an array of real numbers"
                  ) -> np.ndarray:
    """``value`` as a float64 numpy array under the package's input policy (see the module
    docstring): real numbers, lists, numpy arrays and torch tensors of any integer or real
    floating dtype are accepted; complex, bool, string and other values raise ``TypeError``
    naming ``name``. Finiteness is not checked here."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be {what}, got the string {value!r} (strings are not parsed)")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {what}, got the bool {value!r}")
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got the complex number {value!r}")
    if _is_tensor(value):
        if value.is_complex():
            raise TypeError(f"{name} must be {what}, got a complex tensor ({value.dtype})")
        if value.dtype == _torch().bool:
            raise TypeError(f"{name} must be {what}, got a bool tensor")
        value = value.detach().cpu()
        if value.is_floating_point():  # bfloat16/float16 have no numpy twin: widen first
            value = value.to(_torch().float64)
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}") from err
    kind = arr.dtype.kind
    if kind in "iuf":
        return arr.astype(np.float64, copy=False)
    if kind == "c":
        raise TypeError(f"{name} must be {what}, got complex entries ({arr.dtype})")
    if kind == "b":
        raise TypeError(f"{name} must be {what}, got bool entries")
    if kind in "USa":
        raise TypeError(f"{name} must be {what}, got strings (strings are not parsed)")
    if kind == "O":
        flat = arr.ravel()
        if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in flat):
            return arr.astype(np.float64)
        bad = next(v for v in flat if not isinstance(v, numbers.Real)
                   or isinstance(v, (bool, np.bool_)))
        raise TypeError(f"{name} must be {what}, got an entry {bad!r} of type {type(bad).__name__}")
    raise TypeError(f"{name} must be {what}, got an array of dtype {arr.dtype}")


def as_real_tensor(value, name: str, *, dtype=None, device=None, finite: bool = True,
                   what: str = "a real number or an array of real numbers"):
    """``value`` as a torch tensor under the package's input policy (see :func:`as_real_array`):
    a tensor of an integer or real floating dtype is kept (autograd graph included) and only
    moved to ``dtype``/``device`` when they are given and differ; anything else goes through
    :func:`as_real_array` (lists, numpy arrays, numbers). Complex, bool and string values raise
    ``TypeError`` naming ``name``; with ``finite`` (the default) NaN or inf raises
    ``ValueError``. One host read of the tensor when ``finite``: for entry checks, not for a
    per-step loop."""
    torch = _torch()
    if _is_tensor(value):
        if value.is_complex():
            raise TypeError(f"{name} must be {what}, got a complex tensor ({value.dtype})")
        if value.dtype == torch.bool:
            raise TypeError(f"{name} must be {what}, got a bool tensor")
        if not value.is_floating_point():
            value = value.to(dtype if dtype is not None else torch.float64)
        tensor = value.to(dtype=dtype if dtype is not None else value.dtype,
                          device=device if device is not None else value.device)
    else:
        arr = as_real_array(value, name, what)
        tensor = torch.as_tensor(arr, dtype=dtype if dtype is not None else torch.float64,
                                 device=device)
    if finite and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or inf; only finite values are allowed")
    return tensor


def env_int(variable: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """The integer in the environment variable ``variable`` (``None`` when unset or empty); a
    value that is not an integer in ``[minimum, maximum]`` raises ``ValueError`` naming the
    variable."""
    import os

    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"the environment variable {variable} must be an integer, got {raw!r}") from None
    lo = "" if minimum is None else f" >= {minimum}"
    hi = "" if maximum is None else f" <= {maximum}"
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"the environment variable {variable} must be an integer{lo}"
                         f"{' and' if lo and hi else ''}{hi}, got {value}")
    return value


def _torch():
    import torch

    return torch


def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _scalar(value):
    """A 0-d numpy array or torch tensor becomes its Python scalar (bool stays bool)."""
    if _is_tensor(value) and value.ndim == 0:
        if value.is_complex() or value.dtype == _torch().bool:
            return complex(value.item()) if value.is_complex() else bool(value.item())
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item() if value.dtype.kind in "iufcb" else value
    return value


def as_rng(value, name: str = "rng") -> np.random.Generator:
    """``numpy.random.default_rng(value)`` for ``None``, a non-negative int seed, a
    ``SeedSequence`` or a ``Generator`` (which passes through unchanged); bools, floats,
    strings and the like raise ``TypeError`` naming ``name`` (numpy would take ``True`` as 1)."""
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence,
                                           np.random.BitGenerator)):
        return np.random.default_rng(value)
    return np.random.default_rng(check_int(value, name, minimum=0))
