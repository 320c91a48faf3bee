"""The documentation stays true to what it describes: the operations list comes from the OpenAPI document, every
link between the pages leads somewhere, and the README's first screen says how to start and where to click."""
from __future__ import annotations

import json
import re

from scripts.api_overview import BEGIN, DOCUMENT, END, PAGE, generated_block
from tests.conftest import ROOT

PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_operations_in_docs_api_md_are_the_openapi_document_s():
    page = PAGE.read_text()
    block = page[page.index(BEGIN):page.index(END) + len(END)]

    assert block == generated_block(json.loads(DOCUMENT.read_text())), "run: python scripts/api_overview.py"


def test_every_operation_of_the_document_is_listed():
    document = json.loads(DOCUMENT.read_text())
    listed = set(re.findall(r"^\| ([A-Z]+) \| `([^`]+)` \|", PAGE.read_text(), re.MULTILINE))

    assert listed == {(method.upper(), path) for path, item in document["paths"].items() for method in item
                      if method in {"get", "put", "post", "delete", "patch", "head"}}


def test_every_link_between_pages_leads_to_a_file():
    for page in PAGES:
        prose = re.sub(r"`[^`]*`", "", page.read_text())  # `@[Ann](2)` is mention markup, not a link
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", prose):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to {target}"


def test_the_readme_s_first_screen_says_how_to_start_and_where_to_click():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:25])

    for needed in ("make run", "make test", "http://127.0.0.1:8000/docs", "http://127.0.0.1:8025", "in memory"):
        assert needed in first_screen, needed
