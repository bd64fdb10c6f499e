"""Small fixes to the book's HTML, loaded through ``sphinx: local_extensions`` in ``_config.yml``.

* Each inline ``<script>`` that an extension adds with ``app.add_js_file(None, body=...)`` reaches
  the page twice under jupyter-book 1.0.4 (once from the builder, once from Sphinx's registry,
  whose copy has the file name ``''`` instead of ``None``, so Sphinx's own duplicate check misses
  it). For sphinx-thebe's ``const THEBE_JS_URL = ...`` the second copy is a
  ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` on every page. The hook
  below keeps the first copy of each script.
"""

from __future__ import annotations


def _script_key(js) -> tuple:
    attributes = getattr(js, "attributes", {}) or {}
    filename = getattr(js, "filename", js) or ""
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Remove repeated entries of ``script_files`` (same file or same inline body)."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
