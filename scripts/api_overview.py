"""Write the list of every operation in docs/api.md from the OpenAPI document (one source: chalicelib/openapi.json).

`python scripts/api_overview.py` rewrites the part of docs/api.md between its two markers; tests/test_docs.py fails
when that part and the document disagree.
"""
from __future__ import annotations

import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "chalicelib" / "openapi.json"
PAGE = ROOT / "docs" / "api.md"
BEGIN = "<!-- operations: generated from chalicelib/openapi.json by scripts/api_overview.py -->"
END = "<!-- end of the generated operations -->"
METHODS = ("get", "put", "post", "delete", "patch", "head")


def operations_table(document: dict) -> str:
    """One table per tag, in the document's tag order: method, path, summary, whether it needs a token."""
    default_security = document.get("security")
    by_tag: dict[str, list[str]] = {tag["name"]: [] for tag in document.get("tags", [])}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            token = "yes" if operation.get("security", default_security) else "no"
            summary = operation.get("summary", "").replace("|", "\\|")
            row = f"| {method.upper()} | `{path}` | {summary} | {token} |"
            by_tag.setdefault((operation.get("tags") or ["other"])[0], []).append(row)
    descriptions = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    sections = []
    for tag, rows in by_tag.items():
        if rows:
            heading = f"**{tag}**" + (f": {descriptions[tag]}" if descriptions.get(tag) else "")
            sections.append("\n".join([heading, "", "| method | path | what | token |", "|---|---|---|---|", *rows]))
    return "\n\n".join(sections)


def generated_block(document: dict) -> str:
    return f"{BEGIN}\n\n{operations_table(document)}\n\n{END}"


def rewrite(page: str, document: dict) -> str:
    start, end = page.index(BEGIN), page.index(END) + len(END)
    return page[:start] + generated_block(document) + page[end:]


def main() -> None:
    PAGE.write_text(rewrite(PAGE.read_text(), json.loads(DOCUMENT.read_text())))


if __name__ == "__main__":
    main()
