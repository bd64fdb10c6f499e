"""The project's own configuration: CI, the GitHub workflow and the pins agree with each other."""

import re
from pathlib import Path

import pytest
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


# Chapters whose Colab cell still writes the address literally (none of chapters 1-3 does now).
COLAB_ADDRESS_PENDING: set[str] = set()


def _repository():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ci_repository", ROOT / ".ci/repository.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tracked_text_files():
    import subprocess

    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, out.split("\0")):
        path = ROOT / name
        if path.is_file() and path.suffix not in {".png", ".svg", ".jpg", ".pdf"}:
            try:
                yield name, path.read_text()
            except UnicodeDecodeError:
                continue


def test_repository_address_is_written_in_one_place():
    url = _repository().repository_url()
    slug = url.removeprefix("https://github.com/")
    assert url.startswith("https://github.com/") and slug.count("/") == 1, url
    elsewhere = sorted(name for name, text in _tracked_text_files()
                       if slug in text and name != "_config.yml" and name not in COLAB_ADDRESS_PENDING)
    assert not elsewhere, f"the repository's address {slug} is written outside _config.yml: {elsewhere}"


def test_workflow_fills_the_address_from_the_repository_it_runs_in():
    workflow = yaml.safe_load((ROOT / ".github/workflows/book.yml").read_text())
    runs = [step.get("run", "") for step in workflow["jobs"]["build"]["steps"]]
    fill = next(i for i, r in enumerate(runs) if 'repository.py --set "$GITHUB_REPOSITORY"' in r)
    build = next(i for i, r in enumerate(runs) if "jupyter-book build" in r)
    tests = next(i for i, r in enumerate(runs) if "pytest" in r)
    assert fill < tests < build


def test_set_repository_rewrites_the_config_and_the_colab_cells(tmp_path, monkeypatch):
    repo = _repository()
    (tmp_path / "chapters").mkdir()
    config = (ROOT / "_config.yml").read_text()
    (tmp_path / "_config.yml").write_text(config)
    cell = 'REPOSITORY = "{{ repository.url }}"\nsubprocess.run(["pip", "install", f"git+{REPOSITORY}"])\n'
    (tmp_path / "chapters/01_x.py").write_text(cell)
    (tmp_path / "chapters/02_y.ipynb").write_text('["\\"git+https://github.com/old-owner/old.repo\\"]"]')
    monkeypatch.setattr(repo, "ROOT", tmp_path)
    monkeypatch.setattr(repo, "CONFIG", tmp_path / "_config.yml")
    assert repo.set_repository("someone/book-2") == "https://github.com/someone/book-2"
    assert repo.repository_url() == "https://github.com/someone/book-2"
    assert (tmp_path / "_config.yml").read_text().replace("someone/book-2", "") == \
        config.replace(repo.repository_url(config).removeprefix("https://github.com/"), "")
    assert 'REPOSITORY = "https://github.com/someone/book-2"' in (tmp_path / "chapters/01_x.py").read_text()
    assert "git+https://github.com/someone/book-2" in (tmp_path / "chapters/02_y.ipynb").read_text()
    with pytest.raises(SystemExit):
        repo.set_repository("not a slug")
