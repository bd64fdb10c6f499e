"""Models with known learning coefficients, set up for the SGLD estimator (Chapter 5).

Each function returns an :class:`LLCProblem`: the parameter ``w_star`` at which to estimate,
the data, and the loss in the form :func:`toymodels.llc.sgld_llc` expects (parameters with a
leading chain axis, a per-chain minibatch, the per-chain mean loss). Losses are negative
log-likelihoods per sample up to a constant: half the squared error for the regressions (unit
noise), the book's squared error ``‖x − x̂‖²`` for the autoencoders.

* :func:`linear_regression`: ``y = θᵀx``, regular, ``λ = P/2``;
* :func:`reduced_rank_regression`: ``y = B A x`` at a true map of rank ``r``, ``λ`` from
  Aoyagi & Watanabe, eq. (5.3);
* :func:`linear_autoencoder`: the model of Chapter 1 (``x ↦ A B x``) at the global minimum of
  its empirical loss, on Gaussian data with distinct variances;
* :func:`relu_one_sparse`: the ReLU output model of Chapter 3 on inputs with exactly one active
  feature (the data of Chen et al. 2023), at given ``(W, b)``.

The data are noise-free (``y`` is exactly the true map of ``x``), so the minimum of the
empirical loss is the true parameter and its learning coefficient is that of
``K(w) = L(w) − L(w*)``, which is all (5.1) measures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from . import models
from ._checks import check_finite_array, check_int
from .linear import critical_points, second_moment
from .relu_loss import sample_given_active_count

__all__ = ["LLCProblem", "linear_regression", "reduced_rank_regression", "linear_autoencoder",
           "relu_one_sparse", "MAX_SAMPLES"]

#: the largest data set these constructors build (memory: samples × dimension × 8 bytes)
MAX_SAMPLES = 2_000_000

_DT = torch.float64


@dataclass(frozen=True)
class LLCProblem:
    """A parameter ``w_star``, data and a loss for :func:`toymodels.llc.sgld_llc`.

    ``unpack(w)`` turns the flat ``(C, P)`` parameters into the model's matrices.
    ``hessian`` is the exact Hessian of the empirical loss at ``w_star`` when the
    constructor knows it (``None`` otherwise).
    """

    name: str
    w_star: np.ndarray
    data: tuple | None
    loss_fn: Callable
    unpack: Callable
    hessian: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.w_star.size)

    @property
    def n(self) -> int | None:
        """The number of samples (``None`` for an exact population loss)."""
        return None if self.data is None else int(self.data[0].shape[0])


def _n(n):
    return check_int(n, "n (number of samples)", minimum=2, maximum=MAX_SAMPLES)


def _dims(name, value, maximum=200):
    return check_int(value, name, minimum=1, maximum=maximum)


def linear_regression(P: int, n: int, *, seed: int = 0) -> LLCProblem:
    """``y = θ₀ᵀx`` with ``x ~ N(0, I_P)`` and a random ``θ₀``; loss ``½ mean (y − θᵀx)²``.

    A regular model: its Hessian ``Σ̂ = XᵀX/n`` is positive definite, so ``λ = P/2``.
    """
    P = _dims("P (number of parameters)", P)
    n = _n(n)
    seed = check_int(seed, "seed", minimum=0)
    if n < P:
        raise ValueError(f"n = {n} must be at least P = {P} for the Hessian to be invertible")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, P, generator=g, dtype=_DT)
    θ0 = torch.randn(P, generator=g, dtype=_DT)
    y = x @ θ0

    def loss_fn(w, batch):
        xb, yb = batch
        return 0.5 * ((yb - torch.einsum("cbp,cp->cb", xb, w)) ** 2).mean(1)

    return LLCProblem(name=f"linear regression, P={P}", w_star=θ0.numpy(), data=(x, y),
                      loss_fn=loss_fn, unpack=lambda w: w,
                      hessian=(x.T @ x / n).numpy())


def reduced_rank_regression(M: int, N: int, H: int, r: int, n: int | None = None, *,
                            seed: int = 0) -> LLCProblem:
    """``y = B A x`` (``A``: ``H × M``, ``B``: ``N × H``) with data ``y = C₀x``, ``x ~ N(0, I_M)``,
    ``C₀`` of rank ``r`` with singular values in ``[1, 2]``; loss ``½ mean ‖y − BAx‖²``.

    ``w_star = (A₀, B₀)`` with ``B₀A₀ = C₀`` and the ``H − r`` spare hidden units zero (a point of
    the deepest singularity of the set of true parameters). Parameters are flattened as
    ``[vec A, vec B]``. The learning coefficient is eq. (5.3).

    With ``n=None`` there is no data: the loss is the exact population loss
    ``½ ‖BA − C₀‖²_F`` (the expectation over ``x ~ N(0, I_M)``), called as ``loss_fn(w, None)``.
    """
    M = _dims("M (input dimension)", M)
    N = _dims("N (output dimension)", N)
    H = _dims("H (hidden dimension)", H)
    r = check_int(r, "r (rank of the true map)", minimum=0, maximum=min(H, M, N))
    n = None if n is None else _n(n)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((N, N)))
    V, _ = np.linalg.qr(rng.standard_normal((M, M)))
    s = np.linspace(2.0, 1.0, r) if r else np.zeros(0)
    A0 = np.zeros((H, M))
    B0 = np.zeros((N, H))
    A0[:r] = np.sqrt(s)[:, None] * V[:, :r].T
    B0[:, :r] = U[:, :r] * np.sqrt(s)[None, :]
    C0 = torch.as_tensor(B0 @ A0)
    nA = H * M

    def unpack(w):
        return w[:, :nA].reshape(-1, H, M), w[:, nA:].reshape(-1, N, H)

    def loss_fn(w, batch):
        A, B = unpack(w)
        if batch is None:
            return 0.5 * ((torch.bmm(B, A) - C0) ** 2).sum((1, 2))
        xb, yb = batch
        pred = torch.bmm(xb, torch.bmm(B, A).transpose(1, 2))
        return 0.5 * ((yb - pred) ** 2).sum(2).mean(1)

    data = None
    if n is not None:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, M, generator=g, dtype=_DT)
        data = (x, x @ C0.T)
    w_star = np.concatenate([A0.ravel(), B0.ravel()])
    return LLCProblem(name=f"reduced-rank regression M={M} N={N} H={H} r={r}", w_star=w_star,
                      data=data, loss_fn=loss_fn, unpack=unpack)


def linear_autoencoder(D: int, d: int, n: int, *, variances=None, seed: int = 0) -> LLCProblem:
    """The linear autoencoder of Chapter 1, ``x ↦ A B x`` (``A``: ``D × d``, ``B``: ``d × D``), on
    ``n`` Gaussian samples with the given ``variances`` (default ``1, 1/2, …, 1/D``), at the
    global minimum of the empirical loss ``mean ‖x − ABx‖²`` (Proposition 1 of the notes with
    the sample second moment).

    The minima form the orbit ``(A C, C⁻¹B)``, ``C ∈ GL(d)``: ``d²`` flat directions, and the
    Hessian is non-degenerate across them, so ``λ = (2Dd − d²)/2`` (Proposition 5.2). This
    equals (5.3) with ``M = N = D``, ``H = r = d``. Parameters are flattened as
    ``[vec A, vec B]``.
    """
    D = _dims("D (number of features)", D)
    d = check_int(d, "d (hidden dimension)", minimum=1, maximum=D)
    n = _n(n)
    seed = check_int(seed, "seed", minimum=0)
    if variances is None:
        variances = 1.0 / np.arange(1, D + 1)
    variances = check_finite_array(variances, "variances", ndim=1)
    if variances.shape != (D,) or np.any(variances <= 0):
        raise ValueError(f"variances must be {D} positive numbers, got {variances}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=g, dtype=_DT) * torch.as_tensor(np.sqrt(variances))
    cp = critical_points(second_moment(x.numpy()), d)[0]  # index set {0..d-1}: the global min
    nA = D * d

    def unpack(w):
        return w[:, :nA].reshape(-1, D, d), w[:, nA:].reshape(-1, d, D)

    def loss_fn(w, batch):
        (xb,) = batch
        A, B = unpack(w)
        return models.loss("linear", {"A": A, "B": B}, xb, 1.0)

    w_star = np.concatenate([cp.A.ravel(), cp.B.ravel()])
    return LLCProblem(name=f"linear autoencoder D={D} d={d}", w_star=w_star, data=(x,),
                      loss_fn=loss_fn, unpack=unpack)


def relu_one_sparse(W, b, n: int, *, seed: int = 0) -> LLCProblem:
    """The ReLU output model ``x ↦ ReLU(WᵀWx + b)`` at ``(W, b)`` on ``n`` inputs with exactly
    one active feature, uniform on ``[0, 1]`` (the data of Chen et al. 2023 and the ``L_1`` of
    Chapter 3); loss ``mean ‖x − x̂‖²``. Parameters are flattened as ``[vec W, b]``."""
    W = check_finite_array(W, "W", ndim=2)
    dh, D = W.shape
    b = check_finite_array(b, "b", ndim=1)
    if b.shape != (D,):
        raise ValueError(f"b must have shape ({D},) (one bias per column of W), got {b.shape}")
    _dims("D (columns of W)", D)
    n = _n(n)
    seed = check_int(seed, "seed", minimum=0)
    x = torch.as_tensor(sample_given_active_count(n, np.full(D, 0.5), 1,
                                                  rng=np.random.default_rng(seed)))
    nW = dh * D

    def unpack(w):
        return w[:, :nW].reshape(-1, dh, D), w[:, nW:]

    def loss_fn(w, batch):
        (xb,) = batch
        Wc, bc = unpack(w)
        return models.loss("relu", {"W": Wc, "b": bc}, xb, 1.0)

    return LLCProblem(name=f"ReLU output model D={D} d={dh}, 1-sparse data",
                      w_star=np.concatenate([W.ravel(), b]), data=(x,), loss_fn=loss_fn,
                      unpack=unpack)
