"""Gradient flows of the linear autoencoder with and without weight tying (notes §2.2).

Conventions. ``Σ`` is any symmetric positive semi-definite D×D matrix: the notes' sum
``Σ_t x_t x_tᵀ``, or the mean ``Σ/T``, or the population ``E[xxᵀ]`` (a different ``Σ`` only
rescales time). ``W`` is d×D with columns ``w_i`` (feature embeddings); ``M = WᵀW``.

The untied flow (20)-(21) is ``-½∇L`` with ``L(A, B) = tr Σ - 2tr(ABΣ) + tr(ABΣ(AB)ᵀ)``: the
notes' "learning rate 1" absorbs the factor 2 of (19). Setting ``A = Wᵀ, B = W`` in it gives two
different velocities for ``W``:

* the *B-half* (20), ``dW/dt = W(Σ - WᵀWΣ)``: the notes' tied flow (22), :func:`notes_field`;
* the *A-half* (21), transposed, ``dW/dt = W(Σ - ΣWᵀW)``: Oja's subspace rule, :func:`oja_field`.

The exact gradient of the tied loss ``L(W) = Σ_t ‖x_t - WᵀWx_t‖² = tr Σ - 2tr(MΣ) + tr(MΣM)`` is
``∇L = -2[W(Σ - MΣ) + W(Σ - ΣM)]``, so the exact tied gradient flow in the same convention,
``-½∇L``, is the *sum* of the two halves: :func:`exact_field`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from toymodels._checks import check_finite_array, check_float, check_int
from toymodels.limits import refuse_if_too_big
from toymodels.linear.autoencoder import _gradient, check_sigma, principal_angles
from toymodels.relu.geometry import gram
from toymodels.train.divergence import DivergenceError, lr_advice

__all__ = [
    "FLOWS",
    "FlowTrajectory",
    "gram",
    "tied_loss",
    "tied_gradient",
    "untied_field",
    "notes_field",
    "oja_field",
    "exact_field",
    "eigenbasis_field",
    "column_field",
    "energy_notes",
    "energy_corrected",
    "energy_notes_gradient",
    "energy_corrected_gradient",
    "integrate_tied",
    "integrate_untied",
    "gradient_descent_tied",
    "fixed_point_residual",
    "subspace_angle",
    "hidden_lyapunov",
]


def _check_W(W, D: int | None = None, name: str = "W") -> np.ndarray:
    W = check_finite_array(W, name, ndim=2)
    if D is not None and W.shape[1] != D:
        raise ValueError(f"{name} must be d×D with D = {D} (the size of Σ), got shape {W.shape}")
    return W


def _check_ΣW(Σ, W, name: str = "W"):
    Σ = check_sigma(Σ)
    return Σ, _check_W(W, Σ.shape[0], name)


def tied_loss(W, Σ) -> float:
    """``L(W) = tr Σ - 2 tr(WᵀWΣ) + tr(WᵀWΣWᵀW) = Σ_t ‖x_t - WᵀWx_t‖²`` (notes §2.2)."""
    Σ, W = _check_ΣW(Σ, W)
    M = W.T @ W
    return float(np.trace(Σ) - 2 * np.trace(M @ Σ) + np.trace(M @ Σ @ M))


def tied_gradient(W, Σ) -> np.ndarray:
    """Exact ``∇_W L = -2[W(Σ - WᵀWΣ) + W(Σ - ΣWᵀW)]`` of :func:`tied_loss`."""
    Σ, W = _check_ΣW(Σ, W)
    return -2 * (notes_field(W, Σ) + oja_field(W, Σ))


def untied_field(A, B, Σ):
    """The untied flow (20)-(21): ``(dA/dt, dB/dt) = ((Σ - ABΣ)Bᵀ, Aᵀ(Σ - ABΣ))`` = ``-½∇L``."""
    Σ = check_sigma(Σ)
    A = check_finite_array(A, "A", ndim=2)
    B = _check_W(B, Σ.shape[0], "B")
    if A.shape != B.T.shape:
        raise ValueError(f"A must be D×d and B d×D; got A {A.shape} and B {B.shape}")
    gA, gB = _gradient(A, B, Σ - A @ B @ Σ)
    return -0.5 * gA, -0.5 * gB


def notes_field(W, Σ) -> np.ndarray:
    """The notes' tied flow (22): ``dW/dt = W(Σ - WᵀWΣ)`` (the B-half (20) at ``A = Wᵀ``)."""
    Σ, W = _check_ΣW(Σ, W)
    return W @ Σ - (W @ W.T) @ (W @ Σ)


def oja_field(W, Σ) -> np.ndarray:
    """The A-half (21) at ``A = Wᵀ``, transposed: ``dW/dt = W(Σ - ΣWᵀW)`` (Oja's subspace rule)."""
    Σ, W = _check_ΣW(Σ, W)
    return W @ Σ - (W @ Σ @ W.T) @ W


def exact_field(W, Σ) -> np.ndarray:
    """The exact tied gradient flow ``dW/dt = -½∇L(W)`` = (22) + Oja's rule."""
    Σ, W = _check_ΣW(Σ, W)
    return notes_field(W, Σ) + oja_field(W, Σ)


def eigenbasis_field(Wbar, λ) -> np.ndarray:
    """Notes (23): ``dW̄/dt = W̄(I - W̄ᵀW̄)Λ`` for ``W̄ = WU`` and ``Λ = diag(λ)``."""
    Wbar = _check_W(Wbar, name="Wbar")
    λ = check_finite_array(λ, "λ", ndim=1)
    if λ.size != Wbar.shape[1]:
        raise ValueError(f"λ must have D = {Wbar.shape[1]} entries, got {λ.size}")
    return (Wbar - Wbar @ (Wbar.T @ Wbar)) * λ


def column_field(Wbar, λ) -> np.ndarray:
    """Notes (28), column by column: ``dw̄_j/dt = (1 - |w̄_j|²)λ_j w̄_j - Σ_{k≠j}⟨w̄_k, w̄_j⟩λ_j w̄_k``.

    Written with explicit loops over ``j`` and ``k``, as in the notes, to check (23)-(28).
    """
    Wbar = _check_W(Wbar, name="Wbar")
    λ = check_finite_array(λ, "λ", ndim=1)
    D = Wbar.shape[1]
    if λ.size != D:
        raise ValueError(f"λ must have D = {D} entries, got {λ.size}")
    out = np.zeros_like(Wbar)
    for j in range(D):
        wj = Wbar[:, j]
        out[:, j] = (1 - wj @ wj) * λ[j] * wj
        for k in range(D):
            if k != j:
                out[:, j] -= (Wbar[:, k] @ wj) * λ[j] * Wbar[:, k]
    return out


def _scalar_λ(λ) -> float:
    λ = check_finite_array(λ, "λ")
    if λ.ndim != 0:
        raise ValueError(f"λ must be a scalar (the energies assume Σ = λI), got shape {λ.shape}")
    return float(λ)


def energy_notes(W, λ=1.0) -> float:
    """The notes' energy (28′): ``¼Σ_i λ(1 - |w_i|²)² + ½Σ_{i≠j} λ⟨w_i, w_j⟩²`` (ordered pairs)."""
    W, λ = _check_W(W), _scalar_λ(λ)
    M = W.T @ W
    off = M - np.diag(np.diag(M))
    return float(λ / 4 * np.sum((1 - np.diag(M)) ** 2) + λ / 2 * np.sum(off**2))


def energy_corrected(W, λ=1.0) -> float:
    """``E = ¼Σ_i λ(1 - |w_i|²)² + ¼Σ_{i≠j} λ⟨w_i, w_j⟩² = (λ/4)‖I - WᵀW‖_F²``.

    Its negative gradient is the flow (22) = (28) when ``Σ = λI``; it equals ¼ of the tied loss.
    """
    W, λ = _check_W(W), _scalar_λ(λ)
    R = np.eye(W.shape[1]) - W.T @ W
    return float(λ / 4 * np.sum(R**2))


def energy_notes_gradient(W, λ=1.0) -> np.ndarray:
    """``∇E`` of (28′): ``-λ(1 - |w_k|²)w_k + 2λΣ_{j≠k}⟨w_k, w_j⟩w_j`` (note the 2)."""
    W, λ = _check_W(W), _scalar_λ(λ)
    M = W.T @ W
    off = M - np.diag(np.diag(M))
    return -λ * W * (1 - np.diag(M)) + 2 * λ * W @ off


def energy_corrected_gradient(W, λ=1.0) -> np.ndarray:
    """``∇E`` of :func:`energy_corrected`: ``-λW(I - WᵀW)``, i.e. ``-∇E`` is (22) at ``Σ = λI``."""
    W, λ = _check_W(W), _scalar_λ(λ)
    return -λ * (W - W @ (W.T @ W))


FLOWS = {"notes": notes_field, "oja": oja_field, "exact": exact_field}


@dataclass(frozen=True)
class FlowTrajectory:
    """A trajectory: times ``t`` (n_t,) and states ``W`` (n_t, d, D); for the untied flow also
    ``A`` (n_t, D, d), with ``W`` then holding ``B``."""

    t: np.ndarray
    W: np.ndarray
    A: np.ndarray | None = None

    @property
    def gram(self) -> np.ndarray:
        """``WᵀW`` at every time, shape (n_t, D, D)."""
        return gram(self.W)


def _times(t_max, n_eval, size):
    t_max = check_float(t_max, "t_max", positive=True)
    n_eval = check_int(n_eval, "n_eval", minimum=2)
    refuse_if_too_big(f"a trajectory of n_eval = {n_eval} states of {size} numbers",
                      memory=3 * 8.0 * n_eval * size, work=100.0 * n_eval * size,
                      advice="ask for fewer states n_eval")
    return t_max, np.linspace(0.0, t_max, n_eval)


def integrate_tied(W0, Σ, t_max: float, *, flow: str = "notes", n_eval: int = 201,
                   rtol: float = 1e-9, atol: float = 1e-12) -> FlowTrajectory:
    """Integrate a tied flow from ``W0`` up to time ``t_max`` with ``scipy.integrate.solve_ivp``
    (explicit Runge-Kutta DOP853). ``flow``: ``"notes"`` (22), ``"oja"`` or ``"exact"``."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {sorted(FLOWS)}, got {flow!r}")
    Σ, W0 = _check_ΣW(Σ, W0, "W0")
    t_max, t_eval = _times(t_max, n_eval, W0.size)
    shape, field = W0.shape, FLOWS[flow]

    def rhs(_t, y):
        W = y.reshape(shape)
        return field(W, Σ).ravel()

    sol = solve_ivp(rhs, (0.0, t_max), W0.ravel(), method="DOP853", t_eval=t_eval,
                    rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover - a diverging flow
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return FlowTrajectory(t=sol.t, W=sol.y.T.reshape(-1, *shape))


def integrate_untied(A0, B0, Σ, t_max: float, *, n_eval: int = 201, rtol: float = 1e-9,
                     atol: float = 1e-12) -> FlowTrajectory:
    """Integrate the untied flow (20)-(21) from ``(A0, B0)`` with ``solve_ivp`` (DOP853)."""
    Σ = check_sigma(Σ)
    A0 = check_finite_array(A0, "A0", ndim=2)
    B0 = _check_W(B0, Σ.shape[0], "B0")
    if A0.shape != B0.T.shape:
        raise ValueError(f"A0 must be D×d and B0 d×D; got A0 {A0.shape} and B0 {B0.shape}")
    t_max, t_eval = _times(t_max, n_eval, A0.size + B0.size)
    n = A0.size

    def rhs(_t, y):
        dA, dB = untied_field(y[:n].reshape(A0.shape), y[n:].reshape(B0.shape), Σ)
        return np.concatenate([dA.ravel(), dB.ravel()])

    sol = solve_ivp(rhs, (0.0, t_max), np.concatenate([A0.ravel(), B0.ravel()]),
                    method="DOP853", t_eval=t_eval, rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    Y = sol.y.T
    return FlowTrajectory(t=sol.t, W=Y[:, n:].reshape(-1, *B0.shape),
                          A=Y[:, :n].reshape(-1, *A0.shape))


def gradient_descent_tied(W0, Σ, lr: float, steps: int, *, flow: str = "exact",
                          record_every: int = 1) -> FlowTrajectory:
    """Discrete gradient descent ``W ← W + lr · v(W)`` on the exact ``Σ``, where ``v`` is the
    chosen field (``"exact"``: ``-½∇L``; so ``lr`` here equals twice the learning rate of
    ``W ← W - η∇L``). Returns the iterates every ``record_every`` steps, with ``t = lr · step``
    (the flow time the iterates approximate)."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {sorted(FLOWS)}, got {flow!r}")
    Σ, W = _check_ΣW(Σ, W0, "W0")
    lr = check_float(lr, "lr", positive=True)
    steps = check_int(steps, "steps", minimum=0)
    record_every = check_int(record_every, "record_every", minimum=1)
    d, D = W.shape
    refuse_if_too_big(f"gradient_descent_tied with steps = {steps}, record_every = {record_every}, "
                      f"d = {d}, D = {D}", work=steps * (8.0 * d * D * D + 2000),
                      memory=8.0 * W.size * (steps // record_every + 2),
                      advice="use fewer steps (or a larger record_every)")
    field = FLOWS[flow]
    ts, Ws = [0.0], [W.copy()]
    for k in range(1, steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            W = W + lr * field(W, Σ)
        if not np.all(np.isfinite(W)):
            raise DivergenceError(f"gradient_descent_tied diverged at step {k}: W is not finite "
                                  f"(NaN or inf). {lr_advice(lr)}", step=k, instances=[0])
        if k % record_every == 0 or k == steps:
            ts.append(lr * k)
            Ws.append(W.copy())
    return FlowTrajectory(t=np.array(ts), W=np.array(Ws))


def fixed_point_residual(W, Σ, flow: str = "notes") -> float:
    """``‖v(W)‖_F / (‖W‖_F ‖Σ‖_F (1 + ‖W‖_F²))`` for the field ``v`` of ``flow``: zero exactly at
    the flow's fixed points, scale-free so it can be compared with machine precision."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {sorted(FLOWS)}, got {flow!r}")
    Σ, W = _check_ΣW(Σ, W)
    nW = np.linalg.norm(W)
    scale = nW * np.linalg.norm(Σ) * (1 + nW**2)
    return float(np.linalg.norm(FLOWS[flow](W, Σ)) / max(scale, np.finfo(float).tiny))


def subspace_angle(W, Σ) -> float:
    """Largest principal angle (radians) between the row space of ``W`` (d×D) and the span of
    the top-``d`` eigenvectors of ``Σ``: 0 exactly when ``W`` spans the principal subspace.
    Needs ``λ_d > λ_{d+1}`` for that subspace to be defined."""
    Σ, W = _check_ΣW(Σ, W)
    d = W.shape[0]
    λ, U = _eigh(Σ)
    if d < λ.size and λ[d - 1] - λ[d] <= 1e-10 * max(abs(λ[0]), 1e-300):
        raise ValueError(f"the top-{d} eigenspace of Σ is not unique (λ_{d} = λ_{d + 1})")
    return float(principal_angles(W.T, U[:, :d]).max())


def _eigh(Σ):
    λ, U = np.linalg.eigh(Σ)
    return λ[::-1], U[:, ::-1]


def hidden_lyapunov(W) -> float:
    """``V(W) = ¼‖I_d - WWᵀ‖_F²``: non-increasing along (22), Oja's rule and the exact tied flow
    for every ``Σ ⪰ 0``. Equals :func:`energy_corrected` at ``λ = 1`` minus ``(D - d)/4``."""
    W = _check_W(W)
    R = np.eye(W.shape[0]) - W @ W.T
    return float(np.sum(R**2) / 4)
