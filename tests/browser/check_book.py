"""Open every page of the built book in headless Chromium and check it as a reader would.

Usage (after ``jupyter-book build .``)::

    python tests/browser/check_book.py [_build/html] [--screenshots _build/screenshots]

For each HTML page listed in the book's table of contents it checks that

* MathJax finished and rendered every equation (one ``mjx-container`` per math element),
  with no error markers (``mjx-merror``) and no raw TeX delimiters left in the text;
* every image has loaded (``naturalWidth > 0``);
* every cross-reference and citation resolved: no ``??``, no unresolved-reference markers,
  no raw TeX in link texts,
  and every internal link points at a page and an anchor that exist;
* no cell output shows a traceback, an error or anything written to stderr;

and saves a full-page screenshot. It exits non-zero, listing every problem, if any check fails.
Chromium and ChromeDriver come from Debian's ``chromium`` and ``chromium-driver`` packages.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

# Debian's packages by default; GitHub's runners point these at their preinstalled Chrome.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

# Runs in the page: waits for MathJax, then reports what a reader would see.
INSPECT_JS = """
const done = arguments[arguments.length - 1];
const report = () => {
  const q = (s) => Array.from(document.querySelectorAll(s));
  const article = document.querySelector('article') || document.body;
  const text = article.innerText;
  const ids = q('[id]').map(e => e.id);
  done({
    mathSources: q('div.math, span.math').length,
    mathRendered: q('mjx-container').length,
    mathErrors: q('mjx-merror').map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5),
    rawTex: (text.match(/\\$\\$|\\\\\\(|\\\\\\[|\\\\begin\\{/g) || []).length,
    images: q('img').map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})),
    unresolved: (text.match(/\\?\\?/g) || []).length + q('.xref.std-ref:not(a *), span.problematic').length,
    texInLinks: q('a').map(a => a.textContent).filter(t => /\\\\[a-zA-Z]+|\\$/.test(t)).slice(0, 5),
    citationsMissing: q('a.reference.internal').filter(a => /^\\[?\\s*\\]?$/.test(a.textContent)).length,
    tracebacks: q('.output.traceback, .output.error, div.cell_output .stderr, .output.stderr')
      .map(e => e.textContent.slice(0, 200)),
    tracebackText: /Traceback \\(most recent call last\\)/.test(text),
    links: q('a[href]').map(a => a.getAttribute('href')),
    ids: ids,
    height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
  });
};
const waitMath = () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(report, report);
  } else if (document.querySelectorAll('div.math, span.math').length === 0) {
    report();
  } else {
    setTimeout(waitMath, 100);
  }
};
waitMath();
"""


def pages_of(html_dir: Path) -> list[Path]:
    """Every page a reader reaches: all .html files except Sphinx's utility pages."""
    skip = {"genindex.html", "search.html", "index.html"}
    return sorted(
        p for p in html_dir.rglob("*.html")
        if p.name not in skip and "_static" not in p.parts and "_sources" not in p.parts
    )


def check_links(page: Path, links: list[str], html_dir: Path, ids_of: dict[Path, set[str]]) -> list[str]:
    """Internal links must point at an existing page and, where given, an existing anchor."""
    problems = []
    for href in links:
        url = urlparse(href)
        if url.scheme in {"http", "https", "mailto", "javascript"} or href.startswith("//"):
            continue
        target = page if not url.path else (page.parent / unquote(url.path)).resolve()
        if url.scheme == "file":
            target = Path(unquote(url.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            problems.append(f"broken link {href!r}")
            continue
        if url.fragment and target.suffix == ".html" and target in ids_of:
            if url.fragment not in ids_of[target]:
                problems.append(f"link {href!r} points at a missing anchor")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", default="_build/html", type=Path)
    parser.add_argument("--screenshots", default="_build/screenshots", type=Path)
    parser.add_argument("--width", default=1280, type=int)
    args = parser.parse_args(argv)

    html_dir = args.html_dir.resolve()
    pages = pages_of(html_dir)
    if not pages:
        print(f"no pages found under {html_dir}: build the book first", file=sys.stderr)
        return 2
    args.screenshots.mkdir(parents=True, exist_ok=True)

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--allow-file-access-from-files",
                 f"--window-size={args.width},1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)

    reports, ids_of = {}, {}
    try:
        for page in pages:
            driver.get(page.as_uri())
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
            report = driver.execute_async_script(INSPECT_JS)
            reports[page] = report
            ids_of[page] = set(report["ids"])
            height = min(int(report["height"]), 30000)
            driver.set_window_size(args.width, max(height, 600))
            name = str(page.relative_to(html_dir)).replace("/", "__").removesuffix(".html")
            driver.save_screenshot(str(args.screenshots / f"{name}.png"))
            driver.set_window_size(args.width, 1000)
    finally:
        driver.quit()

    failures = 0
    for page, r in reports.items():
        rel = page.relative_to(html_dir)
        problems = []
        if r["mathRendered"] < r["mathSources"]:
            problems.append(f"MathJax rendered {r['mathRendered']} of {r['mathSources']} equations")
        problems += [f"MathJax error: {e}" for e in r["mathErrors"]]
        if r["rawTex"]:
            problems.append(f"{r['rawTex']} raw TeX delimiters left in the text")
        problems += [f"image did not load: {i['src']}" for i in r["images"] if not i["ok"]]
        problems += [f"raw TeX in link text: {t!r}" for t in r["texInLinks"]]
        if r["unresolved"]:
            problems.append(f"{r['unresolved']} unresolved references ('??' or unresolved markers)")
        if r["citationsMissing"]:
            problems.append(f"{r['citationsMissing']} empty citation links")
        problems += [f"error output in a cell: {t!r}" for t in r["tracebacks"]]
        if r["tracebackText"]:
            problems.append("a traceback is shown on the page")
        problems += check_links(page, r["links"], html_dir, ids_of)
        status = "ok" if not problems else "FAIL"
        print(f"{status:4} {rel}: {r['mathRendered']} equations, {len(r['images'])} images, "
              f"{len(r['links'])} links")
        for p in problems:
            print(f"     - {p}")
        failures += bool(problems)
    print(f"{len(reports) - failures} pages ok, {failures} failed; screenshots in {args.screenshots}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
