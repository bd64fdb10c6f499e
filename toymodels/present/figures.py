"""How a notebook shows a matplotlib figure: a sharp PNG that records its smallest text.

:func:`register_png_formatter` (called by :func:`toymodels.setup` inside IPython) replaces the
inline backend's PNG output for every :class:`~matplotlib.figure.Figure`:

* the PNG is drawn at ``SCALE`` times the figure's dpi and displayed at its natural size (the
  output's ``width``/``height`` metadata), so it stays sharp on high-density screens;
* the PNG carries two text chunks: ``toymodels:min-text-px``, the font size in the PNG's own
  pixels of the smallest text actually drawn (labels, ticks, titles, legends, colour bars), and
  ``toymodels:scale``. The browser check (``tests/browser/check_book.py``) reads them and
  compares the smallest text, at the width the page shows the image, with its threshold.
"""

from __future__ import annotations

import io
import struct
import threading

SCALE = 2
MIN_TEXT_KEY = "toymodels:min-text-px"
SCALE_KEY = "toymodels:scale"

_lock = threading.Lock()


def _drawn_font_sizes(fig, draw) -> list[float]:
    """Run ``draw()`` and return the font size (points) of every non-empty text it drew."""
    from matplotlib.text import Text

    sizes: list[float] = []
    original = Text.draw

    def recording_draw(self, renderer):
        if self.get_visible() and self.get_text().strip():
            sizes.append(float(self.get_fontsize()))
        return original(self, renderer)

    with _lock:
        Text.draw = recording_draw
        try:
            draw()
        finally:
            Text.draw = original
    return sizes


def figure_png(fig, scale: int = SCALE) -> tuple[bytes, dict] | None:
    """The PNG of ``fig`` at ``scale`` × its dpi, with the smallest drawn text recorded, and the
    display metadata (``width``, ``height`` in CSS pixels) that shows it at its natural size."""
    if not (fig.axes or fig.lines or fig.texts or fig.images or fig.patches):
        return None  # an empty figure shows nothing, as with matplotlib's inline backend
    dpi = fig.dpi * scale
    # A first draw finds the texts; savefig then writes the PNG with the size in its metadata.
    sizes = _drawn_font_sizes(fig, lambda: fig.canvas.draw())
    min_px = min(sizes) * dpi / 72 if sizes else 0.0
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight",
                facecolor="white", metadata={MIN_TEXT_KEY: f"{min_px:.2f}", SCALE_KEY: str(scale)})
    data = buf.getvalue()
    width, height = struct.unpack(">II", data[16:24])
    return data, {"width": width // scale, "height": height // scale}


def register_png_formatter() -> bool:
    """Make IPython show every matplotlib figure through :func:`figure_png`. Returns whether an
    IPython shell was there to register with."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import matplotlib
    import matplotlib.pyplot  # noqa: F401
    from matplotlib.figure import Figure

    # Load the inline backend now: loading it registers its own PNG formatter, which would
    # otherwise replace this one when the first figure is created.
    if "inline" in str(matplotlib.get_backend()):
        import matplotlib_inline.backend_inline  # noqa: F401

    shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)
    return True
