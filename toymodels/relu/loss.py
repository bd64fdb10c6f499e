"""The integral loss of the ReLU output model (Section 3.1 of the notes).

The model is ``x ↦ x̂ = ReLU(WᵀW x + b)`` with ``W`` of shape ``(d, D)`` (column ``w_i``
embeds feature ``i``) and an output bias ``b``; the notes write ``ReLU(WᵀWx − b)``, this
package uses the ``+b`` of the Toy Models paper. The loss is the importance-weighted
integral against the law ``μ`` of the sparse uniform data (Section 2.1)::

    L(W, b) = ∫ Σ_k ω_k (x_k − x̂_k)² dμ(x)                      (Section 3.1)

It is a *sum* over features (the Toy Models paper averages over features, so its
learning rates are ``D`` times the ones that give the same dynamics here).

With ``L = Σ_l P(l active) · L_l`` (the skeleta, :mod:`toymodels.tied.skeleta`; ``L_0, L_1,
L_2`` exactly in :mod:`toymodels.relu.integrals`) this module computes

* :func:`model_output`, :func:`pointwise_loss`: the model and the integrand;
* :func:`monte_carlo_loss`: a plain Monte Carlo estimate with its standard error;
* :func:`skeleton_decomposition`: the whole sum, exact for ``l ≤ 2`` and Monte Carlo
  (with standard error) for the tail ``l ≥ 3``, and :func:`one_sparse_error`, the error of the
  1-sparse approximation.

Minimising the exact restricted loss is in :mod:`toymodels.relu.minimize`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toymodels._checks import as_rng, check_finite_array, check_int
from toymodels.limits import refuse_if_too_big
from toymodels.relu.integrals import _L0, _L1, _L2, _check_params, _out
from toymodels.tied.data import importance_vector, sparse_uniform
from toymodels.tied.skeleta import active_count_pmf, sample_given_active_count

__all__ = [
    "model_output",
    "pointwise_loss",
    "MonteCarloEstimate",
    "monte_carlo_loss",
    "SkeletonDecomposition",
    "skeleton_decomposition",
    "one_sparse_error",
]


# ---------------------------------------------------------------------------------------
# the model and plain Monte Carlo
# ---------------------------------------------------------------------------------------
def model_output(W, b, x):
    """``x̂ = ReLU(WᵀW x + b)`` for a batch ``x`` of shape ``(T, D)`` (numpy float64).

    The model of Section 3.1 of the notes (with the Toy Models sign of the bias).
    """
    W = check_finite_array(W, "W", ndim=2)
    b = check_finite_array(b, "b", ndim=1)
    x = check_finite_array(x, "x", ndim=2)
    if b.shape[0] != W.shape[1] or x.shape[1] != W.shape[1]:
        raise ValueError(f"W {W.shape}, b {b.shape} and x {x.shape} disagree on the number "
                         "of features")
    return np.maximum(x @ (W.T @ W) + b, 0.0)  # WᵀW is symmetric: (WᵀWx)ᵀ = xᵀWᵀW


def pointwise_loss(W, b, ω, x):
    """``Σ_k ω_k (x_k − x̂_k)²`` for each row of ``x`` (the integrand of Section 3.1)."""
    x = check_finite_array(x, "x", ndim=2)
    x̂ = model_output(W, b, x)
    return ((x - x̂) ** 2) @ importance_vector(ω, x.shape[1])


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo estimate ``mean ± se`` from ``T`` samples."""

    mean: float
    se: float
    T: int

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.se:.2g}"


def monte_carlo_loss(W, b, ω, S, T: int = 200_000, *, rng=None) -> MonteCarloEstimate:
    """Monte Carlo estimate of the integral loss (Section 3.1) with its standard error.

    Draws ``T`` points from ``μ`` (:func:`toymodels.tied.data.sparse_uniform`), in chunks so the
    memory stays below ~50 MB whatever ``T``; ``se = std / √T``.
    """
    W, b, ω, S = (t.numpy() for t in _check_params(W, b, ω, S))
    if W.ndim != 2:
        raise ValueError("monte_carlo_loss takes one instance: W of shape (d, D)")
    T = check_int(T, "T", minimum=2)
    D, d = W.shape[1], W.shape[0]
    refuse_if_too_big(f"monte_carlo_loss with T = {T} samples, D = {D}",
                      work=float(T) * D * (d + 10), advice="draw fewer samples T")
    rng = as_rng(rng, "rng")
    chunk = max(1, 2**21 // D)
    s1 = s2 = 0.0
    done = 0
    while done < T:
        n = min(chunk, T - done)
        vals_l = pointwise_loss(W, b, ω, sparse_uniform(n, D, S, rng=rng))
        s1 += vals_l.sum()
        s2 += (vals_l**2).sum()
        done += n
    mean = s1 / T
    var = max(s2 / T - mean**2, 0.0) * T / (T - 1)
    return MonteCarloEstimate(float(mean), float(math.sqrt(var / T)), T)


@dataclass(frozen=True)
class SkeletonDecomposition:
    """``L = Σ_l P_l L_l``: the weights ``P`` (``l = 0..D``), the exact ``L_0, L_1, L_2``, the
    Monte Carlo tail ``Σ_{l≥3} P_l L_l`` with its standard error, and the total."""

    P: np.ndarray
    L_exact: np.ndarray
    tail: float
    tail_se: float
    L_tail_mc: np.ndarray  # conditional means L_l for l ≥ 3 from the tail sample (nan if unseen)

    @property
    def total(self) -> float:
        return float(self.P[: len(self.L_exact)] @ self.L_exact + self.tail)

    @property
    def beyond_one_sparse(self) -> float:
        """``Σ_{l≥2} P_l L_l``: the part of the loss that the 1-sparse approximation leaves out."""
        return float(self.P[2 : len(self.L_exact)] @ self.L_exact[2:] + self.tail)

    @property
    def total_se(self) -> float:
        return self.tail_se


def skeleton_decomposition(W, b, ω, S, T_tail: int = 100_000, *, rng=None) -> SkeletonDecomposition:
    """The exact decomposition of the integral loss over the skeleta (Section 3.1 of the notes).

    ``L = Σ_{l=0}^{D} P(l active) · L_l``. ``L_0, L_1, L_2`` are exact; the tail
    ``Σ_{l≥3} P_l L_l = P(l≥3) · E[loss | l≥3]`` is estimated from ``T_tail`` samples drawn
    *conditionally on l ≥ 3* (so no sample is wasted on the skeleta done exactly).
    """
    W, b, ω, S = _check_params(W, b, ω, S)
    if W.ndim != 2:
        raise ValueError("skeleton_decomposition takes one instance: W of shape (d, D)")
    D = W.shape[1]
    Sn = S.numpy()
    P = active_count_pmf(Sn)
    L = [_out(_L0(b, ω))]
    if D >= 1 and P[1] > 0:
        L.append(_out(_L1(W, b, ω, Sn)))
    elif D >= 1:
        L.append(0.0)
    if D >= 2:
        L.append(_out(_L2(W, b, ω, Sn)) if P[2] > 0 else 0.0)
    L_exact = np.array(L)
    L_tail = np.full(D + 1, np.nan)
    tail = tail_se = 0.0
    p_tail = P[3:].sum()
    T_tail = check_int(T_tail, "T_tail", minimum=2)
    refuse_if_too_big(f"skeleton_decomposition with T_tail = {T_tail}, D = {D}",
                      work=30.0 * T_tail * D, memory=40.0 * T_tail * D,
                      advice="draw fewer tail samples T_tail")
    if D >= 3 and p_tail > 0:
        rng = as_rng(rng, "rng")
        counts = rng.multinomial(T_tail, P[3:] / p_tail)
        Wn, bn, ωn = W.numpy(), b.numpy(), ω.numpy()
        vals = []
        for l, n in enumerate(counts, start=3):
            if n == 0:
                continue
            vals_l = pointwise_loss(Wn, bn, ωn, sample_given_active_count(n, Sn, l, rng=rng))
            L_tail[l] = vals_l.mean()
            vals.append(vals_l)
        vals = np.concatenate(vals)
        tail = float(p_tail * vals.mean())
        tail_se = float(p_tail * vals.std(ddof=1) / math.sqrt(len(vals)))
    return SkeletonDecomposition(P, L_exact, tail, tail_se, L_tail)


def one_sparse_error(W, b, ω, S, T_tail: int = 100_000, *, rng=None):
    """The error of the 1-sparse approximation: ``L − (P_0 L_0 + P_1 L_1) = Σ_{l≥2} P_l L_l``.

    Returns ``(error, relative error, standard error)``; the part ``l = 2`` is exact, the tail
    ``l ≥ 3`` Monte Carlo (see :func:`skeleton_decomposition`).
    """
    dec = skeleton_decomposition(W, b, ω, S, T_tail, rng=rng)
    err, total = dec.beyond_one_sparse, dec.total
    return err, (err / total if total > 0 else 0.0), dec.tail_se
