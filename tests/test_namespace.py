"""The curated namespace ``import toymodels as tm`` (issue 12, item 4).

Every chapter imports nothing from the package but ``toymodels as tm``, and every ``tm.<name>`` it
uses is exported; the exported names are unique, resolve to the object their section says, and
shadow no submodule; ``import toymodels`` itself imports nothing heavy (submodules load on first
use).
"""

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import toymodels as tm

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))


def _package_imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "toymodels":
                    yield node.lineno, f"import {a.name}" + (f" as {a.asname}" if a.asname else "")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "toymodels":
            yield node.lineno, f"from {node.module} import ..."


def test_there_are_chapters():
    assert CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_imports_only_toymodels_as_tm(chapter):
    tree = ast.parse(chapter.read_text())
    bad = [(line, text) for line, text in _package_imports(tree)
           if text != "import toymodels as tm"]
    assert not bad, f"{chapter.name} imports from the package other than as tm: {bad}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_every_tm_name_a_chapter_uses_exists(chapter):
    tree = ast.parse(chapter.read_text())
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "tm"}
    assert used, f"{chapter.name} uses no tm.<name>"
    missing = sorted(name for name in used if name not in tm.__all__)
    assert not missing, f"{chapter.name} uses names toymodels does not export: {missing}"
    for name in used:
        getattr(tm, name)


def test_every_export_resolves_to_its_module_attribute():
    for name, (module, attr) in tm.WHERE.items():
        assert getattr(tm, name) is getattr(importlib.import_module(module), attr), name


def test_exports_are_unique_and_shadow_no_submodule():
    names = [n for section in tm.SECTIONS.values() for n in section]
    assert len(names) == len(set(names))
    submodules = {info.name.rpartition(".")[2]
                  for info in pkgutil.iter_modules(tm.__path__)}
    assert not submodules & set(names), "a tm name would be hidden by a submodule of the package"


def test_every_public_name_of_the_sections_is_in_its_module_all():
    for name, (module, attr) in tm.WHERE.items():
        mod = importlib.import_module(module)
        assert attr in getattr(mod, "__all__", ()), f"tm.{name}: {module}.{attr} is not public"


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        tm.no_such_name  # noqa: B018


def test_import_is_lazy():
    code = "import sys, toymodels; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    assert out == ["False", "False"], "import toymodels should not import torch or matplotlib"
