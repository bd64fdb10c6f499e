"""The package's shape (issue 12): small modules and short functions, so that a newcomer can read
any one of them in a sitting, and mathematics that does not draw."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "toymodels"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES = 420  # "about 400"
MAX_FUNCTION_LINES = 80
MATHEMATICS = ("linear", "tied", "relu", "lc")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_small(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE)} has {n} lines; split it by concept"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_functions_are_short(path):
    long = [(node.name, node.end_lineno - node.lineno + 1)
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.relative_to(PACKAGE)}: functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize("sub", MATHEMATICS)
def test_mathematics_does_not_draw(sub):
    drawing = [p.relative_to(PACKAGE) for p in (PACKAGE / sub).rglob("*.py")
               if "matplotlib" in p.read_text()]
    assert not drawing, f"plotting belongs in toymodels/present/, found in {drawing}"
