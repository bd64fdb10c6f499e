"""Deterministic full-batch training of the linear autoencoder on the exact loss L(A,B;Σ).

Gradient descent and Adam in numpy float64 on L = tr Σ − 2 tr(ABΣ) + tr(ABΣ(AB)ᵀ), with
the gradient (19) of the notes; tools to measure how long a trajectory lingers near a
critical level (the plateaus of Saxe et al., 2013).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toymodels._checks import as_rng, check_finite_array, check_float, check_int
from toymodels.limits import refuse_if_too_big
from toymodels.linear import autoencoder as linear
from toymodels.linear import hessian as _hessian
from toymodels.train.divergence import check_loop_step, lr_advice

__all__ = [
    "LinearRun",
    "default_lr",
    "train_linear",
    "escape_time",
    "time_near",
    "escape_rate",
    "escape_from_saddle",
]

_OPTIMIZERS = ("gd", "adam")


@dataclass(frozen=True)
class LinearRun:
    """A trajectory: ``loss[t]`` is L after t steps (``loss[0]`` at the initial point)."""

    loss: np.ndarray
    A: np.ndarray
    B: np.ndarray
    optimizer: str
    lr: float


def default_lr(Σ, optimizer: str = "gd") -> float:
    """A stable step: 0.05/λ_max for gradient descent (the Hessian's spectrum scales with Σ),
    0.01 for Adam (whose steps have the size of lr whatever the scale of Σ). For Σ = 0 the loss
    is identically zero and every step is stable: 0.05."""
    Σ = linear.check_sigma(Σ)
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
    if optimizer != "gd":
        return 0.01
    λ_max = np.linalg.eigvalsh(Σ).max()
    return 0.05 / λ_max if λ_max > 0 else 0.05


def _default_lr_text(optimizer: str) -> str:
    return "0.05/λ_max(Σ)" if optimizer == "gd" else "0.01 for Adam"


def train_linear(Σ, d, *, steps: int = 1000, lr: float | None = None, optimizer: str = "gd",
                 init_scale: float = 1e-3, seed=0, A0=None, B0=None,
                 betas=(0.9, 0.999), adam_eps: float = 1e-8) -> LinearRun:
    """Full-batch gradient descent or Adam on L(A,B;Σ), gradient from notes (19).

    Starts from A0, B0 when given, else from iid N(0, init_scale²) entries drawn with
    ``seed``. ``optimizer`` is ``"gd"`` (θ ← θ − lr ∇L) or ``"adam"`` (Kingma & Ba, with
    bias correction). Returns the loss after every step. Raises
    :class:`~toymodels.train.divergence.DivergenceError` (a ``FloatingPointError``) naming the step
    when the loss becomes non-finite or runs away (more than ``RUNAWAY`` times the larger of
    ``tr Σ``, the loss of the zero map, and the initial loss) or Adam's state overflows.
    """
    Σ = linear.check_sigma(Σ)
    D = Σ.shape[0]
    d = linear._check_d(d, D)
    steps = check_int(steps, "steps", minimum=0)
    _refuse_long_run(f"train_linear with steps = {steps}, D = {D}, d = {d}", steps, D, d)
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
    default = _default_lr_text(optimizer) if lr is None else ""
    lr = default_lr(Σ, optimizer) if lr is None else check_float(lr, "lr", positive=True)
    rng = as_rng(seed, "seed")  # checked even when A0 and B0 make it unused
    if A0 is None or B0 is None:
        init_scale = check_float(init_scale, "init_scale", positive=True)
        A = init_scale * rng.standard_normal((D, d))
        B = init_scale * rng.standard_normal((d, D))
    if A0 is not None:
        A = check_finite_array(A0, "A0", ndim=2).copy()
    if B0 is not None:
        B = check_finite_array(B0, "B0", ndim=2).copy()
    linear._check_AB(A, B, D)
    if A.shape[1] != d:
        raise ValueError(f"A0 must have d = {d} columns, got shape {A.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        return _loop(Σ, A, B, steps, lr, optimizer, betas, adam_eps, lr_advice(lr, default=default))


def _refuse_long_run(what: str, steps: int, D: int, d: int) -> None:
    """Refuse (before any work) a run of :func:`train_linear` too long for the limits: each
    step is a few ``D × D × d`` products, and the loss of every step is kept."""
    refuse_if_too_big(what, work=steps * (12.0 * D * D * d + 2000), memory=8.0 * steps,
                      advice="use fewer steps")


def _loop(Σ, A, B, steps, lr, optimizer, betas, adam_eps, advice):
    trΣ = np.trace(Σ)
    losses = np.empty(steps + 1)
    b1, b2 = betas
    mA, vA, mB, vB = (np.zeros_like(A), np.zeros_like(A), np.zeros_like(B), np.zeros_like(B))
    for t in range(steps + 1):
        M = A @ B
        MΣ = M @ Σ
        losses[t] = trΣ - 2 * np.trace(MΣ) + np.sum(MΣ * M)
        state = np.concatenate([vA.ravel(), vB.ravel()])[None] if optimizer == "adam" else None
        check_loop_step("train_linear", t, losses[t], max(trΣ, losses[0]), advice=advice,
                        state=state)
        if t == steps:
            break
        gA, gB = linear._gradient(A, B, Σ - MΣ)
        if optimizer == "gd":
            A, B = A - lr * gA, B - lr * gB
        else:
            mA, mB = b1 * mA + (1 - b1) * gA, b1 * mB + (1 - b1) * gB
            vA, vB = b2 * vA + (1 - b2) * gA**2, b2 * vB + (1 - b2) * gB**2
            c1, c2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)
            A = A - lr * (mA / c1) / (np.sqrt(vA / c2) + adam_eps)
            B = B - lr * (mB / c1) / (np.sqrt(vB / c2) + adam_eps)
    return LinearRun(loss=losses, A=A, B=B, optimizer=optimizer, lr=lr)


def escape_time(loss, level: float, drop: float) -> int | None:
    """First step at which ``loss`` falls below ``level − drop`` (None if it never does)."""
    loss = check_finite_array(loss, "loss", ndim=1)
    level, drop = check_float(level, "level"), check_float(drop, "drop", minimum=0.0)
    below = np.flatnonzero(loss < level - drop)
    return int(below[0]) if below.size else None


def time_near(loss, level: float, tol: float) -> int:
    """Number of steps with |loss − level| ≤ tol: how long a trajectory lingers at a level."""
    loss = check_finite_array(loss, "loss", ndim=1)
    level, tol = check_float(level, "level"), check_float(tol, "tol", minimum=0.0)
    return int(np.sum(np.abs(loss - level) <= tol))


def _critical_point(Σ, I, d):
    """The critical point with index set ``I`` (0-based, ``|I| ≤ d``), built directly (not by
    listing all ``binom(D, |I|)`` of them): ``A = [U_I, 0]``, ``B = Aᵀ`` (notes (⋆), C = I)."""
    λ, U = linear.eigh_desc(Σ)
    D = λ.size
    d = linear._check_d(d, D)
    I = linear._index_set(I, "I", D)
    if len(I) > d:
        raise ValueError(f"I must hold at most d = {d} indices, got {len(I)}: {I}")
    A = np.zeros((D, d))
    A[:, :len(I)] = U[:, list(I)]
    level = float(λ.sum() - λ[list(I)].sum())
    return linear.CriticalPoint(I=I, A=A, B=A.T.copy(), C=np.eye(d), level=level)


def escape_rate(Σ, I, d: int) -> float:
    """μ = −(most negative Hessian eigenvalue) at the critical point with index set I
    (0-based; |I| ≤ d); near it gradient descent with step lr grows the unstable component
    by the factor 1 + lr·μ per step. Zero at the minimum."""
    Σ = linear.check_sigma(Σ)
    D = Σ.shape[0]
    d = linear._check_d(d, D)
    refuse_if_too_big(f"escape_rate with D = {D}, d = {d} (a Hessian of size 2Dd = {2 * D * d})",
                      work=(2.0 * D * d) ** 3 * 4, memory=8.0 * (2 * D * d) ** 2 * 3,
                      advice="choose a smaller Σ or d")
    cp = _critical_point(Σ, I, d)
    μ = np.linalg.eigvalsh(_hessian.hessian(cp.A, cp.B, Σ))
    return float(-μ[0]) if -μ[0] > 1e-10 * np.abs(μ).max() else 0.0


def escape_from_saddle(Σ, d: int, I, ε: float, *, drop: float, lr: float | None = None,
                       steps: int = 20000, seed=0) -> int | None:
    """Steps gradient descent needs to leave the critical point with index set I.

    Starts at A = U_I, B = U_Iᵀ (rank |I| ≤ d) plus a Gaussian perturbation of Frobenius
    norm ε (drawn with ``seed``), and returns the first step at which the loss is below the
    critical level Σ_{i∉I} λ_i minus ``drop`` (None if not within ``steps``).
    """
    Σ = linear.check_sigma(Σ)
    cp = _critical_point(Σ, I, d)
    ε = check_float(ε, "ε", positive=True)
    drop = check_float(drop, "drop", minimum=0.0)
    steps = check_int(steps, "steps", minimum=0)
    D, d = cp.A.shape
    _refuse_long_run(f"escape_from_saddle with steps = {steps}, D = {D}, d = {d}", steps, D, d)
    rng = as_rng(seed, "seed")
    δA, δB = rng.standard_normal(cp.A.shape), rng.standard_normal(cp.B.shape)
    scale = ε / np.sqrt(np.sum(δA**2) + np.sum(δB**2))
    run = train_linear(Σ, d, steps=steps, lr=lr, A0=cp.A + scale * δA, B0=cp.B + scale * δB)
    return escape_time(run.loss, cp.level, drop)
