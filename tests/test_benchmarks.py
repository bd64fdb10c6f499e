"""Smoke tests of the benchmarks: each ``benchmarks/*.py`` runs with its smallest arguments in a
subprocess, exits with status 0 and prints its result lines.

A benchmark is a measurement, so nothing here asserts a time: these tests only catch a
benchmark that no longer runs (an API it calls has changed, an argument was renamed), which
otherwise goes unnoticed until someone needs the figure.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

#: script -> (arguments, regular expressions that must each match a line of its output).
#: ``{tmp}`` is replaced by a temporary directory.
CASES = {
    "bench_basins.py": (["--quick", "--threads", "1"],
                        [r"^exact path, n = 200, .*\|grad\| < 1e-10 for [\d.]+%",
                         r"^sampled trainer, n = 20, ",
                         r"^ratio sampled / exact \(CPU\): +[\d.]+ +\(wall\): +[\d.]+$",
                         r"^exact +: .*\d+/200 = ", r"^sampled +: .*\d+/20 = ",
                         r"^exact wall time [\d.]+ s: (under|over) the 60 s target"]),
    "bench_data.py": (["--quick", "--threads", "1"],
                      [r"^ toymodels: max \|pooled moment - exact\| = ",
                       r"^speed-up over the baseline: [\d.]+x"]),
    "bench_restricted_loss.py": (["--quick"], [r"^ +8 +2 +5 +2 +[\d.]+x$"]),
    "bench_train.py": (["--smoke", "--rounds", "1"],
                       [r"^== intro: model relu, D=5, d=2, n=10, .* 100 steps",
                        r"^== large: model relu, D=200, d=20, .* 8 steps"]),
    "chapter_calls.py": (["--quick", "--save", "{tmp}/calls.npz", "--compare", "{tmp}/calls.npz"],
                         [r"^ch3_restarts: labels identical, .*: SAME$",
                          r"^ch4_dynamics: labels identical, .*: SAME$"]),
    "notebook_resources.py": (["--cores", "0", "{tmp}/tiny.ipynb"],
                              [r"^tiny\.ipynb +[\d.]+ +\d+ +ok$", r"^total notebook time "]),
}


def test_every_benchmark_has_a_smoke_test():
    assert sorted(p.name for p in BENCH.glob("*.py")) == sorted(CASES)


def _tiny_notebook(path: Path):
    import nbformat  # noqa: PLC0415 (only this case needs it)

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1 + 1)")]
    nbformat.write(nb, path)


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_and_prints_its_results(script, tmp_path):
    args, expected = CASES[script]
    if script == "notebook_resources.py":
        _tiny_notebook(tmp_path / "tiny.ipynb")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=900)
    assert out.returncode == 0, f"{script} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    for pattern in expected:
        assert re.search(pattern, out.stdout, re.MULTILINE), \
            f"{script}: no line matches {pattern!r} in\n{out.stdout}"
