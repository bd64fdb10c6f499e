"""Symmetric configurations in three hidden dimensions and tegum products (Chapter 4).

A configuration is a set of unit directions ``x_i ∈ ℝ^m`` (the features' directions), scaled by
a common norm ``r`` and given a common bias ``b``: ``W = r Xᵀ``, ``b_i = b``. When the symmetry
group of the polytope acts transitively on its vertices, this two-parameter family (plus the
shape parameters the symmetry leaves free) is the fixed-point set of the group, so its critical
points are critical points of the whole loss (symmetric criticality, Chapter 4).

**Tegum products.** If the features split into groups that span mutually orthogonal subspaces,
the output of a feature in group ``G`` is ``ReLU(Σ_{i ∈ G} ⟨w_k, w_i⟩ x_i + b_k)``: it depends
only on the inputs of its own group. The expected loss (eq-integral-loss) is therefore exactly
the *sum* of the losses of the groups, each an ``n_G``-feature model in ``m_G`` dimensions at
the same sparsity, whatever the total number of features; a dropped feature adds the loss of
its best constant, ``(1 − S)/3 − (1 − S)²/4``. :func:`saving_per_dimension` turns this into
the comparison that decides which factor a large model should use.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from toymodels._checks import as_real_array, as_rng, check_finite_array, check_float, check_int
from toymodels.relu import integrals as rl
from toymodels.relu.kgon_blocks import RootWarning
from toymodels.relu.landscape import _value_grad_hess
from toymodels.relu.minimize import two_in_one_candidates

__all__ = [
    "POLYTOPES",
    "polytope_directions",
    "PolytopeCriticalPoint",
    "polytope_critical_point",
    "dropped_feature_loss",
    "FullLossMinimum",
    "full_loss_minimum",
    "saving_per_dimension",
]

_DT = torch.float64


def _polygon(k):
    def f(shape):
        θ = 2 * math.pi * torch.arange(k, dtype=_DT) / k
        return torch.stack([torch.cos(θ), torch.sin(θ)], 1)
    return f


def _tetrahedron(shape):
    X = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=_DT)
    return X / math.sqrt(3)


def _octahedron(shape):
    return torch.cat([torch.eye(3, dtype=_DT), -torch.eye(3, dtype=_DT)])


def _antiprism(shape):
    z = torch.tanh(shape[0])  # the height of the two squares, in (−1, 1)
    ρ = torch.sqrt(1 - z**2)
    rows = []
    for j in range(8):
        φ = math.pi * j / 4
        s = 1.0 if j % 2 == 0 else -1.0  # alternate squares, twisted by 45°
        rows.append(torch.stack([ρ * math.cos(φ), ρ * math.sin(φ), s * z]))
    return torch.stack(rows)


def _icosahedron(shape):
    φ = (1 + math.sqrt(5)) / 2
    V = []
    for a in (-1, 1):
        for c in (-φ, φ):
            V += [[0, a, c], [a, c, 0], [c, 0, a]]
    X = torch.tensor(V, dtype=_DT)
    return X / X.norm(dim=1, keepdim=True)


def _triangle_digon(shape):
    T = torch.cat([_polygon(3)(shape), torch.zeros(3, 1, dtype=_DT)], 1)
    Dg = torch.tensor([[0, 0, 1], [0, 0, -1]], dtype=_DT)
    return torch.cat([T, Dg])


#: name → (features n, dimensions m, builder of the unit directions (n, m), number of shape
#: parameters, orbits). ``triangle⊕digon`` (the triangular bipyramid) has two orbits, each with
#: its own norm and bias.
POLYTOPES = {
    "dedicated": (1, 1, lambda s: torch.ones(1, 1, dtype=_DT), 0, (1,)),
    "digon": (2, 1, lambda s: torch.tensor([[1.0], [-1.0]], dtype=_DT), 0, (2,)),
    "triangle": (3, 2, _polygon(3), 0, (3,)),
    "pentagon": (5, 2, _polygon(5), 0, (5,)),
    "hexagon": (6, 2, _polygon(6), 0, (6,)),
    "tetrahedron": (4, 3, _tetrahedron, 0, (4,)),
    "octahedron": (6, 3, _octahedron, 0, (6,)),
    "square antiprism": (8, 3, _antiprism, 1, (8,)),
    "icosahedron": (12, 3, _icosahedron, 0, (12,)),
    "triangle⊕digon": (5, 3, _triangle_digon, 0, (3, 2)),
}


def _check_name(name):
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {sorted(POLYTOPES)}, got {type(name).__name__}")
    if name not in POLYTOPES:
        raise ValueError(f"name must be one of {sorted(POLYTOPES)}, got {name!r}")
    return name


def _check_S(S):
    S = check_float(S, "S (sparsity)", minimum=0.0, maximum=1.0)
    if not 0 < S < 1:
        raise ValueError(f"S (sparsity) must lie strictly between 0 and 1, got {S:g}")
    return S


def polytope_directions(name: str, shape=()) -> np.ndarray:
    """The unit directions ``X`` of shape ``(n, m)`` of a configuration in :data:`POLYTOPES`."""
    name = _check_name(name)
    arr = as_real_array(shape, "shape", "a sequence of real numbers")
    s = torch.as_tensor(check_finite_array(arr, "shape").reshape(-1), dtype=_DT)
    if s.numel() != POLYTOPES[name][3]:
        raise ValueError(f"shape must have {POLYTOPES[name][3]} entries for {name!r}, got {s.numel()}")
    return POLYTOPES[name][2](s).numpy()


def _Wb(name, v):
    n, m, build, n_shape, orbits = POLYTOPES[name]
    n_orb = len(orbits)
    r, b, shape = v[:n_orb], v[n_orb : 2 * n_orb], v[2 * n_orb :]
    X = build(shape)
    rr = torch.cat([r[o].expand(c) for o, c in enumerate(orbits)])
    bb = torch.cat([b[o].expand(c) for o, c in enumerate(orbits)])
    return (X * rr[:, None]).T, bb


def _loss(name, S, l_max):
    """The l ≤ ``l_max`` loss as a function of the family's parameters ``v`` (weights computed once)."""
    n = POLYTOPES[name][0]
    loss = rl._loss_closure(n, S, torch.ones(n, dtype=_DT), l_max)
    return lambda v: loss(*_Wb(name, v))


@dataclass(frozen=True)
class PolytopeCriticalPoint:
    """A critical point of the l ≤ ``l_max`` loss of an ``n``-feature model in ``m`` dimensions
    on the symmetric family of a configuration: norms ``r`` and biases ``b`` (one per orbit),
    ``shape`` parameters, the loss and the norm of its gradient over all ``(m + 1) n``
    parameters."""

    name: str
    n: int
    m: int
    S: float
    r: tuple
    b: tuple
    shape: tuple
    loss: float
    grad_norm: float
    W: np.ndarray
    bias: np.ndarray

    @property
    def fraction(self) -> float:
        """Dimensions per feature, ``m / n``."""
        return self.m / self.n


def polytope_critical_point(name: str, S, *, l_max: int = 2) -> PolytopeCriticalPoint:
    """Minimise the l ≤ ``l_max`` loss (``relu_loss.restricted_loss``, ``ω = 1``) over the
    symmetric family of ``name`` (L-BFGS from ``r = 1, b = −0.1``, then Newton to a gradient
    below ``1e-13``); ``grad_norm`` is then checked over all parameters, and a
    :class:`~toymodels.relu.kgon_blocks.RootWarning` with it is issued when it exceeds ``1e-10``
    (the point is then not a certified critical point)."""
    name = _check_name(name)
    S = _check_S(S)
    l_max = check_int(l_max, "l_max", minimum=1, maximum=2)
    from scipy.optimize import minimize

    n, m, _, n_shape, orbits = POLYTOPES[name]
    n_orb = len(orbits)
    f = _loss(name, S, l_max)

    def fg(x):
        v = torch.as_tensor(x, dtype=_DT).requires_grad_()
        L = f(v)
        (g,) = torch.autograd.grad(L, v)
        return float(L.detach()), g.numpy()

    x0 = np.r_[np.full(n_orb, 1.0), np.full(n_orb, -0.1), np.full(n_shape, 0.4)]
    x = minimize(fg, x0, jac=True, method="L-BFGS-B",
                 options=dict(ftol=1e-15, gtol=1e-8, maxiter=1000)).x
    for _ in range(10):  # Newton polish on the reduced parameters
        _, g, H = _value_grad_hess(f, torch.as_tensor(x, dtype=_DT))
        if np.linalg.norm(g) < 1e-13:
            break
        try:
            x = x - np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
    v = torch.as_tensor(x, dtype=_DT)
    W, b = _Wb(name, v)
    Wt, bt = W.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    ω = torch.ones(n, dtype=_DT)
    L = rl._restricted(Wt, bt, ω, torch.full((n,), S, dtype=_DT), l_max)
    gW, gb = torch.autograd.grad(L, (Wt, bt))
    gn = float(torch.sqrt((gW**2).sum() + (gb**2).sum()))
    if not gn <= 1e-10:
        warnings.warn(f"{name} at S = {S:g}: gradient norm {gn:.2e} > 1e-10 after Newton on the "
                      "symmetric family; not a certified critical point", RootWarning, stacklevel=2)
    return PolytopeCriticalPoint(name, n, m, S, tuple(map(float, x[:n_orb])),
                                 tuple(map(float, x[n_orb : 2 * n_orb])),
                                 tuple(map(float, x[2 * n_orb :])), float(L.detach()), gn,
                                 Wt.detach().numpy(), bt.detach().numpy())


def dropped_feature_loss(S):
    """The loss of a dropped feature whose output is its best constant ``(1 − S)/2``:
    ``Var x_i = (1 − S)/3 − (1 − S)²/4`` (Chapter 3's "feature 2 only" candidate)."""
    return two_in_one_candidates(1.0, S, optimise=False)["feature 2"]


@dataclass(frozen=True)
class FullLossMinimum:
    """The best member of a configuration's symmetric family for the *full* loss: parameters
    ``x = (r per orbit, b per orbit, shape)`` fitted on one Monte Carlo sample of size ``T``, and
    the loss re-estimated on an independent sample (``loss ± se``, unbiased for that ``x``)."""

    name: str
    S: float
    x: tuple
    loss: float
    se: float


def _full_loss_t(name, v, x):
    W, b = _Wb(name, v)
    out = torch.relu(x @ (W.T @ W) + b)  # W.T @ W is symmetric: x Wᵀ W = (WᵀW x)ᵀ
    return ((x - out) ** 2).sum(-1)


def full_loss_minimum(name: str, S, *, T: int = 200_000, rng=0) -> FullLossMinimum:
    """Minimise the full loss (eq-integral-loss, ``ω = 1``) over the symmetric family of ``name``
    by sample-average approximation: L-BFGS on a fixed sample of ``T`` inputs (common random
    numbers), started at the l ≤ 2 critical point; then an independent sample of ``T`` inputs
    estimates the loss with its standard error. ``T ≤ 2·10⁶``."""
    name = _check_name(name)
    S = _check_S(S)
    T = check_int(T, "T", minimum=100, maximum=2_000_000)
    if rng is None:
        raise TypeError("rng must be a seed (an int >= 0) or a numpy Generator, not None: the "
                        "fit and the estimate must be reproducible")
    rng = as_rng(rng, "rng")
    from scipy.optimize import minimize

    from toymodels.tied.data import sparse_uniform

    n = POLYTOPES[name][0]
    start = polytope_critical_point(name, S)
    x0 = np.r_[start.r, start.b, start.shape]
    fit = torch.as_tensor(sparse_uniform(T, n, S, rng=rng))

    def fg(xv):  # the sample's part of the gradient by hand (dL/dG = xᵀR, dL/db = Σ R), the
        # family's part by autograd: no autograd graph over the T × n sample, same numbers
        v = torch.as_tensor(xv, dtype=_DT).requires_grad_()
        W, b = _Wb(name, v)
        G = W.T @ W
        with torch.no_grad():
            Z = torch.addmm(b, fit, G)
            E = torch.relu(Z) - fit
            R = torch.where(Z > 0, E, 0.0) * (2 / T)
            L = float((E * E).sum()) / T
        (g,) = torch.autograd.grad((G, b), v, (fit.T @ R, R.sum(0)))
        return L, g.numpy()

    xopt = minimize(fg, x0, jac=True, method="L-BFGS-B", options=dict(maxiter=300)).x
    test = torch.as_tensor(sparse_uniform(T, n, S, rng=rng))
    with torch.no_grad():
        vals = _full_loss_t(name, torch.as_tensor(xopt, dtype=_DT), test).numpy()
    return FullLossMinimum(name, S, tuple(map(float, xopt)), float(vals.mean()),
                           float(vals.std(ddof=1) / math.sqrt(T)))


def saving_per_dimension(name: str, S, *, T: int = 200_000, rng=0):
    """``(n · Var x − L_G) / m``: the loss a factor saves, per hidden dimension it uses, compared
    with dropping its ``n`` features (``Var x`` from :func:`dropped_feature_loss`); ``L_G`` is the
    full loss of the best member of the factor's symmetric family (:func:`full_loss_minimum`).
    Returns ``(saving, standard error)``."""
    best = full_loss_minimum(name, S, T=T, rng=rng)
    n, m = POLYTOPES[name][:2]
    return (n * float(dropped_feature_loss(S)) - best.loss) / m, best.se / m
