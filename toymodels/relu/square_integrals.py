"""The two-active-feature loss ``L_2`` in closed form, by splitting the unit square into triangles.

On an input ``x = u e_i + v e_j`` with two active features the pre-activation of output ``k`` is
the *linear* function ``f(u, v) = α u + β v + γ`` (``α = ⟨w_k, w_i⟩``, ``β = ⟨w_k, w_j⟩``,
``γ = b_k``), so every term of ``ℓ_ij`` (Chapter 3, eq-ell-i) is an integral over the unit
square ``[0, 1]²`` of ``ReLU(f)²`` or of ``u · ReLU(f)``::

    E(α, β, γ) = ∫∫ ReLU(αu + βv + γ)² du dv,   U(α, β, γ) = ∫∫ u ReLU(αu + βv + γ) du dv
    ∫∫ (u − ReLU(f))² du dv = 1/3 − 2U + E                                   (Chapter 4, eq-square)

The square is the union of the triangles ``T₁ = (0,0), (1,0), (1,1)`` and
``T₂ = (0,0), (1,1), (0,1)`` (area ½ each). On a triangle ``T`` with vertex values ``f_a, f_b,
f_c`` of a linear ``f`` (and ``g_a, g_b, g_c`` of a linear ``g``) the exact integrals are::

    ∫_T f²  = |T|/6  (Σ f_a² + Σ_{a<b} f_a f_b)
    ∫_T g f = |T|/12 (Σ g_a f_a + (Σ g_a)(Σ f_a))                              (eq-triangle)

and ``{f > 0} ∩ T`` is either empty, all of ``T``, the corner triangle at the one vertex ``a``
where ``f > 0`` (the other two corners at ``r_b = f_a/(f_a − f_b)``, ``r_c = f_a/(f_a − f_c)``
along its edges), or ``T`` minus the corner triangle at the one vertex with ``f ≤ 0``. Both
corner integrals are the same expression,
``|T| r_b r_c f_a²/6`` and ``|T| r_b r_c f_a (4 g_a + r_b (g_b − g_a) + r_c (g_c − g_a))/12``,
whose denominators ``f_a − f_b`` are at least ``|f_a|`` when they are used: nothing cancels
catastrophically (unlike the fourth difference of ``ReLU(t)⁴/12`` divided by ``αβ``), and the
formulas are a handful of element-wise operations, differentiable by autograd.

:func:`square_relu_integrals` is the public, checked entry point; the loss on ``l ≤ 2`` built
from it lives in :mod:`toymodels.relu.exact_training`.
"""

from __future__ import annotations

import numpy as np
import torch

from toymodels._checks import check_finite_array

__all__ = ["square_relu_integrals"]

_DT = torch.float64
_ONE_THIRD = 1.0 / 3.0


def _on(mask, fn, *args):
    """``fn(*args)`` where ``mask`` holds and 0 elsewhere, with ``fn`` evaluated on the masked
    elements only (``args`` have ``mask``'s shape; ``fn`` returns a tuple of tensors or
    ``None``). A piece of a piecewise formula that few elements use then costs little, in the
    forward pass and in autograd's backward pass alike."""
    idx = torch.nonzero(mask.reshape(-1))[:, 0]
    vals = fn(*(a.reshape(-1).index_select(0, idx) for a in args))
    zero = torch.zeros(mask.numel(), dtype=_DT)
    return tuple(None if v is None else zero.index_copy(0, idx, v).reshape(mask.shape)
                 for v in vals)


def _corner(fa, fb, fc, ga, gb, gc, sign):
    """``sign`` times the integrals over the corner triangle at vertex ``a`` (area
    ½ · r_b r_c), for the elements that use it (there ``f_a − f_b`` and ``f_a − f_c`` are at
    least ``|f_a|`` and not zero); ``G`` is ``None`` when ``ga`` is."""
    rb = fa / (fa - fb)
    rc = fa / (fa - fc)
    area = 0.5 * rb * rc
    E = area * fa * fa / 6
    if ga is None:
        return sign * E, None
    G = area * fa * (4 * ga + rb * (gb - ga) + rc * (gc - ga)) / 12
    return sign * E, sign * G


def _triangle(f, g, with_g):
    """``∫_T ReLU(f)²`` and ``∫_T g ReLU(f)`` on a triangle of area ½ with vertex values
    ``f = (f_a, f_b, f_c)``, ``g`` (eq-triangle and the corner cases)."""
    fa, fb, fc = f
    pos = [fa > 0, fb > 0, fc > 0]
    npos = pos[0].to(torch.int8) + pos[1].to(torch.int8) + pos[2].to(torch.int8)
    one_pos, two_pos = npos == 1, npos == 2
    full = npos >= 2
    zero = torch.zeros_like(fa)
    E = torch.where(full, (fa * fa + fb * fb + fc * fc + fa * fb + fb * fc + fc * fa) / 12, zero)
    G = None
    if with_g:
        ga, gb, gc = g
        G = torch.where(full, (ga * fa + gb * fb + gc * fc + (ga + gb + gc) * (fa + fb + fc)) / 24,
                        zero)
    else:
        ga = gb = gc = None
    order = ((fa, fb, fc, ga, gb, gc), (fb, fc, fa, gb, gc, ga), (fc, fa, fb, gc, ga, gb))
    for a, args in enumerate(order):
        lone_pos = one_pos & pos[a]
        lone_neg = two_pos & ~pos[a]
        sel = lone_pos | lone_neg
        sign = torch.where(lone_neg, -1.0, 1.0).to(fa.dtype)
        if with_g:
            Ec, Gc = _on(sel, _corner, *args, sign)
            G = G + Gc
        else:
            Ec, _ = _on(sel, lambda fa, fb, fc, sg: _corner(fa, fb, fc, None, None, None, sg),
                        *args[:3], sign)
        E = E + Ec
    return E, G


def _square(α, β, γ, with_u: bool):
    """``E(α, β, γ)`` and (``with_u``) ``U(α, β, γ)`` of eq-square, element-wise (torch)."""
    f00, f10, f01 = γ, γ + α, γ + β
    f11 = f10 + β
    if with_u:
        z, o = torch.zeros_like(γ), torch.ones_like(γ)
        E1, U1 = _triangle((f00, f10, f11), (z, o, o), True)
        E2, U2 = _triangle((f00, f11, f01), (z, o, z), True)
        return E1 + E2, U1 + U2
    E1, _ = _triangle((f00, f10, f11), None, False)
    E2, _ = _triangle((f00, f11, f01), None, False)
    return E1 + E2, None


_TAU = 1e-2  # below b/a = _TAU the fourth difference gives way to Gauss–Legendre on pieces
_GL2 = (0.5 - 0.5 / 3**0.5, 0.5 + 0.5 / 3**0.5)


def _cube(t):
    r = torch.relu(t)
    return r * r * r


def _pow4(t):
    r = torch.relu(t)
    r = r * r
    return r * r


def _inner(a, c, a_safe):
    """``h(c) = ∫_0^1 ReLU(a u + c)² du`` for ``a ≥ 0``: the polynomial ``c² + ac + a²/3``
    where ``c ≥ 0``, ``(a + c)³/(3a)`` where ``−a < c < 0``, zero otherwise."""
    return torch.where(c >= 0, c * c + a * c + a * a / 3, _cube(a + c) / (3 * a_safe))


def _square_relu_sq(α, β, γ):
    """``E(α, β, γ)`` (eq-square), element-wise (torch), by the fourth difference where that is
    accurate and by exact Gauss–Legendre on pieces elsewhere.

    Reflections ``u → 1 − u``, ``v → 1 − v`` make both slopes non-negative and a swap orders
    them, ``a ≥ b ≥ 0`` with offset ``g``. Where ``f ≥ 0`` on the whole square the integral
    is the polynomial ``g² + g(a + b) + (a² + b²)/3 + ab/2``; where ``f ≤ 0``, zero; where the
    kink ``f = 0`` crosses it, ``Δ_a Δ_b F(g)/(ab)`` with ``F(t) = ReLU(t)⁴/12``
    (eq-fourth-difference), whose rounding error is about ``ε a/b`` (``ε (a/b)²`` in its
    gradient). For ``b < τ a`` (``τ = 10⁻²``) the outer integral over ``v`` of ``h(c)``
    (:func:`_inner`, ``c = g + bv``) is done instead by 2-point Gauss–Legendre on the two
    pieces of ``[g, g + b]`` either side of the one kink of ``h`` it can contain (``c = 0`` or
    ``c = −a``, which are ``a > b`` apart): ``h`` is a cubic on each piece, so this is exact.
    """
    a0, b0 = α.abs(), β.abs()
    g = γ + torch.clamp(α, max=0) + torch.clamp(β, max=0)
    a, b = torch.maximum(a0, b0), torch.minimum(a0, b0)
    s = a + b
    poly = g * g + g * s + (a * a + b * b) / 3 + a * b / 2
    mixed = (g < 0) & (g + s > 0)
    wide = mixed & (b > _TAU * a)
    one = torch.ones_like(a)
    ab = torch.where(wide, a * b, one)
    dd = (_pow4(g + s) - _pow4(g + a) - _pow4(g + b)) / (12 * ab)  # F(g) = 0: the kink crosses
    (gl,) = _on(mixed & ~wide, _gauss_legendre, a, b, g)  # zero elsewhere
    return torch.where(g >= 0, poly, torch.where(wide, dd, gl))


def _gauss_legendre(a, b, g):
    """``∫_0^1 h(g + b v) dv`` (:func:`_inner`) by 2-point Gauss–Legendre on the two pieces of
    ``[0, 1]`` either side of the kink of ``h`` at ``v = t``, for ``a > 0``, ``a ≥ b ≥ 0``."""
    gb = g + b
    kink = torch.minimum(torch.maximum(torch.where(gb > 0, torch.zeros_like(g), -a), g), gb)
    t = ((kink - g) / torch.where(b > 0, b, torch.ones_like(b))).clamp(0, 1)  # kink at v = t
    gl = torch.zeros_like(g)
    for lo, width in ((0.0, t), (t, 1 - t)):
        for x in _GL2:
            gl = gl + width * _inner(a, g + b * (lo + x * width), a)
    return (gl / 2,)


def _square_recon(α, β, γ):
    """``∫∫ (u − ReLU(αu + βv + γ))² du dv`` (eq-square), torch, element-wise."""
    E, U = _square(α, β, γ, True)
    return _ONE_THIRD - 2 * U + E


def square_relu_integrals(α, β, γ):
    """``E = ∫∫_{[0,1]²} ReLU(αu + βv + γ)² du dv`` and ``U = ∫∫ u ReLU(αu + βv + γ) du dv``
    in closed form (Chapter 4, eq-square and eq-triangle), element-wise over broadcast arrays.

    ``E`` is the interference a feature with ``⟨w_k, w_i⟩ = α``, ``⟨w_k, w_j⟩ = β``, ``b_k = γ``
    receives from ``x = u e_i + v e_j``; ``1/3 − 2U + E`` is the error of feature ``i`` on that
    input when ``α = ‖w_i‖²``. Returns two numpy float64 arrays.
    """
    arrs = [check_finite_array(x, name) for x, name in ((α, "α"), (β, "β"), (γ, "γ"))]
    try:
        a, b, c = (torch.as_tensor(x) for x in np.broadcast_arrays(*arrs))
    except ValueError as err:
        raise ValueError(f"α {arrs[0].shape}, β {arrs[1].shape} and γ {arrs[2].shape} do not "
                         "broadcast") from err
    E, U = _square(a, b, c, True)
    return E.numpy(), U.numpy()
