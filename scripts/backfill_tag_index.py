"""Index the tags of the board's existing threads, once, after deploying the tag index (docs/deployment.md).

    STAGE=dev AWS_REGION=eu-west-1 .venv/bin/python scripts/backfill_tag_index.py

With the operator's AWS credentials (it Scans the threads table, which the functions' roles may not). A page of
threads at a time; it prints where each page ends, and `--after KEY` resumes there. Safe to repeat and to run
while the board is in use.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--after", type=json.loads, help="resume after this key (as printed by an earlier run)")
    arguments = parser.parse_args()
    from chalicelib.community import tags

    after, pages = arguments.after, 0
    while True:
        after = tags.backfill_page(after)
        pages += 1
        if after is None:
            break
        print(f"page {pages} done; to resume: --after '{json.dumps(after)}'", flush=True)
    print(f"every thread is indexed ({pages} pages)")


if __name__ == "__main__":
    main()
