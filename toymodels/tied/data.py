"""The sparse synthetic data of Section 2.1 of the notes (the Toy Models data).

Each feature is ``X_i = B_i · U_i`` with ``B_i ~ Bernoulli(1 - S_i)`` and
``U_i ~ Uniform[0, 1]``, all independent. ``S`` is the *sparsity*: the probability
that a feature is zero.

Both samplers use one uniform draw ``u`` per entry instead of two:
``x = max(u - S, 0) / (1 - S)``. This has exactly the law above, since
``P(x = 0) = P(u ≤ S) = S`` and, given ``u > S``, ``(u - S)/(1 - S)`` is uniform on
``(0, 1]``; it halves the random numbers drawn, which is most of the cost of a batch.
"""

from __future__ import annotations

import numpy as np
import torch

from toymodels._checks import (
    as_real_array,
    as_rng,
    check_float,
    check_importance,
    check_int,
    check_probability,
    check_vector,
)
from toymodels.limits import check_threads, machine_cores, refuse_if_too_big

__all__ = [
    "sparse_uniform",
    "sparse_uniform_torch",
    "inverse_density",
    "sparsity_grid",
    "importance_vector",
    "exactly_one_active",
    "exactly_one_active_torch",
    "nonzero_counts",
    "streaming_moments",
]


def inverse_density(S) -> np.ndarray:
    """``1 / (1 − S)``, and ``0`` where ``S = 1``: the factor of ``x = max(u − S, 0)/(1 − S)``
    (a feature that is never active stays at zero)."""
    p = 1.0 - check_probability(S, "S")
    return np.where(p > 0, 1.0 / np.where(p > 0, p, 1.0), 0.0)


def _transform_numpy(u: np.ndarray, S: np.ndarray) -> np.ndarray:
    return np.maximum(u - S, 0.0) * inverse_density(S)


def sparse_uniform(T: int, D: int, S=0.0, *, rng: np.random.Generator | int | None = None,
                   n: int | None = None) -> np.ndarray:
    """Draw ``T`` iid samples of the sparse uniform data in float64 (numpy).

    Parameters
    ----------
    T, D : positive integers, number of samples and of features.
    S : sparsity in ``[0, 1]``: a scalar, a per-feature vector of shape ``(D,)``, or,
        with ``n``, an array broadcasting to ``(n, D)``.
    rng : a numpy ``Generator`` or a seed.
    n : when given, a leading axis of independent n: shape
        ``(n, T, D)``; otherwise ``(T, D)``.
    """
    T, D, n = _check_sizes("sparse_uniform", T, D, n, item=8)
    if n is None:
        S = check_probability(S, "S", shape=(D,))
        shape, S_b = (T, D), np.broadcast_to(S, (D,))
    else:
        S = check_probability(S, "S", shape=(n, D))
        shape, S_b = (n, T, D), np.broadcast_to(S, (n, D))[:, None, :]
    rng = as_rng(rng, "rng")
    return _transform_numpy(rng.random(shape), S_b)


def sparse_uniform_torch(T: int, D: int, S=0.0, *, n: int | None = None,
                         generator: torch.Generator | None = None, device=None,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Torch version of :func:`sparse_uniform`, on any device.

    ``S`` may also be a tensor. Shape ``(T, D)``, or ``(n, T, D)`` when
    ``n`` is given (the leading instance axis of the batched trainer).
    """
    from toymodels.environment import choose_device

    T, D, n = _check_sizes("sparse_uniform_torch", T, D, n, item=8)
    device = choose_device(device) if generator is None else generator.device
    if n is None:
        S_np = check_probability(S, "S", shape=(D,))
        shape, S_shape = (T, D), (D,)
    else:
        S_np = check_probability(S, "S", shape=(n, D))
        shape, S_shape = (n, T, D), (n, 1, D)
    S_t = torch.as_tensor(np.broadcast_to(S_np, S_shape[:1] + S_shape[2:]).copy(), dtype=dtype,
                          device=device).reshape(S_shape)
    scale = torch.as_tensor(inverse_density(np.broadcast_to(S_np, S_shape[:1] + S_shape[2:])),
                            dtype=dtype, device=device).reshape(S_shape)
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return (u - S_t).clamp_(min=0).mul_(scale)


def _check_sizes(what: str, T, D, n=None, *, item: int = 8):
    """``T``, ``D`` (and ``n``) as positive ints, refused when the ``(n, T, D)``
    array they describe exceeds :mod:`toymodels.limits`."""
    T = check_int(T, "T", minimum=1)
    D = check_int(D, "D", minimum=1)
    m = 1 if n is None else check_int(n, "n (instances)", minimum=1)
    size = float(m) * T * D
    refuse_if_too_big(f"{what} with T = {T}, D = {D}"
                      + ("" if n is None else f", n = {m}"),
                      memory=2.0 * item * size, work=10.0 * size, advice="draw fewer samples T")
    return T, D, n if n is None else m


def sparsity_grid(n: int, *, low: float = 0.0, high: float = 0.99, log: bool = True) -> np.ndarray:
    """``n`` sparsities from ``low`` to ``high``; with ``log`` the *density* ``1 - S``
    is spaced geometrically, as in the Toy Models sweeps."""
    n = check_int(n, "n", minimum=1)
    refuse_if_too_big(f"sparsity_grid with n = {n}", memory=16.0 * n, work=10.0 * n,
                      advice="ask for fewer points n")
    low = check_float(low, "low", minimum=0.0, maximum=1.0)
    high = check_float(high, "high", minimum=0.0, maximum=1.0)
    if not isinstance(log, bool):
        raise TypeError(f"log must be True or False, got {log!r}")
    if not low <= high:
        raise ValueError(f"low must be <= high, got low={low}, high={high}")
    if not log:
        return np.linspace(low, high, n)
    return 1 - np.geomspace(1 - low, 1 - high, n) if high < 1 else np.linspace(low, high, n)


def importance_vector(ω, D: int, name: str = "ω (importance)") -> np.ndarray:
    """Return the importance weights ``ω`` as a float64 vector of shape ``(D,)``.

    ``ω_i ≥ 0`` weighs feature ``i`` in the loss ``Σ_i ω_i (x_i - x̂_i)²`` (the Toy Models
    paper's ``I_i``; see ``notation.md``). The values are checked by the package's one check of
    ``ω`` (:func:`toymodels._checks.check_importance`); a scalar is broadcast to all features,
    and a vector of the wrong length raises ``ValueError`` naming ``name``.
    """
    D = check_int(D, "D", minimum=1)
    ω = check_importance(ω, name)
    return check_vector(ω, name, D, nonnegative=True, length_name="D")


def _check_one_hot_probabilities(probabilities, D: int) -> np.ndarray:
    if probabilities is None:
        return np.full(D, 1.0 / D)
    q = check_vector(probabilities, "probabilities", D, nonnegative=True)
    if q.sum() <= 0:
        raise ValueError("probabilities must have a positive sum (they are normalised to sum to 1)")
    return q / q.sum()


def exactly_one_active(T: int, D: int, probabilities=None, *,
                       rng: np.random.Generator | int | None = None) -> np.ndarray:
    """``T`` samples with exactly one non-zero feature: points of the skeleton ``Q_1``.

    Feature ``i`` is the active one with probability ``probabilities[i]`` (non-negative,
    normalised to sum to 1; uniform when ``None``) and its value is uniform on ``(0, 1]``
    (``1 - u`` with ``u ~ U[0, 1)``, so it is never exactly zero). This is the law of the
    Section 2.1 data conditioned on lying in ``Q_1`` (the 1-sparse vectors of Section 3.1 of
    the notes) when all features share one sparsity. Shape ``(T, D)``, float64.
    """
    T, D, _ = _check_sizes("exactly_one_active", T, D)
    q = _check_one_hot_probabilities(probabilities, D)
    rng = as_rng(rng, "rng")
    idx = rng.choice(D, size=T, p=q)
    x = np.zeros((T, D))
    x[np.arange(T), idx] = 1.0 - rng.random(T)
    return x


def exactly_one_active_torch(T: int, D: int, probabilities=None, *,
                             generator: torch.Generator | None = None, device=None,
                             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Torch version of :func:`exactly_one_active`, on any device (shape ``(T, D)``)."""
    from toymodels.environment import choose_device

    T, D, _ = _check_sizes("exactly_one_active_torch", T, D)
    q = _check_one_hot_probabilities(probabilities, D)
    device = choose_device(device) if generator is None else generator.device
    q_t = torch.as_tensor(q, dtype=torch.float64, device=device)
    idx = torch.multinomial(q_t, T, replacement=True, generator=generator)
    values = 1 - torch.rand(T, generator=generator, device=device, dtype=dtype)
    x = torch.zeros((T, D), dtype=dtype, device=device)
    x[torch.arange(T, device=device), idx] = values
    return x


def nonzero_counts(x) -> np.ndarray:
    """Number of non-zero entries of each sample: ``l`` such that ``x_t ∈ Q_l`` (notes §3.1).

    ``x`` is a numpy array or torch tensor whose last axis holds the ``D`` features; returns an
    integer numpy array of the leading shape.
    """
    if isinstance(x, torch.Tensor) and not (x.is_complex() or x.dtype == torch.bool):
        if x.ndim < 1:
            raise ValueError(f"x must have a feature axis, got a scalar of shape {tuple(x.shape)}")
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise ValueError("x contains NaN or inf; only finite values are allowed")
        return (x != 0).sum(dim=-1).cpu().numpy()
    x = as_real_array(x, "x", "an array of real numbers with the features on its last axis")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or inf; only finite values are allowed")
    if x.ndim < 1:
        raise ValueError(f"x must have a feature axis, got a scalar of shape {x.shape}")
    return np.count_nonzero(x, axis=-1)


def streaming_moments(T: int, D: int, S=0.0, *, seed: int = 0, chunk_rows: int = 1000,
                      threads: int | None = None, streams: int = 8) -> dict:
    """Draw ``T`` samples of the Section 2.1 data in chunks and keep only per-feature moments.

    For sample sizes whose ``T × D`` matrix does not fit in memory (``10⁷ × 100`` float32 is
    4 GB). ``T × D`` beyond :data:`toymodels.limits.MAX_WORK` is refused up front, ``threads``
    beyond the machine's cores are capped, and the loop can be interrupted (Ctrl-C) at any chunk.
    The rows are split into ``streams`` fixed blocks, each drawn by its own numpy PCG64
    generator (spawned from ``seed``, so the result does not depend on ``threads``) into a
    reused float32 buffer of ``chunk_rows × D`` numbers, transformed in place with one
    uniform per entry, ``x = max(u - S, 0)/(1 - S)``, and reduced to per-feature sums. numpy
    releases the GIL while it fills the buffer, so ``threads`` worker threads run in parallel.

    Returns a dict of float64 arrays of shape ``(D,)``: ``mean`` (estimates ``E x_i``),
    ``second`` (``E x_i²``), ``zero_fraction`` (``P(x_i = 0)``), and the integer ``T``.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FuturesTimeout

    T = check_int(T, "T", minimum=1)
    D = check_int(D, "D", minimum=1)
    chunk_rows = check_int(chunk_rows, "chunk_rows", minimum=1)
    streams = check_int(streams, "streams", minimum=1)
    threads = min(streams, machine_cores()) if threads is None else check_threads(threads, "threads")
    refuse_if_too_big(f"streaming_moments with T = {T}, D = {D}, streams = {streams}",
                      work=4.0 * T * D + 1e4 * streams,
                      memory=4.0 * min(chunk_rows, T) * D * min(threads, streams) + 8.0 * streams,
                      advice="draw fewer samples T (or smaller chunk_rows / streams)")
    S = np.broadcast_to(check_probability(S, "S", shape=(D,)), (D,))
    S32 = S.astype(np.float32)
    scale32 = inverse_density(S).astype(np.float32)
    bounds = np.linspace(0, T, streams + 1).astype(np.int64)
    seeds = np.random.SeedSequence(check_int(seed, "seed", minimum=0)).spawn(streams)

    stop = threading.Event()

    def run(k: int):
        rng = np.random.default_rng(seeds[k])
        buf = np.empty((min(chunk_rows, T), D), dtype=np.float32)
        s1, s2, nz = np.zeros(D), np.zeros(D), np.zeros(D, dtype=np.int64)
        for start in range(bounds[k], bounds[k + 1], chunk_rows):
            if stop.is_set():
                return None
            u = buf[: min(chunk_rows, bounds[k + 1] - start)]
            rng.random(dtype=np.float32, out=u)
            np.subtract(u, S32, out=u)
            np.maximum(u, 0, out=u)
            np.multiply(u, scale32, out=u)
            s1 += u.sum(axis=0, dtype=np.float64)
            s2 += np.einsum("ij,ij->j", u, u, dtype=np.float64)
            nz += np.count_nonzero(u, axis=0)
        return s1, s2, nz

    pool = ThreadPoolExecutor(max_workers=min(threads, streams))
    try:
        futures = [pool.submit(run, k) for k in range(streams)]
        parts = []
        for f in futures:  # wait in short slices so that Ctrl-C reaches this thread at once
            while True:
                try:
                    parts.append(f.result(timeout=0.2))
                    break
                except FuturesTimeout:
                    continue
    except BaseException:
        stop.set()  # the workers return at their next chunk
        raise
    finally:
        pool.shutdown(wait=True)
    s1 = sum(part[0] for part in parts)
    s2 = sum(part[1] for part in parts)
    nz = sum(part[2] for part in parts)
    return {"T": T, "mean": s1 / T, "second": s2 / T, "zero_fraction": 1.0 - nz / T}
