"""Index the tags of the board's existing threads, once, after deploying the tag index (docs/deployment.md).

`STAGE=dev AWS_REGION=eu-west-1 .venv/bin/python scripts/backfill_tag_index.py` queues the job
`community.tag_index` on the stage's jobs queue: the `jobs` Lambda indexes a page of threads per run and queues
the next, and the sweeper resumes it if a run dies. `--here` runs the same pages in this process instead,
printing progress. Either is safe to repeat and to run while the board is in use.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--here", action="store_true", help="run the pages in this process, not on the jobs queue")
    arguments = parser.parse_args()
    from chalicelib import jobs
    from chalicelib.community import tags

    if arguments.here:
        payload: dict | None = {}
        while payload is not None:
            payload = tags.backfill(payload)
            if payload is not None:
                print(f"{payload['threads']} threads read", flush=True)
        print("every thread is indexed")
        return
    record = jobs.new_job("community.tag_index", {})
    record.save()
    queued = jobs.dispatch(record)
    print(f"job {record.job_id} {'queued' if queued else 'saved; the sweeper will queue it within 5 minutes'}")


if __name__ == "__main__":
    main()
