"""The project's own configuration: CI, the GitHub workflow and the pins agree with each other."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _commands(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_workflow_is_valid_yaml_and_runs_what_ci_runs():
    workflow = yaml.safe_load((ROOT / ".github/workflows/book.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    assert triggers["schedule"][0]["cron"].split()[-1] == "1"  # weekly
    steps = " ".join(step.get("run", "") for step in workflow["jobs"]["build"]["steps"])
    ci = (ROOT / ".ci/run").read_text()
    for command in ("pytest --nbval", "jupyter-book build . --warningiserror --keep-going",
                    "python tests/browser/check_book.py _build/html"):
        assert command in _commands(ci), command
        assert command in _commands(steps), command
    assert "deploy-pages" in str(workflow["jobs"]["deploy"]["steps"])


def test_readme_states_the_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert "pytest --nbval" in readme
    assert "pip install -r requirements.txt && jupyter-book build . --warningiserror --keep-going" in readme


def test_requirements_pin_torch_and_cap_jupyter_book():
    reqs = (ROOT / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in reqs if "==" in line and not line.startswith("#"))
    assert pins["torch"] == "2.13.0"
    assert pins["jupyter-book"].startswith("1.")
    assert reqs[-1].strip() == "-e ."
    binder = (ROOT / "binder/requirements.txt").read_text()
    assert "torch==2.13.0+cpu" in binder and "download.pytorch.org/whl/cpu" in binder


def test_every_toc_entry_exists_and_every_chapter_is_listed():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    def entries(items):  # chapters and, recursively, their sections
        for c in items:
            yield c["file"]
            yield from entries(c.get("sections", []))

    files = [toc["root"]] + [f for part in toc["parts"] for f in entries(part["chapters"])]
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f
    chapters = {f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("*.ipynb")}
    assert chapters <= set(files)
