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
        print(f"===== SES message id {message.get('id')} → {', '.join(message.get('destinations', [])[:1])}")
        print(message.get("raw_data", ""))
    print(f"({len(messages)} message(s))")


if __name__ == "__main__":
    main()
