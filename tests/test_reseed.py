"""The reseed records in ``tests/reseed/``: a chapter's asserts pass for 20 other seeds.

Issue 13, item 7: changing the seeds of a chapter's training cells must change no assert's
outcome. ``tests/reseed_chapter.py`` runs a chapter with every ``seed=<k>`` shifted to
``k + 1000 s`` and writes one JSON record; this file checks that each record belongs to the
chapter's *current* code (any edit of a code cell needs a new run), that it covers 20 distinct
shifts, and that no shift had a failing cell. It also tests the script's two small helpers.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import reseed_chapter  # noqa: E402

RECORDS = sorted((ROOT / "tests" / "reseed").glob("*.json"))
SHIFTS = 20


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_record_matches_the_chapter_and_every_shift_passes(path):
    record = json.loads(path.read_text())
    chapter = ROOT / "chapters" / record["chapter"]
    assert chapter.exists(), f"{path.name} names a chapter that does not exist: {chapter}"
    current = reseed_chapter.source_hash(reseed_chapter.code_cells(chapter))
    assert record["source_sha256"] == current, (
        f"{path.name} was recorded for other code than {chapter.name}'s: re-run "
        f"python tests/reseed_chapter.py chapters/{chapter.name} --seeds 1-20 "
        f"--out tests/reseed/{path.name}")
    shifts = {int(s) for s in record["runs"]}
    assert len(shifts) == len(record["runs"]) == SHIFTS and 0 not in shifts, (
        f"{path.name} covers shifts {sorted(shifts)}, not {SHIFTS} distinct non-zero ones")
    failing = {s: run["failures"] for s, run in record["runs"].items() if run["failures"]}
    assert not failing, f"{path.name}: cells fail under these seed shifts: {failing}"


def test_chapter_3_has_a_record():
    assert ROOT / "tests" / "reseed" / "03_relu_output_model.json" in RECORDS


def test_shifted_moves_every_seed_literal_and_nothing_else():
    src = ("tm.setup(seed=0)\ncfg = Config(seed=12, steps=3000)\nrng = default_rng(7)\n"
           "reseed=3\nf(seed= 4)\n")
    out = reseed_chapter.shifted(src, 2)
    assert out == ("tm.setup(seed=2000)\ncfg = Config(seed=2012, steps=3000)\n"
                   "rng = default_rng(7)\nreseed=3\nf(seed= 4)\n")
    assert reseed_chapter.shifted(src, 0) == src


def test_shifted_keeps_the_cells_distinct_across_shifts():
    src = "a = f(seed=5)\nb = g(seed=999)"
    outs = {reseed_chapter.shifted(src, s) for s in range(1, 21)}
    assert len(outs) == 20
    assert reseed_chapter.shifted(src, 20) == "a = f(seed=20005)\nb = g(seed=20999)"


@pytest.mark.parametrize("text, expected", [
    ("1-20", list(range(1, 21))),
    ("3", [3]),
    ("1,3,5", [1, 3, 5]),
    ("1-3,7,9-10", [1, 2, 3, 7, 9, 10]),
])
def test_parse_seeds(text, expected):
    assert reseed_chapter.parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["", "a", "1-b", "1,,2"])
def test_parse_seeds_refuses_what_is_not_a_list_of_ranges(text):
    with pytest.raises(ValueError):
        reseed_chapter.parse_seeds(text)


def test_source_hash_changes_with_any_code_edit():
    cells = ["x = 1", "assert x == 1"]
    assert reseed_chapter.source_hash(cells) == reseed_chapter.source_hash(list(cells))
    assert reseed_chapter.source_hash(cells) != reseed_chapter.source_hash(["x = 1", "assert x==1"])
    assert reseed_chapter.source_hash(cells) != reseed_chapter.source_hash(["x = 1\nassert x == 1"])
