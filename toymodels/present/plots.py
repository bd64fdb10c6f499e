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

from toymodels._checks import check_finite_array, check_float, check_int
from toymodels.relu.geometry import feature_norms, gram, interference

__all__ = ["plot_basin_probabilities", "feature_polygons", "superposition_panel"]


#: Widest figure (inches) whose 11-pt text stays at least 11 CSS px on a phone. The book shows a
#: figure w inches wide at 100 px per inch, and a phone shrinks it into a column about 358 px
#: wide, so p-point text is p/72 × 358/w CSS px there: at least 11 px for p = 11 while
#: w ≤ 358/72 ≈ 4.97 in. The grids below keep to it by default.
PHONE_WIDTH_IN = 4.9


def feature_polygons(W, titles=None, *, ncols: int | None = None, size: float = 2.0):
    """Arrows from 0 to each ``w_i`` for ``W`` of shape ``(n, 2, D)``; colour = feature index.

    Panels are ``size`` inches square, ``ncols`` to a row (default: as many as fit in
    :data:`PHONE_WIDTH_IN`, so the text stays legible on a phone); a colour bar explains the
    feature colours.
    """
    W = check_finite_array(W, "W", ndim=3)
    if W.shape[1] != 2:
        raise ValueError(f"feature_polygons needs 2-d embeddings W of shape (n, 2, D), "
                         f"got {W.shape}")
    n, _, D = W.shape
    size = check_float(size, "size", positive=True, maximum=20.0)
    ncols = (max(1, min(n, int((PHONE_WIDTH_IN - 0.9) // size))) if ncols is None
             else check_int(ncols, "ncols", minimum=1, maximum=max(n, 1)))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 0.9, size * nrows),
                             squeeze=False, layout="constrained")
    cmap = plt.cm.viridis.resampled(D) if D > 1 else plt.cm.viridis
    colours = cmap(np.linspace(0, 1, D))
    lim = max(1.2, 1.1 * np.abs(W).max())
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, lw=0.6, ls=":", color="0.5"))
        for i in range(D):
            ax.plot([0, W[k, 0, i]], [0, W[k, 1, i]], color=colours[i], lw=1.8)
            ax.plot(W[k, 0, i], W[k, 1, i], "o", color=colours[i], ms=4)
        if titles is not None:
            ax.set_title(titles[k])
    norm = plt.Normalize(0.5, D + 0.5)
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8,
                       ticks=_index_ticks(D))
    bar.set_label("feature $i$")
    return fig


def _index_ticks(D: int) -> list[int]:
    """At most about six feature indices 1..D to label an axis or a colour bar."""
    step = max(1, -(-D // 6))
    return list(range(1, D + 1, step))


def superposition_panel(W, b, titles=None, *, ncols: int | None = None, size: float = 1.8):
    """For each instance, ``WᵀW`` (with ``b`` as an extra column) above the norm bars coloured by
    interference. ``W`` of shape ``(n, d, D)``, ``b`` of shape ``(n, D)``.

    Instances are laid out ``ncols`` to a row (default: as many as fit in
    :data:`PHONE_WIDTH_IN`), each ``size`` inches wide. Both kinds of panel have colour bars: the
    heatmap's for the entries of ``WᵀW`` and ``b``, the bars' for the interference
    ``Σ_{j≠i} (ŵ_i·w_j)²``. Rows and columns are labelled by feature.
    """
    W = check_finite_array(W, "W", ndim=3)
    b = check_finite_array(b, "b", ndim=2)
    n, _, D = W.shape
    size = check_float(size, "size", positive=True, maximum=20.0)
    ncols = (max(1, min(n, int((PHONE_WIDTH_IN - 1.2) // size))) if ncols is None
             else check_int(ncols, "ncols", minimum=1, maximum=max(n, 1)))
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(2 * nrows, ncols, figsize=(size * ncols + 1.2, nrows * (2 * size + 0.4)),
                             squeeze=False, gridspec_kw={"height_ratios": [1.2, 1] * nrows},
                             layout="constrained")
    inter = interference(W)
    ticks = _index_ticks(D)
    heat = None
    for k, ax in enumerate(grid[0::2].flat):
        if k >= n:
            ax.axis("off")
            continue
        G = gram(W[k])
        M = np.hstack([G, np.full((D, 1), np.nan), b[k][:, None]])
        heat = ax.imshow(M, cmap="RdBu_r", vmin=-1.3, vmax=1.3)
        ax.set_xticks([t - 1 for t in ticks] + [D + 1], [str(t) for t in ticks] + ["$b$"])
        ax.set_yticks([t - 1 for t in ticks], [str(t) for t in ticks] if k % ncols == 0 else [])
        ax.grid(False)
        if k % ncols == 0:
            ax.set_ylabel("feature $i$")
        if titles is not None:
            ax.set_title(titles[k])
    for k, ax in enumerate(grid[1::2].flat):
        if k >= n:
            ax.axis("off")
            continue
        norms = feature_norms(W[k])
        c = plt.cm.plasma(np.clip(inter[k], 0, 1) * 0.9)
        ax.barh(np.arange(1, D + 1), norms, color=c)
        ax.invert_yaxis()
        ax.set_xlim(0, max(1.3, norms.max() * 1.05))
        ax.set_yticks(ticks, [str(t) for t in ticks] if k % ncols == 0 else [])
        ax.set_xlabel(r"$\Vert w_i \Vert$")
    # Each colour bar beside the first row of its kind (spanning all rows, the two would overlap).
    fig.colorbar(heat, ax=grid[0].tolist(), shrink=0.9, label=r"$W^\top W$ and $b$")
    inter_map = plt.cm.ScalarMappable(norm=plt.Normalize(0, 1 / 0.9), cmap="plasma")
    fig.colorbar(inter_map, ax=grid[1].tolist(), shrink=0.9, label="interference")
    return fig


def plot_basin_probabilities(study, ax=None, *, x=None, order=None, min_share=0.02):
    """Stacked bars of the basin probabilities of every setting of ``study`` (the Chapter 4
    figure): one bar per setting at ``x`` (default the sparsities), basins with a share below
    ``min_share`` in every setting pooled as ``"other"``. Returns the axis."""
    from toymodels.relu.basins import BasinStudy  # noqa: PLC0415 (the mathematics does not import presentation)

    if not isinstance(study, BasinStudy):
        raise TypeError(f"study must be a BasinStudy, got {type(study).__name__}")
    min_share = check_float(min_share, "min_share", minimum=0.0, maximum=1.0)
    m = len(study.S)
    x = np.arange(m) if x is None else check_finite_array(x, "x", ndim=1)
    if len(x) != m:
        raise ValueError(f"x must have one entry per setting ({m}), got {len(x)}")
    share = {}
    for j in range(m):
        for lab, est in study.table(j).items():
            share.setdefault(lab, np.zeros(m))[j] = est.p
    big = [lab for lab, v in share.items() if v.max() >= min_share]
    order = [lab for lab in (order or []) if lab in big] + sorted(set(big) - set(order or []))
    rest = sum((v for lab, v in share.items() if lab not in big), np.zeros(m))
    ax = ax or plt.gca()
    bottom = np.zeros(m)
    for lab in order:
        ax.bar(x, share[lab], bottom=bottom, label=lab, width=0.8)
        bottom += share[lab]
    if rest.any():
        ax.bar(x, rest, bottom=bottom, label="other", color="0.8", width=0.8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    return ax
