"""Each chapter notebook and its paired percent-format source (jupytext.toml) hold the same cells.

The .py file is what a reviewer reads in a diff; the .ipynb carries the executed outputs nbval
compares. If the two drift apart, the reviewed text is not what the book runs.
"""

from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip(), sorted(cell.metadata.get("tags", [])),
             cell.metadata.get("mystnb"))
            for cell in notebook.cells]


def test_every_chapter_has_a_source():
    assert NOTEBOOKS
    missing = [nb.name for nb in NOTEBOOKS if not nb.with_suffix(".py").exists()]
    assert not missing, f"notebooks without a paired .py source: {missing} (run: jupytext --sync)"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_and_source_agree(notebook):
    source = notebook.with_suffix(".py")
    ipynb_cells = _cells(jupytext.read(notebook))
    py_cells = _cells(jupytext.read(source))
    assert len(ipynb_cells) == len(py_cells), (
        f"{notebook.name} has {len(ipynb_cells)} cells, {source.name} has {len(py_cells)}: "
        f"run `jupytext --sync {source.relative_to(ROOT)}` and re-execute the notebook")
    for i, (a, b) in enumerate(zip(ipynb_cells, py_cells, strict=True)):
        assert a == b, (f"cell {i} of {notebook.name} differs from {source.name}: run "
                        f"`jupytext --sync {source.relative_to(ROOT)}` and re-execute the notebook")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_glued_values_are_plain_numbers(notebook):
    """A numpy scalar glued as is is stored as ``np.float64(...)``, which MyST-NB cannot format
    (``{glue:text}`x:.2f``` then warns, and the book build fails with ``-W``): glue ``float(x)``."""
    import json

    bad = []
    for i, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        for out in cell.get("outputs", []):
            value = out.get("data", {}).get("application/papermill.record/text/plain")
            value = "".join(value) if isinstance(value, list) else value
            if value is not None and value.startswith(("np.", "array(")):
                bad.append((i, value[:40]))
    assert not bad, f"{notebook.name}: glued numpy values (glue float(x) instead): {bad}"
