"""Each check of ``check_book.py`` fails on a tiny page that has exactly that defect.

The pages are written here, with a control page that passes every check; the figures are real
PNGs drawn through ``toymodels.present.figures.figure_png``, so the text-size record is the one the
book's figures carry. Needs Chromium and ChromeDriver (skipped without them).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("check_book", HERE / "check_book.py")
check_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_book)

pytestmark = pytest.mark.skipif(
    not (os.path.exists(check_book.CHROMIUM) and os.path.exists(check_book.CHROMEDRIVER)),
    reason="the browser check needs Chromium and ChromeDriver")

# A page skeleton with what the check looks for: working navigation (the control), an article.
HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{margin:0;font:16px sans-serif} article{padding:0 16px;max-width:700px}
div.math{display:flex} mjx-container{display:block;overflow:auto} img{max-width:100%}
figure{margin:0 0 1rem}</style>
<script>window.MathJax = {startup: {promise: Promise.resolve()}};
document.documentElement.dataset.equationsFitted = "true";</script></head><body>
<button class="primary-toggle" onclick="document.getElementById('pst-primary-sidebar-modal').showModal()">☰</button>
<button class="search-button" onclick="document.getElementById('pst-search-dialog').showModal()">search</button>
<dialog id="pst-primary-sidebar-modal"><a href="#">chapter</a></dialog>
<dialog id="pst-search-dialog"><input name="q"></dialog>
<article class="bd-article">
"""
TAIL = """<div class="prev-next-area"><a href="#">next</a></div></article></body></html>"""

FIGURE = """<figure><img src="{src}" alt="a line rising from left to right" width="{width}">
<figcaption><p><span class="caption-number">Fig. 1 </span>A line.</p></figcaption></figure>"""


def _figure(path: Path, fontsize: float, record: bool = True) -> int:
    """A 4.8-inch figure whose smallest text is ``fontsize`` points; returns its CSS width.
    Without ``record``, a plain matplotlib PNG (no text-size record)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from toymodels.present.figures import figure_png

    fig, ax = plt.subplots(figsize=(4.8, 3.0), dpi=100)
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=fontsize)
    ax.set_xlabel("x", fontsize=max(fontsize, 12))
    data, meta = figure_png(fig)
    if not record:
        fig.savefig(path, format="png", dpi=200)
    plt.close(fig)
    if record:
        path.write_bytes(data)
    return meta["width"]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    (root / "_images").mkdir()
    ok_width = _figure(root / "_images/ok.png", 11)
    small_width = _figure(root / "_images/small.png", 5)
    plain_width = _figure(root / "_images/plain.png", 11, record=False)
    bodies = {
        "control": "<p>Text.</p>" + FIGURE.format(src="_images/ok.png", width=ok_width),
        "dead_toggle": "<p>Text.</p>",
        "wide_equation": '<div class="math"><span class="eqno">(1)</span>'
                         '<mjx-container style="overflow:hidden"><span style="display:inline-block;'
                         'width:1200px">wide</span></mjx-container></div>',
        "uncaptioned": '<div class="cell_output"><img src="_images/ok.png" alt="_images/ok.png"></div>',
        "small_text": FIGURE.format(src="_images/small.png", width=small_width),
        "unrecorded": FIGURE.format(src="_images/plain.png", width=plain_width),
        "empty_output": '<div class="cell_output"><div class="output"> </div></div>',
        "console_error": "<script>throw new Error('boom');</script><p>Text.</p>",
    }
    for name, body in bodies.items():
        html = HEAD + body + TAIL
        if name == "dead_toggle":  # the visible toggle has no handler, as in issue 14
            html = html.replace(" onclick=\"document.getElementById('pst-primary-sidebar-modal').showModal()\"", "")
        (root / f"{name}.html").write_text(html)
    driver = check_book.make_driver()
    try:
        results = check_book.check_pages(driver, sorted(root.glob("*.html")), root, None, pending={})
    finally:
        driver.quit()
    return {page.stem: "\n".join(r["failing"]) for page, r in results.items()}


def test_the_control_page_passes(pages):
    assert pages["control"] == ""


@pytest.mark.parametrize("page, expected", [
    ("dead_toggle", "[phone] the sidebar toggle opens nothing"),
    ("wide_equation", "[desktop] display equation (1) is wider than its column"),
    ("wide_equation", "[phone] display equation (1) is clipped"),
    ("uncaptioned", "has no numbered caption"),
    ("uncaptioned", "has no alt text"),
    ("small_text", "below 11 px"),
    ("unrecorded", "does not record its smallest text"),
    ("empty_output", "empty output boxes"),
    ("console_error", "console error"),
])
def test_each_check_fails_on_its_defect(pages, page, expected):
    assert expected in pages[page], pages[page]
