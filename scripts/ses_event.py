"""`make ses-event`: feed an SES event through the app's own SNS handler, against the local stack.

Either a file (`--file event.json`, any SES event or identity notification) or a simulation for a copy
that was really sent (`--simulate bounce|soft-bounce|complaint|delivery|open|click --ses-message-id ID
--recipient EMAIL`; `make mails` prints both for each email).
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

SAMPLES = ROOT / "tests" / "fixtures" / "ses"
SIMULATIONS = {"bounce": "event_bounce", "soft-bounce": "event_bounce", "complaint": "event_complaint",
               "delivery": "event_delivery", "open": "event_open", "click": "event_click"}


def simulated(kind: str, ses_message_id: str, recipient: str) -> dict:
    from chalicelib import clock

    event = copy.deepcopy(json.loads((SAMPLES / f"{SIMULATIONS[kind]}.json").read_text()))
    event["mail"].update({"messageId": ses_message_id, "destination": [recipient]})
    now = clock.now_iso()
    if "bounce" in event:
        event["bounce"].update({"bouncedRecipients": [{**event["bounce"]["bouncedRecipients"][0],
                                                       "emailAddress": recipient}], "timestamp": now,
                                "feedbackId": f"local-{now}"})
        if kind == "soft-bounce":
            event["bounce"]["bounceType"] = "Transient"
    if "complaint" in event:
        event["complaint"].update({"complainedRecipients": [{"emailAddress": recipient}], "timestamp": now,
                                   "feedbackId": f"local-{now}"})
    for section in ("delivery", "open", "click"):
        if section in event:
            event[section]["timestamp"] = now
    if "delivery" in event:
        event["delivery"]["recipients"] = [recipient]
    return event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file")
    parser.add_argument("--simulate", choices=sorted(SIMULATIONS))
    parser.add_argument("--ses-message-id")
    parser.add_argument("--recipient")
    local_stack.add_arguments(parser)
    arguments = parser.parse_args()
    os.environ.update(local_stack.environment(local_stack.resolve(arguments)))
    if arguments.file:
        message = pathlib.Path(arguments.file).read_text()
    elif arguments.simulate and arguments.ses_message_id and arguments.recipient:
        message = json.dumps(simulated(arguments.simulate, arguments.ses_message_id, arguments.recipient.lower()))
    else:
        parser.error("give --file, or --simulate with --ses-message-id and --recipient")
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as client:
        response = client.lambda_.invoke("ses_events", client.events.generate_sns_event(message=message))
    print(json.dumps(response.payload))


if __name__ == "__main__":
    main()
