"""The figures of chapter 3 (toymodels.present.plots) draw the numbers they are given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from toymodels.present import plots  # noqa: E402
from toymodels.relu.geometry import interference  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def pentagon(scale=1.0):
    t = 2 * np.pi * np.arange(5) / 5
    return scale * np.stack([np.cos(t), np.sin(t)])


def test_feature_polygons_draws_an_arrow_to_every_column():
    W = np.stack([pentagon(), pentagon(0.5)])
    fig = plots.feature_polygons(W, ["a", "b"], ncols=2)
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert len(axes) == 2 and [ax.get_title() for ax in axes] == ["a", "b"]
    for k, ax in enumerate(axes):
        tips = [line.get_xydata()[-1] for line in ax.lines if len(line.get_xydata()) == 2]
        np.testing.assert_allclose(np.array(tips).T, W[k])


def test_feature_polygons_lays_out_rows_and_blank_panels():
    fig = plots.feature_polygons(np.stack([pentagon()] * 3), ncols=2)
    panels = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
    assert len(panels) == 4  # 2 x 2 grid, the fourth panel blank
    assert sum(bool(ax.lines) for ax in panels) == 3
    assert len(fig.axes) == 5  # and a colour bar for the feature index


@pytest.mark.parametrize("W, msg", [(np.zeros((1, 3, 5)), "2-d embeddings"),
                                    (np.full((1, 2, 5), np.nan), "W"),
                                    (np.zeros((2, 5)), "W")])
def test_feature_polygons_refuses_bad_W(W, msg):
    with pytest.raises(ValueError, match=msg):
        plots.feature_polygons(W)


def test_superposition_panel_shows_gram_matrix_bias_and_norms():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(2, 3, 6))
    b = rng.normal(size=(2, 6))
    fig = plots.superposition_panel(W, b, ["x", "y"])
    heat = [ax for ax in fig.axes if ax.images]
    bars = [ax for ax in fig.axes if ax.patches]
    assert len(heat) == 2 and len(bars) == 2
    for k in range(2):
        M = np.asarray(heat[k].images[0].get_array())
        np.testing.assert_allclose(M[:, :6], W[k].T @ W[k])
        np.testing.assert_allclose(M[:, 7], b[k])
        widths = [p.get_width() for p in bars[k].patches]
        np.testing.assert_allclose(widths, np.linalg.norm(W[k], axis=0))
    labels = [ax.get_ylabel() for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert labels == [r"$W^\top W$ and $b$", "interference"]  # every colour scale explained


def test_superposition_panel_colours_shared_features_differently():
    W = np.array([[[1.0, 0.0, 0.7], [0.0, 1.0, 0.7]]])  # feature 2 overlaps features 0 and 1
    fig = plots.superposition_panel(W, np.zeros((1, 3)))
    colours = [p.get_facecolor() for p in next(ax for ax in fig.axes if ax.patches).patches]
    inter = interference(W)[0]
    assert inter[2] > inter[0] and colours[2] != colours[0]


def test_figure_png_records_the_smallest_drawn_text_and_shows_at_natural_size():
    import struct

    from toymodels.present.figures import MIN_TEXT_KEY, figure_png

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=9)
    ax.set_title("title", fontsize=14)
    data, meta = figure_png(fig)
    width, height = struct.unpack(">II", data[16:24])
    assert (meta["width"], meta["height"]) == (width // 2, height // 2)  # a 2x PNG
    assert f"{MIN_TEXT_KEY}\x0025.00".encode() in data  # 9 pt at 200 dpi = 25 px

    fig, ax = plt.subplots(dpi=100)
    ax.axis("off")  # hidden tick labels are not drawn, so they do not count
    ax.set_title("only this", fontsize=12)
    assert f"{MIN_TEXT_KEY}\x0033.33".encode() in figure_png(fig)[0]
    assert figure_png(plt.figure()) is None  # an empty figure shows nothing


@pytest.mark.parametrize("kwargs, msg", [({"ncols": 0}, "ncols"), ({"ncols": "2"}, "ncols"),
                                         ({"size": -1.0}, "size"), ({"size": float("nan")}, "size")])
def test_grids_refuse_bad_layout_arguments(kwargs, msg):
    W = np.stack([pentagon()] * 2)
    with pytest.raises((TypeError, ValueError), match=msg):
        plots.feature_polygons(W, **kwargs)
    with pytest.raises((TypeError, ValueError), match=msg):
        plots.superposition_panel(W, np.zeros((2, 5)), **kwargs)
