"""Argument checks shared by every module.

Each check raises ``TypeError`` or ``ValueError`` with a message that names the
argument, says what was received and what is allowed, so a bad call fails at
the boundary of ``toymodels`` instead of deep inside numpy or torch.
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
]


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` after checking it is an integer in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
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
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
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
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number or an array of numbers in [0, 1], got a bool")
    try:
        arr = np.asarray(_to_numpy(value), dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers in [0, 1], got {value!r}") from err
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


def check_vector(value, name: str, length: int, *, nonnegative: bool = False) -> np.ndarray:
    """Return a float64 vector of the given ``length`` (a scalar is broadcast)."""
    try:
        arr = np.asarray(_to_numpy(value), dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or a vector of numbers, got {value!r}") from err
    if arr.ndim == 0:
        arr = np.full(length, float(arr))
    if arr.shape != (length,):
        raise ValueError(f"{name} must be a scalar or have shape ({length},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got non-finite entries")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got an entry {arr[arr < 0][0]:g}")
    return arr


def check_finite_array(value, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a float64 array, refusing NaN/inf and the wrong number of axes."""
    try:
        arr = np.asarray(_to_numpy(value), dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}") from err
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


def _to_numpy(value):
    """Torch tensors become numpy arrays (on the CPU); everything else passes through."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value
