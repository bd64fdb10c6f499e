"""Run a chapter's code with other seeds and record which of its asserts still pass.

A chapter's claims about trained models must not depend on the seed it happens to use
(issue 13, item 7: "changing the seeds of its training cells changes no assert's outcome").
This script executes the chapter's percent-format source cell by cell, as the notebook does,
with every ``seed=<integer>`` literal in the code shifted by ``1000 * s`` for each requested
``s``. It records, for each ``s``, every cell that raised and why, and writes one JSON record
that ``tests/test_reseed.py`` checks against the chapter's current source.

    python tests/reseed_chapter.py chapters/03_relu_output_model.py --seeds 1-20 \
        --out tests/reseed/03_relu_output_model.json

Cells tagged ``remove-cell`` (the Colab install cell, live widgets) are skipped; ``glue`` and
``plt.show`` do nothing. A seed's run takes about as long as the chapter.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

SEED = re.compile(r"\bseed=(\d+)")


def code_cells(path: Path) -> list[str]:
    """The chapter's code cells, in order, without those tagged ``remove-cell``."""
    import jupytext

    nb = jupytext.read(path)
    return [c.source for c in nb.cells if c.cell_type == "code"
            and "remove-cell" not in c.metadata.get("tags", [])]


def source_hash(cells: list[str]) -> str:
    """SHA-256 of the code cells: the record is valid only for this exact code."""
    return hashlib.sha256("\n# %%\n".join(cells).encode()).hexdigest()


def shifted(source: str, s: int) -> str:
    """``source`` with every ``seed=<int>`` literal shifted by ``1000 * s``."""
    return SEED.sub(lambda m: f"seed={int(m.group(1)) + 1000 * s}", source)


def run_one(cells: list[str], s: int) -> dict:
    """Execute the cells with seeds shifted by ``s``; return the failures and the time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import myst_nb

    import toymodels as tm
    from toymodels.present import book

    quiet = lambda *a, **k: None  # noqa: E731
    myst_nb.glue = quiet
    book.glue = quiet
    tm.__dict__["glue"] = quiet
    plt.show = lambda *a, **k: plt.close("all")
    namespace: dict = {"__name__": "__reseed__"}
    failures, start = [], time.time()
    for i, source in enumerate(cells):
        try:
            exec(compile(shifted(source, s), f"<cell {i}>", "exec"), namespace)
        except Exception as err:  # record every failing cell, then go on
            line = traceback.extract_tb(err.__traceback__)[-1]
            failures.append({"cell": i, "line": line.lineno, "code": (line.line or "").strip(),
                             "error": f"{type(err).__name__}: {err}"[:300]})
        plt.close("all")
    return {"failures": failures, "seconds": round(time.time() - start, 1)}


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("chapter", type=Path)
    ap.add_argument("--seeds", default="1-20", help="shifts, e.g. 1-20 or 1,3,5")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    cells = code_cells(args.chapter)
    record = {"chapter": args.chapter.name, "source_sha256": source_hash(cells),
              "shift": "seed=<k> becomes seed=<k + 1000 s>", "runs": {}}
    if args.out.exists():  # resume: keep runs recorded for this very source
        old = json.loads(args.out.read_text())
        if old.get("source_sha256") == record["source_sha256"]:
            record["runs"] = old["runs"]
    os.environ.setdefault("TOYMODELS_PROGRESS", "0")
    for s in parse_seeds(args.seeds):
        if str(s) in record["runs"]:
            continue
        # each shift in a fresh interpreter: nothing leaks from one run into the next
        import subprocess

        code = ("import json, sys; sys.path.insert(0, 'tests'); import reseed_chapter as r; "
                f"print('@@' + json.dumps(r.run_one(r.code_cells(r.Path({str(args.chapter)!r})), {s})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        lines = [x for x in out.stdout.splitlines() if x.startswith("@@")]
        result = json.loads(lines[-1][2:]) if lines else {
            "failures": [{"cell": -1, "line": 0, "code": "", "error": out.stderr[-300:]}],
            "seconds": None}
        record["runs"][str(s)] = result
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        bad = "; ".join(f"cell {f['cell']}: {f['error'][:80]}" for f in result["failures"])
        print(f"shift {s}: {result['seconds']} s, {len(result['failures'])} failing cells {bad}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
