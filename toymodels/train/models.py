"""The three toy autoencoders of the notes, batched over a leading instance axis.

Every array carries a leading axis of ``n`` independent *instances* (models trained side by
side), then the batch axis ``T`` and the feature axis ``D``. With ``d`` hidden dimensions:

=========  ============================  ==================================  ===============
model      map                           parameters (shapes)                 notes
=========  ============================  ==================================  ===============
linear     ``x ↦ A B x``                 ``A (n, D, d)``, ``B (n, d, D)``    Section 1, (19)
tied       ``x ↦ Wᵀ W x``                ``W (n, d, D)``                     Section 2.2
relu       ``x ↦ ReLU(Wᵀ W x + b)``      ``W (n, d, D)``, ``b (n, D)``       Section 3.1
=========  ============================  ==================================  ===============

The columns ``w_i`` of ``W`` embed feature ``i``, as in the notes. The notes write the bias of
the ReLU model as ``- b``; the Toy Models paper and this package write ``+ b`` (a sign
convention). The loss of each instance is the importance-weighted mean squared error

    ``L = (1/T) Σ_t Σ_i ω_i (x_ti − x̂_ti)²``,

a Monte Carlo estimate of ``∫ ‖x − x̂‖²_ω dμ`` (Section 3.1); with ``ω = 1`` and the sum over
the batch instead of the mean it is the notes' ``L`` of Section 1.

Gradients are derived by hand (no autograd graph) and batched with ``torch.bmm``. With the
residual ``R = X̂ − X`` written row-wise (a batch is a ``(T, D)`` matrix ``X`` whose rows are
the ``x_t``) and ``c_i = 2 ω_i / T``:

* linear, ``H = X Bᵀ``, ``X̂ = H Aᵀ``: ``∂L/∂A = (Rᵀ H) ⊙ c`` (rows scaled),
  ``∂L/∂B = (R (c ⊙ A))ᵀ X``. In the notes' notation (``ω = 1``, sums over the data instead
  of means) this is (19): ``∂L/∂B = −2(AᵀΣ − AᵀABΣ)``, ``∂L/∂A = −2(ΣBᵀ − ABΣBᵀ)``.
* tied, ``H = X Wᵀ``, ``X̂ = H W``: ``∂L/∂W = (Hᵀ R) ⊙ c + (R (W ⊙ c)ᵀ)ᵀ X`` — the sum of the
  decoder and encoder gradients of (19) at ``A = Wᵀ, B = W`` (chain rule): the true gradient
  of the tied loss, which is *not* the flow (22) of the notes unless ``WᵀW`` commutes with
  ``Σ``.
* relu, ``P = H W + b``, ``X̂ = ReLU(P)``: with the masked residual ``G = R ⊙ 1[P > 0]``,
  ``∂L/∂b = c ⊙ Σ_t G_t``, ``∂L/∂W = (Hᵀ G) ⊙ c + (G (W ⊙ c)ᵀ)ᵀ X``.

The importance weights and the ``2/T`` factor are folded into the small ``(n, d, D)`` matrices,
never into the large ``(n, T, D)`` tensors. Each instance's gradient depends only on that
instance's parameters and data.

**The registry.** Each model is one small class (:class:`Linear`, :class:`Tied`,
:class:`ReLU`, subclasses of :class:`ToyModel`): its parameter shapes, forward pass and
hand-derived loss-and-gradient. :data:`MODELS` maps a model's name to its instance; everything
else in the package (the config's check of ``model``, the initialisation, the trainer, the
reference loop, results files) goes through it. Adding a model is one new class here, decorated
with :func:`register`, and its test in ``tests/test_models.py`` (fused gradient = autograd).
"""

from __future__ import annotations

import math

import torch

from toymodels import limits
from toymodels._checks import as_real_tensor, check_float, check_importance, check_int

__all__ = ["MODELS", "ToyModel", "Linear", "Tied", "ReLU", "register", "param_shapes",
           "init_params", "forward", "loss", "loss_and_grad", "Workspace"]

#: the models of the package by name (in the order linear, tied, relu): see :func:`register`
MODELS: dict[str, ToyModel] = {}


def register(cls: type[ToyModel]) -> type[ToyModel]:
    """Class decorator: add a :class:`ToyModel` subclass to :data:`MODELS` under its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, ToyModel)) or not cls.name:
        raise TypeError(f"register takes a ToyModel subclass with a name, got {cls!r}")
    MODELS[cls.name] = cls()
    return cls


class ToyModel:
    """One toy autoencoder, batched over a leading instance axis (see the module docstring).

    A subclass sets ``name``, ``key`` (the parameter of shape ``(n, d, D)`` that fixes the
    sizes) and ``zero_init`` (parameters that start at zero), and implements :meth:`shapes`,
    :meth:`forward` and :meth:`loss_and_grad`; :meth:`loss` follows from :meth:`forward`.
    """

    name: str = ""
    key: str = "W"
    zero_init: tuple[str, ...] = ()
    #: whether :meth:`loss_and_grad` needs a pre-activation buffer ``P`` in its workspace
    preactivation: bool = False

    def shapes(self, n: int, d: int, D: int) -> dict[str, tuple[int, ...]]:
        """The parameter shapes with ``n`` instances, ``d`` hidden dimensions, ``D`` features."""
        raise NotImplementedError

    def small_shape(self, n: int, d: int, D: int) -> tuple[int, ...]:
        """The shape of the workspace's small scratch matrix (the scaled weights)."""
        return (n, d, D)

    def forward(self, params: dict, x: torch.Tensor) -> torch.Tensor:
        """``x̂`` for a batch ``x`` of shape ``(n, T, D)`` (unchecked; works with autograd)."""
        raise NotImplementedError

    def loss(self, params: dict, x: torch.Tensor, ω: torch.Tensor) -> torch.Tensor:
        """``(1/T) Σ_t Σ_i ω_i (x_ti − x̂_ti)²`` per instance, ``(n,)`` (unchecked; ``ω`` a
        tensor of ``x``'s dtype and device broadcasting to ``(n, D)``)."""
        r = self.forward(params, x) - x
        ω = torch.broadcast_to(ω, (x.shape[0], x.shape[2]))
        return torch.einsum("ntD,nD->n", r * r, ω) / x.shape[1]

    def loss_and_grad(self, params: dict, xT: torch.Tensor, c: torch.Tensor, grads: dict,
                      ws: Workspace, need_loss: bool) -> torch.Tensor | None:
        """The gradient into ``grads`` (and the loss when ``need_loss``), see
        :func:`loss_and_grad` (unchecked)."""
        raise NotImplementedError


@register
class Linear(ToyModel):
    """``x ↦ A B x`` (Section 1 of the notes), ``A (n, D, d)``, ``B (n, d, D)``; gradient (19)."""

    name, key = "linear", "B"

    def shapes(self, n, d, D):
        return {"A": (n, D, d), "B": (n, d, D)}

    def small_shape(self, n, d, D):
        return (n, D, d)

    def forward(self, params, x):
        return torch.bmm(torch.bmm(x, params["B"].transpose(1, 2)), params["A"].transpose(1, 2))

    def loss_and_grad(self, params, xT, c, grads, ws, need_loss):
        A, B = params["A"], params["B"]
        H = torch.bmm(B, xT, out=ws.H)  # (n, d, T)
        R = torch.baddbmm(xT, A, H, beta=-1, out=ws.R)  # X̂ − X, (n, D, T)
        L = _weighted_sq(R, c, ws) if need_loss else None
        gA = torch.bmm(R, H.transpose(1, 2), out=grads["A"])  # (n, D, d)
        gA.mul_(c.unsqueeze(2))
        Ac = torch.mul(A, c.unsqueeze(2), out=ws.small)
        dH = torch.bmm(Ac.transpose(1, 2), R, out=ws.dH)  # (n, d, T)
        torch.bmm(dH, xT.transpose(1, 2), out=grads["B"])
        return L


@register
class Tied(ToyModel):
    """``x ↦ Wᵀ W x`` (Section 2.2 of the notes), ``W (n, d, D)``; the true gradient of the tied
    loss (decoder plus encoder parts of (19) at ``A = Wᵀ, B = W``)."""

    name = "tied"

    def shapes(self, n, d, D):
        return {"W": (n, d, D)}

    def forward(self, params, x):
        W = params["W"]
        return torch.bmm(torch.bmm(x, W.transpose(1, 2)), W)

    def loss_and_grad(self, params, xT, c, grads, ws, need_loss):
        W = params["W"]
        H = torch.bmm(W, xT, out=ws.H)  # (n, d, T)
        R = torch.baddbmm(xT, W.transpose(1, 2), H, beta=-1, out=ws.R)
        L = _weighted_sq(R, c, ws) if need_loss else None
        _tied_weight_grad(W, H, R, xT, c, grads["W"], ws)
        return L


@register
class ReLU(ToyModel):
    """``x ↦ ReLU(Wᵀ W x + b)`` (Section 3.1 of the notes), ``W (n, d, D)``, ``b (n, D)``."""

    name, zero_init, preactivation = "relu", ("b",), True

    def shapes(self, n, d, D):
        return {"W": (n, d, D), "b": (n, D)}

    def forward(self, params, x):
        return torch.relu(Tied.forward(self, params, x) + params["b"].unsqueeze(1))

    def loss_and_grad(self, params, xT, c, grads, ws, need_loss):
        W = params["W"]
        H = torch.bmm(W, xT, out=ws.H)  # (n, d, T)
        P = torch.baddbmm(params["b"].unsqueeze(2), W.transpose(1, 2), H, out=ws.P)
        L = None
        if need_loss:
            r = torch.clamp(P, min=0, out=ws.R)  # ReLU(P), then − X: the full residual
            L = _weighted_sq(r.sub_(xT), c, ws, inplace=True)
        # masked residual G = (P − X) ⊙ 1[P > 0]: ReLU(P) − X where P > 0, 0 where ReLU is flat
        G = torch.sub(P, xT, out=ws.R)
        torch.ops.aten.threshold_backward.grad_input(G, P, 0, grad_input=G)
        torch.sum(G, dim=2, out=grads["b"]).mul_(c)
        _tied_weight_grad(W, H, G, xT, c, grads["W"], ws)
        return L


def _tied_weight_grad(W, H, G, xT, c, out, ws) -> None:
    """``∂L/∂W = (Hᵀ G) ⊙ c + ((W ⊙ c) Gᵀ) Ξᵀ`` (decoder plus encoder part) into ``out``, for
    the (masked) residual ``G`` of a model ``x ↦ f(WᵀWx)``."""
    cD = c.unsqueeze(1)  # (n, 1, D): scales the feature columns of an (n, d, D) matrix
    gW = torch.bmm(H, G.transpose(1, 2), out=out)  # decoder part, (n, d, D)
    gW.mul_(cD)
    Wc = torch.mul(W, cD, out=ws.small)
    dH = torch.bmm(Wc, G, out=ws.dH)  # (n, d, T)
    gW.baddbmm_(dH, xT.transpose(1, 2))  # encoder part


def _model(model: str) -> ToyModel:
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {model!r}")
    return MODELS[model]


def param_shapes(model: str, n: int, d: int, D: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the parameters of ``model`` with ``n`` instances, ``d`` hidden, ``D`` features
    (the table of the module docstring)."""
    m = _model(model)
    n, d, D = (check_int(n, "n", minimum=1), check_int(d, "d", minimum=1),
               check_int(D, "D", minimum=1))
    return m.shapes(n, d, D)


def init_params(model: str, n: int, d: int, D: int, *, seed: int = 0,
                scale: float | None = None) -> dict[str, torch.Tensor]:
    """The initial parameters of a run: Gaussian entries of std ``scale`` (``None``: the
    Xavier-normal-like ``√(2 / (d + D))``), and a zero bias; float64 on the CPU, drawn from a
    generator seeded with ``seed``, so they are the same on every device and in every loop."""
    shapes = param_shapes(model, n, d, D)
    limits.refuse_if_too_big(f"init_params of a {model!r} model with n = {n}, d = {d}, D = {D}",
                             memory=8.0 * sum(math.prod(s) for s in shapes.values()),
                             advice="use smaller sizes")
    seed = check_int(seed, "seed", minimum=0, maximum=2**63 - 1)
    std = math.sqrt(2.0 / (d + D)) if scale is None else check_float(scale, "scale", positive=True)
    gen = torch.Generator().manual_seed(seed)
    zero = MODELS[model].zero_init
    return {name: (torch.zeros(shape, dtype=torch.float64) if name in zero else
                   torch.randn(shape, generator=gen, dtype=torch.float64) * std)
            for name, shape in shapes.items()}


def _check_params(model: str, params) -> tuple[int, int, int]:
    """``(n, d, D)`` of a parameter dict of ``model``, after checking its names, types and
    shapes (values are not read: a diverged model's NaN must reach the loss)."""
    m = _model(model)
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of tensors, got {type(params).__name__}")
    want = sorted(m.shapes(1, 1, 1))
    if sorted(params) != want:
        raise ValueError(f"params of a {model!r} model must have the keys {want}, "
                         f"got {sorted(params)}")
    for k, p in params.items():
        if not isinstance(p, torch.Tensor) or not p.is_floating_point():
            what = p.dtype if isinstance(p, torch.Tensor) else type(p).__name__
            raise TypeError(f"params[{k!r}] must be a real floating torch tensor, got {what}")
    first = m.key
    if params[first].ndim != 3:
        raise ValueError(f"params[{first!r}] must have shape (n, d, D), "
                         f"got {tuple(params[first].shape)}")
    n, d, D = params[first].shape
    for k, shape in m.shapes(n, d, D).items():
        if tuple(params[k].shape) != shape:
            raise ValueError(f"params[{k!r}] must have shape {shape} (n, d, D = {n}, {d}, {D} from "
                             f"params[{first!r}]), got {tuple(params[k].shape)}")
    return n, d, D


def _check_batch(model: str, params, x) -> torch.Tensor:
    """``x`` as a finite ``(n, T, D)`` tensor of the parameters' dtype and device."""
    n, _, D = _check_params(model, params)
    like = params[MODELS[model].key]
    x = as_real_tensor(x, "x", dtype=like.dtype, device=like.device,
                       what="a batch of real numbers of shape (n, T, D)")
    if x.ndim != 3 or x.shape[0] != n or x.shape[2] != D:
        raise ValueError(f"x must have shape (n, T, D) = ({n}, T, {D}) to match params, "
                         f"got {tuple(x.shape)}")
    return x


def forward(model: str, params: dict, x: torch.Tensor) -> torch.Tensor:
    """The reconstruction ``x̂`` of a batch ``x`` of shape ``(n, T, D)``.

    ``params``: ``{"A", "B"}`` (linear, Section 1: ``x ↦ ABx``), ``{"W"}`` (tied, Section 2.2:
    ``x ↦ WᵀWx``) or ``{"W", "b"}`` (relu, Section 3.1: ``x ↦ ReLU(WᵀWx + b)``), torch tensors
    shaped as in :func:`param_shapes`. ``x``: a tensor, array or (nested) list of finite real
    numbers, converted to the parameters' dtype and device.
    Works with autograd (it is the reference the hand-written gradients are tested against).
    """
    return _model(model).forward(params, _check_batch(model, params, x))


def loss(model: str, params: dict, x: torch.Tensor, ω) -> torch.Tensor:
    """Per-instance loss ``(1/T) Σ_t Σ_i ω_i (x_ti − x̂_ti)²``, shape ``(n,)``.

    ``x`` has shape ``(n, T, D)`` (as in :func:`forward`); the importance ``ω`` (≥ 0, finite)
    broadcasts to ``(n, D)``. A sum over features and a mean over the batch: the Monte Carlo
    estimate of the integral loss of Section 3.1 of the notes.
    """
    m = _model(model)
    x = _check_batch(model, params, x)
    ω = torch.as_tensor(check_importance(ω), dtype=x.dtype, device=x.device)
    nD = (x.shape[0], x.shape[2])
    try:
        fits = torch.broadcast_shapes(ω.shape, nD) == nD
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"ω (importance) has shape {tuple(ω.shape)}, which does not broadcast to "
                         f"(n, D) = {nD}")
    return m.loss(params, x, ω)


class Workspace:
    """Preallocated intermediate tensors for :func:`loss_and_grad` (reused every step)."""

    def __init__(self, model: str, n: int, T: int, d: int, D: int, *, dtype, device):
        m = _model(model)
        e = dict(dtype=dtype, device=device)
        self.H = torch.empty(n, d, T, **e)  # hidden activations, feature-major
        self.dH = torch.empty(n, d, T, **e)  # gradient with respect to them
        self.R = torch.empty(n, D, T, **e)  # (masked) residual
        self.P = torch.empty(n, D, T, **e) if m.preactivation else None  # pre-activation
        self.small = torch.empty(m.small_shape(n, d, D), **e)
        self.scratch = None  # allocated at the first logged step (linear and tied models)


def _weighted_sq(r: torch.Tensor, c: torch.Tensor, ws: Workspace, inplace: bool = False):
    """``½ Σ_i c_i Σ_t r_it²`` per instance (the loss, as ``c = 2ω/T``), without big temporaries."""
    if inplace:
        sq = r.square_()
    else:
        if ws.scratch is None or ws.scratch.shape != r.shape:
            ws.scratch = torch.empty_like(r)
        sq = torch.square(r, out=ws.scratch)
    return 0.5 * sq.sum(2).mul_(c).sum(1)


def loss_and_grad(model: str, params: dict, xT: torch.Tensor, c: torch.Tensor, grads: dict, *,
                  ws: Workspace | None = None, need_loss: bool = True) -> torch.Tensor | None:
    """Hand-derived gradient of the per-instance loss, written into ``grads`` (no autograd).

    Parameters
    ----------
    model : ``"linear"``, ``"tied"`` or ``"relu"``.
    params : the parameters of :func:`param_shapes`.
    xT : a batch in *feature-major* layout, shape ``(n, D, T)`` (``xT[k]`` is the ``D × T``
        matrix whose columns are the samples; this layout makes the products with the tiny
        ``d × D`` matrices several times faster than ``(n, T, D)`` on the CPU).
    c : ``2 ω / T``, shape ``(n, D)`` (importance weights and the mean folded together).
    grads : tensors shaped like ``params``; overwritten with the gradients.
    ws : a :class:`Workspace` (allocated on the fly when omitted).
    need_loss : also return the per-instance loss ``(n,)`` (an extra pass over the batch; the
        trainer asks for it only at the steps it logs).

    In this layout, with ``Ξ = xT`` (``D × T``), the relu formulas of the module docstring read
    ``Hᵀ = W Ξ``, ``Pᵀ = Wᵀ Hᵀ + b``, ``Gᵀ = (Pᵀ − Ξ) ⊙ 1[Pᵀ > 0]``,
    ``∂L/∂W = (Hᵀ G) ⊙ c + ((W ⊙ c) Gᵀ) Ξᵀ``, ``∂L/∂b = c ⊙ Gᵀ 1``; likewise for the others. They
    are (19) of the notes for the linear model and its chain-rule extensions for the tied
    (Section 2.2) and ReLU (Section 3.1) models.
    """
    m = _model(model)
    n, D, T = xT.shape
    if ws is None:
        d = params[m.key].shape[1]
        ws = Workspace(model, n, T, d, D, dtype=xT.dtype, device=xT.device)
    return m.loss_and_grad(params, xT, c, grads, ws, need_loss)
