"""What the mailbox's buttons do as the recipient: reply, report a bounce/complaint/delivery, follow a link.

A reply is written as a mail client writes one (In-Reply-To and References naming the Message-ID the recipient saw,
the original quoted under an attribution line) and delivered through SES receiving's path on the local stack, as
`make deliver` does: the raw mail stored in the inbound S3 bucket, then the app's `inbound_mail` handler invoked with
SES's `Received` notification. A report goes through the app's `ses_events` handler as `make ses-event` does.
"""
from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from typing import Any

from scripts.mailbox.store import Mail

# A client keeps Message-IDs whole: with the email package's default 78-column limit, an SES Message-ID (82
# characters) in References would come out RFC 2047-encoded (NOTES.md, "policy.SMTP encodes long tokens").
CLIENT_POLICY = policy.SMTP.clone(max_line_length=998)
REPORTS = ("delivery", "bounce", "soft-bounce", "complaint")
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)


def compose_reply(original: Mail, sender: str, text: str) -> bytes:
    """The raw reply `sender` writes to `original`: new text on top, the original quoted below, threaded by headers."""
    names = {address.lower(): name for name, address in getaddresses(
        [original.header("To"), original.header("Cc")])}
    subject = original.subject
    message = EmailMessage(policy=CLIENT_POLICY)
    message["From"] = formataddr((names.get(sender.lower(), ""), sender))
    message["To"] = original.reply_address
    message["Subject"] = subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "mailbox.local")
    message["In-Reply-To"] = original.message_id
    message["References"] = " ".join([*original.references, original.message_id])
    message["User-Agent"] = "Discussion Hub local mailbox"
    quoted = "\n".join(f"> {line}" if line else ">" for line in original.text.splitlines())
    message.set_content(f"{text.strip()}\n\nOn {original.header('Date')}, {original.sender} wrote:\n{quoted}\n")
    return message.as_bytes()


class Recipient:
    """Acts on the local stack as a recipient would; one action at a time (they share the app's test client)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def deliver(self, raw: bytes, to: str) -> dict[str, Any]:
        """SES receiving's path: S3 object + SNS-shaped `Received` notification to the `inbound_mail` handler."""
        from chalice.test import Client

        from app import app
        from scripts.deliver_mail import deliver

        with self._lock, Client(app, stage_name="local") as client:
            return deliver(client, raw, [to])[0]

    def report(self, kind: str, mail: Mail) -> dict[str, Any]:
        """An SES event for this copy (its SES message id and recipient) through the `ses_events` handler."""
        from chalice.test import Client

        from app import app
        from scripts.ses_event import simulated

        if kind not in REPORTS:
            raise ValueError(f"unknown report {kind!r}")
        event = simulated(kind, mail.key, mail.mailbox)
        with self._lock, Client(app, stage_name="local") as client:
            response = client.lambda_.invoke("ses_events", client.events.generate_sns_event(message=json.dumps(event)))
        return response.payload

    @staticmethod
    def follow(url: str, user_agent: str) -> tuple[int, str]:
        """GET a link as the recipient's browser would, without following the redirect: (status, where it leads)."""

        class Stay(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": "text/html,*/*"})
        try:
            with urllib.request.build_opener(Stay).open(request, timeout=10) as response:
                return response.status, response.headers.get("Location", "")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", "")
