"""`make digest`: run the hourly digest now against the local stack and print the emails it sent.

`--at 2026-11-24T09:00:00Z` runs it as if it were that moment (so tomorrow morning's digests go out today).
The digest runs through the app's own `digest_tick` schedule handler and `jobs` queue handler.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
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
    import boto3
    from chalice.test import Client

    from app import app
    from chalicelib import clock, jobs

    if arguments.at:
        moment = datetime.fromisoformat(arguments.at.replace("Z", "+00:00"))
        clock.set_clock(lambda: moment)
    before = len(ses_messages(arguments.moto_port))
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]
    with Client(app, stage_name="local") as client:
        tick = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                               resources=[])
        client.lambda_.invoke("digest_tick", tick)
        idle = 0
        while idle < 3:  # `make run`'s own worker may take some of the jobs: wait until the queue is quiet
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", [])
            idle = 0 if messages else idle + 1
            for message in messages:
                event = client.events.generate_sqs_event(message_bodies=[message["Body"]],
                                                         queue_name=jobs.QUEUE_NAME)
                client.lambda_.invoke("jobs", event)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        time.sleep(0.5)
    sent = ses_messages(arguments.moto_port)[before:]
    for message in sent:
        print(f"===== to {(message.get('destinations') or [''])[0]}")
        print(message.get("raw_data", ""))
    print(f"({len(sent)} email(s) sent by this digest run)")


if __name__ == "__main__":
    main()
