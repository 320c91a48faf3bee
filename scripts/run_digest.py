"""`make digest`: run the hourly digest now against the local stack and print the emails it sent.

`--at 2026-11-24T09:00:00Z` runs it as if it were that moment (so tomorrow morning's digests go out today).
The same steps as the hourly schedule and its jobs, run one after another in this process.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import urllib.request
from datetime import datetime

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def ses_messages(moto_port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/moto-api/data.json", timeout=10) as reply:
        return json.load(reply).get("ses", {}).get("RawMessage", [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", 5555)))
    parser.add_argument("--at", help="run as of this UTC time (ISO 8601)")
    arguments = parser.parse_args()
    from scripts.run_local import local_environment

    os.environ.update(local_environment(arguments.moto_port))
    from chalicelib import clock
    from chalicelib.notifications import digest

    if arguments.at:
        moment = datetime.fromisoformat(arguments.at.replace("Z", "+00:00"))
        clock.set_clock(lambda: moment)
    before = len(ses_messages(arguments.moto_port))
    # In this process, not through the queue: `make run`'s worker would run queued jobs at the real time.
    for user, outcome in digest.run_inline().items():
        print(f"digest {user}: {outcome}")
    sent = ses_messages(arguments.moto_port)[before:]
    for message in sent:
        print(f"===== to {(message.get('destinations') or [''])[0]}")
        print(message.get("raw_data", ""))
    print(f"({len(sent)} email(s) sent by this digest run)")


if __name__ == "__main__":
    main()
