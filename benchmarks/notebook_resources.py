"""Time and peak memory of every chapter, run as a free Binder session would run it.

A free Binder session has 1-2 CPU cores and about 1.5-2 GB of memory. This script executes each
notebook in ``chapters/`` in a fresh kernel pinned to the given cores (``taskset``), measures its
wall time and the peak resident memory of the largest process of the run (the kernel), and
compares them with the budgets (1.5 GB; the time budget of each chapter's issue).

    python benchmarks/notebook_resources.py            # one core, as the smallest session
    python benchmarks/notebook_resources.py --cores 0,1
    python benchmarks/notebook_resources.py --cores 0,1 --engine reference   # the "before"

``--engine reference`` runs every chapter with the trainer's autograd engine (autograd through
the model and ``torch.optim``, the loop a reader would write), through the environment variable
``TOYMODELS_ENGINE``: the book's execution time without the fused trainer.

It is a measurement, not a test: it prints a table and exits non-zero when a budget is exceeded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMORY_BUDGET_MB = 1536
# Per-chapter time budgets on 2 cores, from the chapters' issues.
TIME_BUDGET_S = {"01": 60, "02": 90, "03": 120}

# Runs in a child interpreter so that RUSAGE_CHILDREN covers this notebook's run only.
CHILD = """
import json, resource, subprocess, sys, time
cmd = json.loads(sys.argv[1])
t0 = time.perf_counter()
rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
wall = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": rc, "wall": wall, "peak_mb": peak_kb / 1024}))
"""


def measure(notebook: Path, cores: str, engine: str) -> dict:
    cmd = ["jupyter", "nbconvert", "--to", "notebook", "--execute", "--stdout",
           "--ExecutePreprocessor.timeout=900", str(notebook)]
    if cores and shutil.which("taskset"):
        cmd = ["taskset", "-c", cores, *cmd]
    env = {**os.environ, "TOYMODELS_ENGINE": engine}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cmd)], capture_output=True,
                         text=True, check=True, cwd=ROOT, env=env)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="0", help="cores for taskset, e.g. '0' or '0,1'")
    parser.add_argument("--engine", default="fused", choices=["fused", "reference"],
                        help="the trainer's engine in every chapter (TOYMODELS_ENGINE)")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    n_cores = len(args.cores.split(","))
    print(f"{'notebook':42} {'wall (s)':>9} {'peak (MB)':>10}  verdict  [{n_cores} core(s), "
          f"{args.engine} engine]")
    failures, total = 0, 0.0
    t0 = time.perf_counter()
    for nb in notebooks:
        r = measure(nb, args.cores, args.engine)
        budget = TIME_BUDGET_S.get(nb.name[:2])
        problems = []
        if r["rc"] != 0:
            problems.append("raised")
        if r["peak_mb"] > MEMORY_BUDGET_MB:
            problems.append(f"memory > {MEMORY_BUDGET_MB} MB")
        if budget and n_cores >= 2 and r["wall"] > budget:
            problems.append(f"time > {budget} s")
        verdict = "ok" if not problems else "FAIL: " + ", ".join(problems)
        print(f"{nb.name:42} {r['wall']:9.1f} {r['peak_mb']:10.0f}  {verdict}")
        failures += bool(problems)
        total += r["wall"]
    print(f"total notebook time {total:.1f} s (wall {time.perf_counter() - t0:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
