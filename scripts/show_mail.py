"""`make mails`: print every email the local SES (moto) accepted, raw MIME with all headers."""
from __future__ import annotations

import argparse
import json
import os
import urllib.request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", 5555)))
    parser.add_argument("--last", type=int, default=0, help="only the last N messages")
    arguments = parser.parse_args()
    with urllib.request.urlopen(f"http://127.0.0.1:{arguments.moto_port}/moto-api/data.json", timeout=10) as reply:
        data = json.load(reply)
    messages = data.get("ses", {}).get("RawMessage", [])
    for message in messages[-arguments.last:] if arguments.last else messages:
        # moto appends header addresses to Destinations; the first is the one recipient of this copy.
        recipient = (message.get("destinations") or [""])[0]
        print(f"===== SES message id {message.get('id')} → {recipient}")
        print(f"      (make ses-event KIND=bounce SES_ID={message.get('id')} TO={recipient})")
        print(message.get("raw_data", ""))
    print(f"({len(messages)} message(s))")


if __name__ == "__main__":
    main()
