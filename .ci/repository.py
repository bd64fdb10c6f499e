#!/usr/bin/env python3
"""The repository's address has one source: ``repository.url`` in ``_config.yml``.

    python .ci/repository.py                    # print it
    python .ci/repository.py --set OWNER/REPO   # point the book at github.com/OWNER/REPO

``--set`` writes ``https://github.com/OWNER/REPO`` into ``_config.yml`` (the launch buttons and the
repository and issue links of the built book come from there) and fills the address into the
chapters' hidden Colab install cells, which carry the placeholder ``{{ repository.url }}`` (a
literal ``git+https://github.com/...`` address there is replaced too). The GitHub workflow
runs it with ``$GITHUB_REPOSITORY`` before testing and building, so the published book names the
repository it was built from. ``tests/test_project_files.py`` fails if the address is written
anywhere else in the repository.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
PLACEHOLDER = "{{ repository.url }}"
_CONFIG_URL = re.compile(r"(^repository:\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*)(\S+)", re.M)
_COLAB_URL = re.compile(r"\{\{ repository\.url \}\}|(?<=git\+)https://github\.com/[\w.-]+/[\w.-]+")
_SLUG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def repository_url(config_text: str | None = None) -> str:
    """The address in ``_config.yml``'s ``repository.url``."""
    text = CONFIG.read_text() if config_text is None else config_text
    match = _CONFIG_URL.search(text)
    if not match:
        raise SystemExit("_config.yml has no repository.url")
    return match.group(2)


def chapter_sources() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.py")) + sorted((ROOT / "chapters").glob("*.ipynb"))


def set_repository(slug: str) -> str:
    """Point ``_config.yml`` and the chapters' Colab cells at ``https://github.com/<slug>``."""
    if not _SLUG.match(slug):
        raise SystemExit(f"expected OWNER/REPO (as in $GITHUB_REPOSITORY), got {slug!r}")
    url = f"https://github.com/{slug}"
    CONFIG.write_text(_CONFIG_URL.sub(lambda m: m.group(1) + url, CONFIG.read_text(), count=1))
    for path in chapter_sources():
        text = path.read_text()
        filled = _COLAB_URL.sub(lambda _m: url, text)
        if filled != text:
            path.write_text(filled)
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", metavar="OWNER/REPO", help="the repository, e.g. $GITHUB_REPOSITORY")
    args = parser.parse_args(argv)
    print(set_repository(args.set) if args.set else repository_url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
