"""`make mails`: print every email the local SES (moto) accepted, raw MIME with all headers.

The mailbox page of `make run` shows the same mail as each recipient sees it, with buttons to reply.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import local_stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    local_stack.add_arguments(parser)
    parser.add_argument("--last", type=int, default=0, help="only the last N messages")
    arguments = parser.parse_args()
    ports = local_stack.resolve(arguments)
    messages = local_stack.ses_messages(ports)
    for message in messages[-arguments.last:] if arguments.last else messages:
        # moto appends header addresses to Destinations; the first is the one recipient of this copy.
        recipient = (message.get("destinations") or [""])[0]
        print(f"===== SES message id {message.get('id')} → {recipient}")
        print(f"      (make ses-event KIND=bounce SES_ID={message.get('id')} TO={recipient})")
        print(message.get("raw_data", ""))
    print(f"({len(messages)} message(s); as each recipient sees them: {ports.mailbox_url})")


if __name__ == "__main__":
    main()
