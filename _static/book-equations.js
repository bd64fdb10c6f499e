// Display equations that fit the text column, and a visible cue where they cannot.
//
// MathJax 3 does not break long display equations across lines. After it has typeset the page,
// every display equation wider than its box is handled here:
//   1. its number moves below the formula (class `eq-wide`), so the formula gets the column's
//      whole width and the number never overlaps it;
//   2. on a wide screen, if it is still too wide, it is scaled down, but never below MIN_SCALE;
//   3. if it still does not fit (a phone, or an equation that should be split in the source), it
//      scrolls sideways inside its own box (class `eq-scroll`: shadows at the hidden edges and a
//      "scroll" hint below it, in book.css).
// Inline formulas wider than their paragraph get the same scroll box (class `math-scroll`).
// The layout is recomputed when the window is resized and before printing (where no scrolling
// is possible, so the formula is scaled to the printed column, however small).
(function () {
  "use strict";
  const MIN_SCALE = 0.8; // smallest font scale for a display equation on screen
  const WIDE_SCREEN = window.matchMedia("(min-width: 768px)");

  function overflows(el) {
    return el.scrollWidth > el.clientWidth + 1;
  }

  function reset(div, box) {
    div.classList.remove("eq-wide", "eq-scroll");
    const math = box.querySelector("mjx-math");
    if (math) math.style.fontSize = "";
  }

  function scaleToFit(box, minScale) {
    const math = box.querySelector("mjx-math");
    if (!math) return;
    const scale = Math.floor((box.clientWidth / box.scrollWidth) * 1000) / 1000;
    if (scale >= minScale) math.style.fontSize = (100 * scale).toFixed(1) + "%";
  }

  function fitDisplay(minScale) {
    document.querySelectorAll("div.math").forEach(function (div) {
      const box = div.querySelector("mjx-container");
      if (!box) return;
      reset(div, box);
      if (!overflows(box)) return;
      div.classList.add("eq-wide");
      if (overflows(box) && minScale !== null) scaleToFit(box, minScale);
      if (overflows(box)) div.classList.add("eq-scroll");
    });
  }

  function fitInline() {
    document.querySelectorAll("span.math > mjx-container, mjx-container:not([display='true'])").forEach(function (box) {
      if (box.closest("div.math")) return;
      box.classList.remove("math-scroll");
      const block = box.closest("p, li, td, th, dd, dt, div");
      if (!block) return;
      if (box.getBoundingClientRect().right > block.getBoundingClientRect().right + 1) {
        box.classList.add("math-scroll");
      }
    });
  }

  function fit() {
    fitDisplay(WIDE_SCREEN.matches ? MIN_SCALE : null);
    fitInline();
    document.documentElement.dataset.equationsFitted = "true";
  }

  let pending = null;
  function refit() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(fit, 150);
  }

  function whenTypeset() {
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(fit);
      window.addEventListener("resize", refit);
      window.addEventListener("beforeprint", function () { fitDisplay(0); });
      window.addEventListener("afterprint", fit);
    } else if (!document.querySelector("div.math, span.math")) {
      document.documentElement.dataset.equationsFitted = "true";
    } else {
      setTimeout(whenTypeset, 50);
    }
  }
  if (document.readyState !== "loading") whenTypeset();
  else document.addEventListener("DOMContentLoaded", whenTypeset);
})();
