"""`make deliver FILE=reply.eml`: deliver a raw email as SES receiving would: S3 object + SNS receipt notification.

Runs the app's own `inbound_mail` handler against the local stack (or the current AWS endpoint).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts import local_stack  # noqa: E402

RECEIPT_SAMPLE = ROOT / "tests" / "fixtures" / "ses" / "received_s3_action_alert.json"


def receipt_notification(bucket: str, key: str, recipients: list[str], verdicts: dict[str, str] | None = None) -> dict:
    """The documented SES `Received` notification (S3 action), naming our bucket, object and recipients, received
    now (the app's clock)."""
    from chalicelib import clock

    notification = copy.deepcopy(json.loads(RECEIPT_SAMPLE.read_text()))
    now = clock.now_iso()
    notification["receipt"]["timestamp"] = notification["mail"]["timestamp"] = now
    notification["receipt"]["recipients"] = recipients
    notification["receipt"]["action"].update({"bucketName": bucket, "objectKey": key})
    for name, status in (verdicts or {}).items():
        notification["receipt"][f"{name}Verdict"] = {"status": status}
    return notification


def deliver(client, raw: bytes, recipients: list[str], verdicts: dict[str, str] | None = None) -> list[dict]:
    import uuid

    import boto3

    bucket = os.environ.get("INBOUND_BUCKET", f"discussion-hub-{os.environ.get('STAGE', 'local')}-inbound-mail")
    key = f"inbound/{uuid.uuid4()}"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=raw)
    event = client.events.generate_sns_event(message=json.dumps(receipt_notification(bucket, key, recipients,
                                                                                     verdicts)))
    return client.lambda_.invoke("inbound_mail", event).payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    parser.add_argument("--to", action="append", default=[], help="envelope recipient(s); default: the To header")
    local_stack.add_arguments(parser)
    arguments = parser.parse_args()
    os.environ.update(local_stack.environment(local_stack.resolve(arguments)))
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as client:
        print(json.dumps(deliver(client, pathlib.Path(arguments.file).read_bytes(), arguments.to)))


if __name__ == "__main__":
    main()
