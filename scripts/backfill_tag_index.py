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
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

BACKFILL_PAGE = 50  # threads one backfill step reads (one Scan page) and indexes, one transaction each


def backfill_page(after: dict[str, Any] | None) -> dict[str, Any] | None:
    """Index the tags of one page of existing threads; where the next page starts, or None at the end.

    For a stack deployed before the index existed. Safe to repeat and to run beside the live board: each thread's
    items are put in a transaction conditioned on the thread being as read (chalicelib/community/tags.py), and a
    thread that changed meanwhile was indexed by that change itself. A Scan, so it lives here, in an operator's
    tool run with the operator's credentials, never in the app: the functions' roles may not Scan
    (tests/test_packaging.py)."""
    from chalicelib.community import tags
    from chalicelib.community.models import CommunityThread
    from chalicelib.transactions import Tx

    threads = CommunityThread.scan(limit=BACKFILL_PAGE, last_evaluated_key=after)
    page = list(threads)
    for thread in page:
        if not thread.tag_set:
            continue
        tx = Tx()
        tx.check("thread", CommunityThread, thread.tenant_id, int(thread.thread_id),
                 tags.guard(thread, activity=True))
        tags.write(tx, thread.tenant_id, int(thread.thread_id), None, tags.Mirror.of(thread))
        tx.commit()
    return threads.last_evaluated_key if page else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--after", type=json.loads, help="resume after this key (as printed by an earlier run)")
    arguments = parser.parse_args()
    after, pages = arguments.after, 0
    while True:
        after = backfill_page(after)
        pages += 1
        if after is None:
            break
        print(f"page {pages} done; to resume: --after '{json.dumps(after)}'", flush=True)
    print(f"every thread is indexed ({pages} pages)")


if __name__ == "__main__":
    main()
