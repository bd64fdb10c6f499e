"""Small fixes to the book's HTML, loaded through ``sphinx: local_extensions`` in ``_config.yml``.

* Each inline ``<script>`` that an extension adds with ``app.add_js_file(None, body=...)`` reaches
  the page twice under jupyter-book 1.0.4 (once from the builder, once from Sphinx's registry,
  whose copy has the file name ``''`` instead of ``None``, so Sphinx's own duplicate check misses
  it). For sphinx-thebe's ``const THEBE_JS_URL = ...`` the second copy is a
  ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` on every page. The hook
  below keeps the first copy of each script.
"""

from __future__ import annotations

from docutils import nodes


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


def record_proof_titles(app, doctree) -> None:
    """Remember the rendered title text of every labelled ``prf:`` directive of this document."""
    env = app.env
    titles = env.__dict__.setdefault("book_proof_titles", {})
    for node in doctree.findall(lambda n: isinstance(n, nodes.Element) and "realtype" in n.attributes):
        label = node.get("label")
        if not label:
            continue
        title = next((child.astext() for child in node.children if isinstance(child, nodes.title)), "")
        titles[label] = {"docname": env.docname, "title": title}


def purge_proof_titles(app, env, docname) -> None:
    titles = getattr(env, "book_proof_titles", {})
    for label in [k for k, v in titles.items() if v["docname"] == docname]:
        del titles[label]


def merge_proof_titles(app, env, docnames, other) -> None:
    env.__dict__.setdefault("book_proof_titles", {}).update(getattr(other, "book_proof_titles", {}))


def _proof_index_class():
    from sphinx_proof.domain import ProofIndex

    class ProofIndexWithTitles(ProofIndex):
        """The Proof Index by chapter, each entry "Kind number Title" linking to the statement."""

        def generate(self, docnames=None):
            env = self.domain.env
            proofs = getattr(env, "proof_list", {})
            titles = getattr(env, "book_proof_titles", {})
            groups: dict[str, list] = {}
            for label, values in proofs.items():  # in the order the statements appear
                if values.get("realtype") == "proof" or values.get("nonumber"):
                    continue
                docname = values["docname"]
                number = env.toc_fignumbers.get(docname, {}).get(values["countertype"], {}).get(label)
                numtext = ".".join(map(str, number)) if number else ""
                title = titles.get(label, {}).get("title", "")
                name = " ".join(part for part in (values["realtype"].title(), numtext, title) if part)
                groups.setdefault(docname, []).append((name, 0, docname, label, "", "", ""))
            content = []
            for docname in sorted(groups):
                secnum = env.toc_secnumbers.get(docname, {}).get("", ())
                title = env.titles[docname].astext() if docname in env.titles else docname
                heading = f"{'.'.join(map(str, secnum))}. {title}" if secnum else title
                content.append((heading, groups[docname]))
            return content, False

    return ProofIndexWithTitles


def use_titled_proof_index(app) -> None:
    """Replace sphinx-proof's index by :class:`ProofIndexWithTitles` (same name: ``prf-prf``)."""
    domain = app.registry.domains.get("prf")
    if domain is None:
        return
    titled = _proof_index_class()
    domain.indices = [titled if getattr(i, "name", "") == "prf" else i for i in domain.indices]


def setup(app):
    app.setup_extension("sphinx_proof")
    use_titled_proof_index(app)
    app.connect("doctree-read", record_proof_titles)
    app.connect("env-purge-doc", purge_proof_titles)
    app.connect("env-merge-info", merge_proof_titles)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
