"""The block loss ``B_k`` of a regular k-gon and its certified critical points (Chapter 4).

A regular k-gon of radius ``r`` and bias ``b`` in ``d = 2`` hidden dimensions, equal importance:
the 1-sparse loss (``S is None``) of its ``k`` features, summed over the ``k`` inputs of the k-gon,
is the *block loss*

    B_k(r², b) = ∫(u − ReLU(r²u + b))² du + Σ_{m=1}^{k−1} ∫ReLU(r²u cos(2πm/k) + b)² du

(Chapter 4, eq-block). For ``k ≤ 4`` its minimum is ``0`` at ``r = 1, b = 0`` (on a kink). For
``k ≥ 5`` the critical points of ``B_k`` have ``b < 0``; in each ReLU regime (``p`` active
neighbours on each side) ``∇B_k = 0`` is a rational system in ``(a, b) = (r², b)``, solved here
by multistart Newton, polished in 50-digit arithmetic (mpmath) and *certified* by the Krawczyk
test in interval arithmetic: a box of radius ``CERT_RADIUS`` around the root provably contains
exactly one zero of ``∇B_k`` and no change of the ReLU pattern.

:mod:`toymodels.relu.kgons` builds the critical points of the whole model from these roots.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np

from toymodels._checks import check_finite_array, check_int
from toymodels.relu import integrals as rl

__all__ = ["CERT_RADIUS", "MAX_K", "BlockRoot", "RootWarning", "block_loss", "kgon_block_roots"]

#: Radius of the interval box in which each root of ``∇B_k`` is certified (in ``(r², b)``).
CERT_RADIUS = 1e-20
#: The largest ``k`` whose block roots are searched (cost grows like ``k²`` per Newton start).
MAX_K = 40
_DPS = 50
#: The search region for roots of ``∇B_k``: ``0 < r² < _A_MAX`` (``−r² < b < 0`` by the regime).
_A_MAX = 100.0


class RootWarning(UserWarning):
    """A stationarity equation was solved, but not to the requested tolerance."""


def block_loss(k: int, r, b):
    """``B_k(r², b) = ∫(u − ReLU(r²u + b))² du + Σ_{m=1}^{k−1} ∫ReLU(r²u cos(2πm/k) + b)² du``
    (Chapter 4, eq-block): the 1-sparse loss of one k-gon feature's *output*, summed over the
    k inputs of the k-gon (elementwise in ``r``, ``b``). Uses ``relu_loss``'s closed forms."""
    k = check_int(k, "k", minimum=2, maximum=10_000)
    for name, val in (("r", r), ("b", b)):
        if isinstance(val, bool) or np.asarray(val).dtype == bool:
            raise TypeError(f"{name} must be a real number or array, got a bool")
    r = np.asarray(check_finite_array(r, "r"))
    b = np.asarray(check_finite_array(b, "b"))
    a = r**2
    cs = np.cos(2 * np.pi * np.arange(1, k) / k)
    a_, b_ = np.broadcast_arrays(a, b)
    inter = rl.relu_sq_integral(a_[..., None] * cs, b_[..., None]).sum(-1)
    out = rl.recon_sq_integral(a_, b_) + inter
    return out[()] if isinstance(out, np.ndarray) else out


# ---------------------------------------------------------------------------------------
# the exact block equations (S is None, b < 0) and their certification
# ---------------------------------------------------------------------------------------
@functools.cache
def _block_pieces():
    """Value, gradient and Hessian in ``(a, b) = (r², b)`` of the two pieces of ``B_k`` in the
    regime ``−a < b < 0``: the reconstruction ``R(a, b)`` and one active neighbour
    ``g(a, b; c) = 2 (ac + b)³ / (3ac)`` (both neighbours ``±m``). Symbolic (sympy), compiled
    for floats, for mpmath numbers and for mpmath intervals."""
    import sympy as sp

    a, b, c = sp.symbols("a b c")
    t = -b / a
    R = t**3 / 3 + (1 - a) ** 2 * (1 - t**3) / 3 - (1 - a) * b * (1 - t**2) + b**2 * (1 - t)
    g = 2 * (a * c + b) ** 3 / (3 * a * c)
    out = {}
    for name, e in (("R", R), ("g", g)):
        grad = [sp.diff(e, v) for v in (a, b)]
        hess = [[sp.diff(gv, v) for v in (a, b)] for gv in grad]
        exprs = [e, *grad, *hess[0], *hess[1]]
        args = (a, b, c)
        out[name] = {
            "np": sp.lambdify(args, exprs, modules="numpy"),
            "mp": sp.lambdify(args, exprs, modules="mpmath"),
            "iv": sp.lambdify(args, exprs, modules=[{"mpf": mp.iv.mpf}, "mpmath"]),
        }
    return out


def _block_eval(kind, a, b, cs):
    """``(B, ∇B, ∇²B)`` of the regime whose active neighbour cosines are ``cs``."""
    P = _block_pieces()
    v = list(P["R"][kind](a, b, 0))
    for c in cs:
        w = P["g"][kind](a, b, c)
        v = [x + y for x, y in zip(v, w, strict=True)]
    return v[0], v[1:3], [v[3:5], v[5:7]]


def _regime_ok(a, b, cs, p, strict=True):
    """Whether ``(a, b)`` (floats or intervals) lies in regime ``p``; intervals must be certain."""
    def pos(x):
        return x.a > 0 if isinstance(x, mp.ctx_iv.ivmpf) else x > 0

    conds = [pos(a), pos(-b), pos(a + b)]
    conds += [pos(a * c + b) for c in cs[:p]] + [pos(-(a * c + b)) for c in cs[p:]]
    return all(conds)


@dataclass(frozen=True)
class BlockRoot:
    """A critical point ``(r, b)`` of the block loss ``B_k`` with ``b < 0`` (``S is None``):
    ``p`` active neighbours on each side, ``B`` the block loss, ``residual`` ``|∇B|`` at the
    50-digit root, ``certified`` whether the Krawczyk test proved a unique root within
    ``CERT_RADIUS``, ``hessian_eigs`` the eigenvalues of ``∇²B`` in ``(a, b)``."""

    k: int
    r: float
    b: float
    p: int
    B: float
    residual: float
    certified: bool
    hessian_eigs: tuple[float, float]
    a_mp: str = field(repr=False, default="")
    b_mp: str = field(repr=False, default="")


def _cos_mp(k, m):
    return mp.cos(2 * mp.pi * m / k)


def _krawczyk(k, p, a0, b0, radius):
    """Krawczyk test for ``∇B_k = 0`` on the box ``[a0 ± ρ] × [b0 ± ρ]`` in regime ``p``."""
    iv = mp.iv
    old = iv.dps
    iv.dps = _DPS
    try:
        return _krawczyk_box(k, p, a0, b0, radius, iv)
    finally:
        iv.dps = old


def _krawczyk_box(k, p, a0, b0, radius, iv):
    with mp.workdps(_DPS):
        half = (k - 1) // 2
        cs_iv = [iv.cos(2 * iv.pi * m / k) for m in range(1, half + 1)]
        cs_mp = [_cos_mp(k, m) for m in range(1, half + 1)]
        A = iv.mpf([a0 - radius, a0 + radius])
        Bv = iv.mpf([b0 - radius, b0 + radius])
        if not _regime_ok(A, Bv, cs_iv, p):
            return False
        Y = mp.matrix(_block_eval("mp", a0, b0, cs_mp[:p])[2]) ** -1
        g0 = _block_eval("iv", iv.mpf(a0), iv.mpf(b0), cs_iv[:p])[1]
        JX = _block_eval("iv", A, Bv, cs_iv[:p])[2]
        X = [A, Bv]
        x0 = [iv.mpf(a0), iv.mpf(b0)]
        Yi = [[iv.mpf(Y[i, j]) for j in range(2)] for i in range(2)]
        K = []
        for i in range(2):
            val = x0[i] - sum(Yi[i][j] * g0[j] for j in range(2))
            for j in range(2):
                M = (1 if i == j else 0) - sum(Yi[i][m] * JX[m][j] for m in range(2))
                val = val + M * (X[j] - x0[j])
            K.append(val)
        return all(K[i].a > X[i].a and K[i].b < X[i].b for i in range(2))


def _newton_mp(k, p, a0, b0):
    half = (k - 1) // 2
    with mp.workdps(_DPS):
        cs = [_cos_mp(k, m) for m in range(1, half + 1)]
        x = mp.matrix([mp.mpf(a0), mp.mpf(b0)])
        for _ in range(60):
            _, g, J = _block_eval("mp", x[0], x[1], cs[:p])
            step = mp.lu_solve(mp.matrix(J), mp.matrix(g))
            x = x - step
            if mp.norm(step) < mp.mpf(10) ** (-_DPS + 5):
                break
        Bv, g, J = _block_eval("mp", x[0], x[1], cs[:p])
        ok = _regime_ok(x[0], x[1], cs, p)
        return x[0], x[1], Bv, mp.norm(mp.matrix(g)), mp.matrix(J), ok


@functools.cache
def _block_roots_cached(k: int) -> tuple[BlockRoot, ...]:
    half = (k - 1) // 2
    cs = np.cos(2 * np.pi * np.arange(1, half + 1) / k)
    found: list[BlockRoot] = []
    for p in range(0, half + 1):
        # float64 multistart Newton on the regime's equations (all starts at once), then
        # 50-digit polishing of each distinct root that lies in the regime
        a, b = np.meshgrid(np.geomspace(0.3, 12.0, 9), np.linspace(0.05, 0.95, 7))
        a, b = a.ravel(), -(b * a).ravel()
        with np.errstate(all="ignore"):
            for _ in range(40):
                _, (ga, gb), ((Jaa, Jab), (Jba, Jbb)) = _block_eval("np", a, b, cs[:p])
                det = Jaa * Jbb - Jab * Jba
                a, b = a - (Jbb * ga - Jab * gb) / det, b - (Jaa * gb - Jba * ga) / det
                a = np.where(a > 0, a, np.nan)
            _, (ga, gb), _ = _block_eval("np", a, b, cs[:p])
        a_all, b_all = a, b
        conv = (np.isfinite(a) & np.isfinite(b) & (a < _A_MAX) & (np.hypot(ga, gb) < 1e-10))
        for a, b in zip(a_all[conv], b_all[conv], strict=True):
            if not _regime_ok(a, b, list(cs), p):
                continue
            if any(abs(fr.r**2 - a) < 1e-8 and abs(fr.b - b) < 1e-8 for fr in found):
                continue
            am, bm, Bm, res, Jm, ok = _newton_mp(k, p, a, b)
            if not ok:
                continue
            cert = _krawczyk(k, p, am, bm, mp.mpf(CERT_RADIUS))
            eig = np.linalg.eigvalsh(np.array(Jm.tolist(), dtype=float))
            found.append(BlockRoot(k, float(mp.sqrt(am)), float(bm), p, float(Bm), float(res),
                                   bool(cert), (float(eig[0]), float(eig[1])),
                                   mp.nstr(am, 40), mp.nstr(bm, 40)))
    return tuple(sorted(found, key=lambda fr: fr.B))


def kgon_block_roots(k: int) -> list[BlockRoot]:
    """Every critical point ``(r, b)`` with ``b < 0`` of the block loss ``B_k`` (``S is None``),
    sorted by ``B``: found by multistart Newton in each ReLU regime (``r < 10``), polished to 50 digits and
    certified (Krawczyk). For ``k ≤ 4`` there are none (the minimum ``B = 0`` is at
    ``r = 1, b = 0``, on a kink)."""
    k = check_int(k, "k", minimum=2, maximum=MAX_K)
    roots = list(_block_roots_cached(k))
    for fr in roots:
        if not fr.certified:
            warnings.warn(f"the root r = {fr.r:.6f}, b = {fr.b:.6f} of the k = {k} block equations "
                          f"was not certified (residual {fr.residual:.2e})", RootWarning, stacklevel=2)
    return roots
