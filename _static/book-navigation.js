// Sidebar and page-contents toggles that work at every width.
//
// sphinx-book-theme 1.3.0 on pydata-sphinx-theme 0.17 renders each of the two toggles twice: a
// hidden copy in pydata's header bar and the visible one in the article's header. Both themes'
// scripts attach their click handlers to the FIRST `.primary-toggle` / `.secondary-toggle` in the
// document, which is the hidden copy, so the buttons a reader sees do nothing (upstream:
// pydata/pydata-sphinx-theme issue 2451). Here every other copy hands its click to the first one,
// which then runs the themes' own code: on a wide screen the sidebar is shown or hidden, on a
// narrow one the sidebar or the page's contents open as a dialog.
(function () {
  "use strict";
  function forwardClicks(selector) {
    const buttons = Array.from(document.querySelectorAll(selector));
    if (buttons.length < 2) return;
    const bound = buttons[0];
    buttons.slice(1).forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    });
  }
  function run() {
    forwardClicks(".primary-toggle");
    forwardClicks(".secondary-toggle");
  }
  if (document.readyState !== "loading") run();
  else document.addEventListener("DOMContentLoaded", run);
})();
