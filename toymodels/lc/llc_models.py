"""Models with known learning coefficients, set up for the SGLD estimator (Chapter 5).

Each function returns an :class:`LLCProblem`: the parameter ``w_star`` at which to estimate,
the data, and the loss in the form :func:`toymodels.lc.llc.sgld_llc` expects (parameters with a
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

from toymodels._checks import check_finite_array, check_int
from toymodels.linear.autoencoder import critical_points, second_moment
from toymodels.relu.integrals import _L1
from toymodels.relu.landscape import rotation_directions
from toymodels.tied.skeleta import sample_given_active_count
from toymodels.train import models

__all__ = ["LLCProblem", "linear_regression", "reduced_rank_regression", "linear_autoencoder",
           "relu_one_sparse", "stack_problems", "exact_hessian", "relu_flat_directions",
           "MAX_SAMPLES"]

#: the largest data set these constructors build (memory: samples × dimension × 8 bytes)
MAX_SAMPLES = 2_000_000

_DT = torch.float64


@dataclass(frozen=True)
class LLCProblem:
    """A parameter ``w_star``, data and a loss for :func:`toymodels.lc.llc.sgld_llc`.

    ``unpack(w)`` turns the flat ``(C, P)`` parameters into the model's matrices.
    ``hessian`` is the exact Hessian of the empirical loss at ``w_star`` when the
    constructor knows it (``None`` otherwise). A problem made by :func:`stack_problems` holds
    ``G`` independent copies (seeds): ``w_star`` of shape ``(G, P)``, data of shape
    ``(G, n, ...)``.
    """

    name: str
    w_star: np.ndarray
    data: tuple | None
    loss_fn: Callable
    unpack: Callable
    hessian: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.w_star.shape[-1])

    @property
    def groups(self) -> int:
        """The number of independent copies (seeds) the problem holds (1 unless stacked)."""
        return 1 if self.w_star.ndim == 1 else int(self.w_star.shape[0])

    @property
    def n(self) -> int | None:
        """The number of samples (``None`` for an exact population loss)."""
        return None if self.data is None else int(self.data[0].shape[self.w_star.ndim - 1])


def stack_problems(problems) -> LLCProblem:
    """``G`` problems of the same model and sizes (e.g. one data set per seed) as one
    :class:`LLCProblem` whose ``w_star`` has shape ``(G, P)`` and whose data tensors have shape
    ``(G, n, ...)``: :func:`toymodels.lc.llc.sgld_llc` samples them side by side and reports
    each one's estimate (5.1) in ``per_group``. The losses must read the model from the batch
    alone (every constructor here with data does), so the first problem's ``loss_fn`` serves all.
    """
    if not isinstance(problems, (list, tuple)) or len(problems) < 2 or not all(
            isinstance(p, LLCProblem) for p in problems):
        raise TypeError("problems must be a list of at least two LLCProblem")
    first = problems[0]
    if any(p.data is None or p.w_star.ndim != 1 for p in problems):
        raise ValueError("problems must all have data (an exact loss cannot be stacked) and a "
                         "single w_star each")
    if any(p.name != first.name or p.w_star.shape != first.w_star.shape or len(p.data) !=
           len(first.data) or any(a.shape != b.shape for a, b in zip(p.data, first.data, strict=True))
           for p in problems):
        raise ValueError("problems must be the same model with the same sizes (only the seed "
                         "may differ)")
    return LLCProblem(name=f"{first.name} × {len(problems)} seeds",
                      w_star=np.stack([p.w_star for p in problems]),
                      data=tuple(torch.stack(ts) for ts in zip(*(p.data for p in problems), strict=True)),
                      loss_fn=first.loss_fn, unpack=first.unpack)


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


def relu_one_sparse(W, b, n: int | None = None, *, seed: int = 0) -> LLCProblem:
    """The ReLU output model ``x ↦ ReLU(WᵀWx + b)`` at ``(W, b)`` with inputs that have exactly
    one active feature, chosen uniformly, with a value uniform on ``[0, 1]`` (the data of Chen
    et al. 2023); loss ``‖x − x̂‖²``. Parameters are flattened as ``[vec W, b]``.

    With ``n`` an integer: ``n`` samples and the loss ``mean ‖x − x̂‖²``. With ``n=None``: no
    data, the exact expected loss ``L_1`` of Chapter 3 (``relu_loss``'s closed form, which
    autograd differentiates), called as ``loss_fn(w, None)``.
    """
    W = check_finite_array(W, "W", ndim=2)
    dh, D = W.shape
    b = check_finite_array(b, "b", ndim=1)
    if b.shape != (D,):
        raise ValueError(f"b must have shape ({D},) (one bias per column of W), got {b.shape}")
    _dims("D (columns of W)", D)
    n = None if n is None else _n(n)
    seed = check_int(seed, "seed", minimum=0)
    nW = dh * D
    ω = torch.ones(D, dtype=_DT)
    S_equal = np.full(D, 0.5)  # any equal sparsity: L_1 weighs the D features equally

    def unpack(w):
        return w[:, :nW].reshape(-1, dh, D), w[:, nW:]

    def loss_fn(w, batch):
        Wc, bc = unpack(w)
        if batch is None:
            return _L1(Wc, bc, ω, S_equal)
        (xb,) = batch
        return models.loss("relu", {"W": Wc, "b": bc}, xb, 1.0)

    data = None
    if n is not None:
        x = sample_given_active_count(n, S_equal, 1, rng=np.random.default_rng(seed))
        data = (torch.as_tensor(x),)
    return LLCProblem(name=f"ReLU output model D={D} d={dh}, 1-sparse inputs",
                      w_star=np.concatenate([W.ravel(), b]), data=data, loss_fn=loss_fn,
                      unpack=unpack)


def exact_hessian(problem: LLCProblem) -> np.ndarray:
    """The Hessian of ``problem``'s loss at ``w_star`` (torch autograd, float64): of the exact
    loss when ``problem.data`` is ``None``, else of the loss on all its samples."""
    if not isinstance(problem, LLCProblem):
        raise TypeError(f"problem must be an LLCProblem, got {type(problem).__name__}")
    if problem.groups > 1:
        raise ValueError("problem holds several seeds (stack_problems); take the Hessian of "
                         "one of them")
    if problem.dim > 2000:
        raise ValueError(f"problem has {problem.dim} parameters; exact_hessian builds a dense "
                         f"P × P matrix and is limited to P ≤ 2000")
    data = None if problem.data is None else tuple(t.unsqueeze(0) for t in problem.data)

    def f(v):
        return problem.loss_fn(v.unsqueeze(0), data).reshape(())

    w = torch.as_tensor(problem.w_star, dtype=_DT)
    H = torch.autograd.functional.hessian(f, w).numpy()
    return (H + H.T) / 2


def relu_flat_directions(W, b) -> np.ndarray:
    """Directions along which the ReLU output model's loss is constant near ``(W, b)``, as the
    columns of a ``(dD + D, m)`` array in the ``[vec W, b]`` flattening.

    * the rotations of the hidden space, ``W ↦ e^{tX} W`` for each antisymmetric ``X`` (the loss
      depends on ``W`` only through ``WᵀW``): ``d(d − 1)/2`` generators;
    * the bias ``b_j`` of a *dead* feature ``j`` (``w_j = 0``, ``b_j < 0``): every
      pre-activation of output ``j`` is ``w_jᵀ(Wx) + b_j``, negative near ``(W, b)``;
    * and the weights ``w_j`` of that dead feature too when every embedded feature ``i``
      (``w_i ≠ 0``) has ``b_i < 0``: then the pre-activations of the outputs ``i`` when ``x_j``
      is active, ``w_iᵀw_j x_j + b_i``, also stay negative, and the loss does not change.

    These are the flat directions that Proposition 5.2 of Chapter 5 needs; whether they span the
    Hessian's null space is for :func:`toymodels.lc.learning_coefficient.hessian_llc` to check.
    """
    W = check_finite_array(W, "W", ndim=2)
    dh, D = W.shape
    b = check_finite_array(b, "b", ndim=1)
    if b.shape != (D,):
        raise ValueError(f"b must have shape ({D},) (one bias per column of W), got {b.shape}")
    P = dh * D + D
    cols = rotation_directions(W)
    embedded = np.linalg.norm(W, axis=0) > 0
    for j in np.flatnonzero(~embedded & (b < 0)):
        if np.all(b[embedded] < 0):
            for row in range(dh):
                e = np.zeros(P)
                e[row * D + j] = 1.0
                cols.append(e)
        e = np.zeros(P)
        e[dh * D + j] = 1.0
        cols.append(e)
    return np.array(cols).T if cols else np.zeros((P, 0))
