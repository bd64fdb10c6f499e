"""Figures of the ReLU output model in the style of the Toy Models paper.

* :func:`feature_polygons`: the columns ``w_i`` of 2-d embeddings drawn as arrows (one panel
  per instance) — the "feature geometry" polygons;
* :func:`superposition_panel`: for each instance, ``WᵀW`` as a heatmap beside the bias and
  the norms ``‖w_i‖`` as bars coloured by ``Σ_{j≠i} (ŵ_i·w_j)²`` (dark: the feature has its own
  dimension; bright: it shares it).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ._checks import check_finite_array, check_float, check_int
from .geometry import feature_norms, gram, interference

__all__ = ["feature_polygons", "superposition_panel"]


def feature_polygons(W, titles=None, *, ncols: int | None = None, size: float = 1.8):
    """Arrows from 0 to each ``w_i`` for ``W`` of shape ``(n, 2, D)``; colour = feature index."""
    W = check_finite_array(W, "W", ndim=3)
    if W.shape[1] != 2:
        raise ValueError(f"feature_polygons needs 2-d embeddings W of shape (n, 2, D), "
                         f"got {W.shape}")
    n, _, D = W.shape
    ncols = n if ncols is None else check_int(ncols, "ncols", minimum=1, maximum=max(n, 1))
    size = check_float(size, "size", positive=True, maximum=20.0)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    colours = plt.cm.viridis(np.linspace(0, 0.9, D))
    lim = max(1.2, 1.1 * np.abs(W).max())
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, lw=0.5, ls=":", color="0.6"))
        for i in range(D):
            ax.plot([0, W[k, 0, i]], [0, W[k, 1, i]], color=colours[i], lw=1.6)
            ax.plot(W[k, 0, i], W[k, 1, i], "o", color=colours[i], ms=3)
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    fig.tight_layout()
    return fig


def superposition_panel(W, b, titles=None, *, size: float = 1.9):
    """Two rows per instance column: ``WᵀW`` (with ``b`` as an extra column) and the norm bars
    coloured by interference. ``W`` of shape ``(n, d, D)``, ``b`` of shape ``(n, D)``."""
    W = check_finite_array(W, "W", ndim=3)
    b = check_finite_array(b, "b", ndim=2)
    size = check_float(size, "size", positive=True, maximum=20.0)
    n, _, D = W.shape
    fig, axes = plt.subplots(2, n, figsize=(size * n, 2 * size), squeeze=False,
                             gridspec_kw={"height_ratios": [1.2, 1]})
    inter = interference(W)
    for k in range(n):
        G = gram(W[k])
        M = np.hstack([G, np.full((D, 1), np.nan), b[k][:, None]])
        ax = axes[0, k]
        ax.imshow(M, cmap="RdBu_r", vmin=-1.3, vmax=1.3)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
        ax = axes[1, k]
        norms = feature_norms(W[k])
        c = plt.cm.plasma(np.clip(inter[k], 0, 1) * 0.9)
        ax.barh(np.arange(D), norms, color=c)
        ax.invert_yaxis()
        ax.set_xlim(0, max(1.3, norms.max() * 1.05))
        ax.set_yticks([])
        ax.set_xlabel("‖w_i‖", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def playground(n_features: int = 5, n_hidden: int = 2, sparsity: float = 0.9,
               importance_decay: float = 0.9, *, n_instances: int = 4, steps: int = 2000,
               seed: int = 0):
    """Train ``n_instances`` ReLU output models ``x ↦ ReLU(WᵀWx + b)`` with ``D = n_features``,
    ``d = n_hidden``, sparsity ``S`` and importance ``ω_i = importance_decay**i`` (a few seconds)
    and draw them: polygons when ``d = 2``, otherwise ``WᵀW`` and the norm bars.

    Warns (``NoSuperpositionWarning``, from the config) when ``n_hidden >= n_features``
    (every feature gets its own dimension: no superposition to see). Returns the :class:`toymodels.train.TrainResult`.
    """
    from ._checks import check_int, check_probability
    from .train import TrainConfig, train

    D = check_int(n_features, "n_features", minimum=2)
    d = check_int(n_hidden, "n_hidden", minimum=1)
    S = float(check_probability(sparsity, "sparsity"))
    if not 0 < importance_decay <= 1:
        raise ValueError(f"importance_decay must lie in (0, 1], got {importance_decay}")
    cfg = TrainConfig(model="relu", n_features=D, n_hidden=d, n_instances=n_instances,
                      sparsity=S, importance=importance_decay ** np.arange(D), batch_size=1024,
                      steps=steps, lr=1e-2, schedule="cosine", seed=seed, progress=False)
    res = train(cfg)
    label = f"D = {D}, d = {d}, S = {S:g}, ω_i = {importance_decay:g}^i"
    titles = [label] + [""] * (n_instances - 1)
    if d == 2:
        feature_polygons(res.W, titles, size=2.2)
    else:
        superposition_panel(res.W, res.b, titles)
    return res
