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

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from toymodels._checks import check_finite_array, check_float, check_int
from toymodels.linear.autoencoder import critical_points, second_moment
from toymodels.relu.integrals import _L1
from toymodels.tied.skeleta import sample_given_active_count
from toymodels.train import models

__all__ = ["LLCProblem", "linear_regression", "reduced_rank_regression", "linear_autoencoder",
           "relu_one_sparse", "exact_hessian", "relu_flat_directions", "PosteriorDraws",
           "relu_posterior_draws", "kgon_llc_playground", "MAX_SAMPLES"]

#: the largest data set these constructors build (memory: samples × dimension × 8 bytes)
MAX_SAMPLES = 2_000_000

_DT = torch.float64


@dataclass(frozen=True)
class LLCProblem:
    """A parameter ``w_star``, data and a loss for :func:`toymodels.lc.llc.sgld_llc`.

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
    * the three-or-more parameters of a *dead* feature ``j`` (``w_j = 0``, ``b_j < 0``) when
      every embedded feature ``i`` (``w_i ≠ 0``) has ``b_i < 0``: then every pre-activation that
      ``w_j`` or ``b_j`` enters stays negative near ``(W, b)``, and the loss does not change.

    These are the flat directions that Proposition 5.2 of Chapter 5 needs; whether they span the
    Hessian's null space is for :func:`toymodels.lc.learning_coefficient.hessian_llc` to check.
    """
    W = check_finite_array(W, "W", ndim=2)
    dh, D = W.shape
    b = check_finite_array(b, "b", ndim=1)
    if b.shape != (D,):
        raise ValueError(f"b must have shape ({D},) (one bias per column of W), got {b.shape}")
    P = dh * D + D
    cols = []
    for i in range(dh):
        for j in range(i + 1, dh):
            X = np.zeros((dh, dh))
            X[i, j], X[j, i] = -1.0, 1.0
            cols.append(np.concatenate([(X @ W).ravel(), np.zeros(D)]))
    embedded = np.linalg.norm(W, axis=0) > 0
    if np.all(b[embedded] < 0):
        for j in np.flatnonzero(~embedded & (b < 0)):
            for row in range(dh):
                e = np.zeros(P)
                e[row * D + j] = 1.0
                cols.append(e)
            e = np.zeros(P)
            e[dh * D + j] = 1.0
            cols.append(e)
    return np.array(cols).T if cols else np.zeros((P, 0))


@dataclass(frozen=True)
class PosteriorDraws:
    """Final states of Langevin (or plain SGD) chains on the ReLU output model, one per chain:
    ``W`` of shape ``(chains, d, D)``, ``b`` of shape ``(chains, D)``, ``loss`` the mean loss
    ``L_n`` of each final state on the data set, and ``history[c, j]`` the loss ``L_n`` of chain
    ``c`` after ``j · record_every`` steps."""

    W: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    history: np.ndarray
    record_every: int
    n: int
    temperature: float


def relu_posterior_draws(D: int, n: int, *, d: int = 2, chains: int = 32, steps: int = 3000,
                         ε: float | None = None, temperature: float = 1.0,
                         batch_size: int | None = 64, prior_std: float = 2.0,
                         init_std: float = 0.3, record_every: int = 50,
                         seed: int = 0) -> PosteriorDraws:
    """Langevin chains on the posterior of the ReLU output model given ``n`` 1-sparse samples
    (Chapter 5)::

        w ← w − ε/2 (n ∇L_B(w) + w/prior_std²) + √(ε·temperature) ξ,

    from ``chains`` random starts ``N(0, init_std²)``, ``L_B`` the loss on a minibatch of
    ``batch_size`` samples (all ``n`` when ``None``). ``temperature=1`` targets the posterior
    ``∝ exp(−n L_n(w)) N(w; 0, prior_std² I)``; ``temperature=0`` is plain minibatch SGD with
    learning rate ``ε n/2`` and a weight decay. The default step is ``ε = 0.02/n``.

    Chains that do not cross between basins weigh each basin by where they start and how they
    fall, not by its posterior mass; Chapter 5 says what that does and does not show.
    """
    D = _dims("D (number of features)", D, maximum=64)
    d = _dims("d (hidden dimension)", d, maximum=16)
    n = _n(n)
    chains = check_int(chains, "chains", minimum=1, maximum=4096)
    steps = check_int(steps, "steps", minimum=1, maximum=10**6)
    B = n if batch_size is None else check_int(batch_size, "batch_size", minimum=1, maximum=n)
    if float(chains) * steps * B * D > 2e11:
        raise ValueError(f"chains × steps × batch × D = {float(chains) * steps * B * D:.3g} "
                         f"exceeds 2e11 (minutes of CPU time); use fewer chains or steps")
    ε = 0.02 / n if ε is None else check_float(ε, "ε", positive=True)
    temperature = check_float(temperature, "temperature", minimum=0.0)
    prior_std = check_float(prior_std, "prior_std", positive=True)
    init_std = check_float(init_std, "init_std", positive=True)
    record_every = check_int(record_every, "record_every", minimum=1, maximum=steps)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(sample_given_active_count(n, np.full(D, 0.5), 1, rng=rng))
    g = torch.Generator().manual_seed(seed)
    W = init_std * torch.randn(chains, d, D, generator=g, dtype=_DT)
    b = init_std * torch.randn(chains, D, generator=g, dtype=_DT)
    s = math.sqrt(ε * temperature)
    full = x.unsqueeze(0).expand(chains, n, D)

    def full_loss(W, b):
        with torch.no_grad():
            return models.loss("relu", {"W": W, "b": b}, full, 1.0)

    history = [full_loss(W, b)]
    for t in range(1, steps + 1):
        xb = full if B == n else x[torch.randint(n, (chains, B), generator=g)]
        W.requires_grad_(True)
        b.requires_grad_(True)
        L = models.loss("relu", {"W": W, "b": b}, xb, 1.0)
        gW, gb = torch.autograd.grad(L.sum(), (W, b))
        with torch.no_grad():
            W = W - 0.5 * ε * (n * gW + W / prior_std**2)
            b = b - 0.5 * ε * (n * gb + b / prior_std**2)
            if s > 0:
                W = W + s * torch.randn(W.shape, generator=g, dtype=_DT)
                b = b + s * torch.randn(b.shape, generator=g, dtype=_DT)
        if t % record_every == 0:
            history.append(full_loss(W, b))
    if not (torch.isfinite(W).all() and torch.isfinite(b).all()):
        raise FloatingPointError(f"the chains diverged: the step ε = {ε:g} is too large for "
                                 f"n = {n}; decrease ε")
    hist = torch.stack(history, dim=1).numpy()
    return PosteriorDraws(W=W.detach().numpy(), b=b.detach().numpy(), loss=hist[:, -1],
                          history=hist, record_every=record_every, n=n,
                          temperature=temperature)


def kgon_llc_playground(k: int = 5, n_dead: int = 1, *, D: int = 6, n: int = 10_000,
                        γ: float = 20.0, steps: int = 2000, chains: int = 16, seed: int = 0,
                        ax=None):
    """Estimate ``λ`` at Chapter 4's ``k``-gon (``D`` features, ``n_dead`` dead) in a few seconds
    and draw the running estimate of every chain (the playground of Chapter 5).

    Uses ``10⁵`` 1-sparse samples, minibatches of 64, ``ε = 0.1/(nβ h_max)`` from the exact
    Hessian, and prints the Hessian's account (Proposition 5.2) beside the estimate. Returns
    the :class:`toymodels.lc.llc.LLCEstimate`.
    """
    import matplotlib.pyplot as plt

    from toymodels.lc.learning_coefficient import hessian_llc
    from toymodels.lc.llc import sgld_llc
    from toymodels.relu.kgons import kgon_critical_point

    steps = check_int(steps, "steps", minimum=100, maximum=20_000)
    chains = check_int(chains, "chains", minimum=2, maximum=64)
    n = check_int(n, "n", minimum=2, maximum=10**5)
    γ = check_float(γ, "γ", positive=True)
    seed = check_int(seed, "seed", minimum=0)
    pt = kgon_critical_point(D, k, n_dead=n_dead)
    W, b = pt.parameters()
    H = exact_hessian(relu_one_sparse(W, b))
    ev = np.linalg.eigvalsh(H)
    prob = relu_one_sparse(W, b, 100_000, seed=seed)
    nβ = n / math.log(n)
    est = sgld_llc(prob.loss_fn, prob.w_star, prob.data, n=n, ε=0.1 / (nβ * ev.max()), γ=γ,
                   chains=chains, steps=steps, burn_in=steps // 4, batch_size=64, seed=seed,
                   warn=False)
    if ev.min() < -1e-7 * np.abs(ev).max():
        account = f"saddle ({int((ev < -1e-7 * np.abs(ev).max()).sum())} negative eigenvalues)"
    else:
        acc = hessian_llc(H, relu_flat_directions(W, b))
        account = (f"Hessian: λ = {acc.value}" if acc.value is not None and k >= 5 else
                   f"Hessian bounds {acc.lower}–{acc.upper} (loss not smooth at w*)" if k <= 4
                   else f"Hessian bounds {acc.lower}–{acc.upper}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(est.running().T, lw=0.6, color="0.6")
    ax.plot(est.running().mean(0), lw=2, color="C0")
    ax.axhline(est.llc, color="C0", ls="--", lw=1)
    ax.set_xlabel("SGLD step after burn-in")
    ax.set_ylabel("running λ̂")
    ax.set_title(f"{pt.name}: {est}; {account}", fontsize=9)
    return est
