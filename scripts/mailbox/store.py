"""The mail the local mailbox shows: what moto's SES was given, as each recipient would receive it, threaded.

Each SES copy has one recipient (the first of moto's `destinations`). The mail is shown *as delivered*: SES replaces
the Message-ID it is given with `<SES-ID@email.amazonses.com>` and sets Date to the moment it accepted the message
(SES developer guide, "Amazon SES header fields"; moto keeps the message as it was given), so the mailbox does the
same, and a reply quotes the id the recipient really saw, as it would against AWS. moto records no acceptance time:
the mailbox dates a message when it first reads it. The raw source stays what SES was given. Conversations are
built from Message-ID, In-Reply-To and References alone, as a mail client does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_SES_SETS = re.compile(rb"^(?:Message-ID|Date):[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*\r?\n", re.IGNORECASE | re.MULTILINE)
_ID = re.compile(r"<[^<>\s]+>")
_DISCUSSION = re.compile(r"<thread\.([^@>]+)@")


@dataclass
class Mail:
    """One message in a mailbox: a copy SES was given, or a reply the mailbox's owner sent from this page."""

    key: str                 # the SES message id, or `sent-N` for a reply written here
    mailbox: str             # whose mailbox it is in (the recipient, or the sender of a reply written here)
    raw: bytes               # as SES was given it (or as this page delivered it)
    delivered: bytes         # as the recipient receives it
    sent_here: bool = False
    outcome: str = ""        # for a reply written here: what the inbound handler did with it
    message: EmailMessage = field(init=False)

    def __post_init__(self) -> None:
        parsed = BytesParser(policy=policy.default).parsebytes(self.delivered)
        assert isinstance(parsed, EmailMessage)
        self.message = parsed

    def header(self, name: str) -> str:
        value = self.message.get(name)
        return str(value) if value is not None else ""

    @property
    def subject(self) -> str:
        return self.header("Subject") or "(no subject)"

    @property
    def sender(self) -> str:
        return self.header("From")

    @property
    def reply_address(self) -> str:
        """Where a reply goes: Reply-To, else From (the bare address)."""
        addresses = getaddresses([self.header("Reply-To") or self.header("From")])
        return addresses[0][1] if addresses else ""

    @property
    def message_id(self) -> str:
        found = _ID.findall(self.header("Message-ID"))
        return found[0] if found else f"<{self.key}@mailbox.local>"

    @property
    def references(self) -> list[str]:
        return _ID.findall(self.header("References"))

    @property
    def in_reply_to(self) -> list[str]:
        return _ID.findall(self.header("In-Reply-To"))

    @property
    def date(self) -> datetime:
        try:
            return parsedate_to_datetime(self.header("Date"))
        except (TypeError, ValueError):
            return datetime.fromtimestamp(0, UTC)

    @property
    def discussion_id(self) -> str | None:
        """The discussion a hub email belongs to, from the thread id the hub puts first in References."""
        found = _DISCUSSION.search(self.header("References"))
        return found.group(1) if found else None

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content().replace("\r\n", "\n") if body is not None else ""

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    @property
    def links(self) -> list[str]:
        """Every link of the HTML part (the tracked click links, the unsubscribe link), in order, once each."""
        collector = _Links()
        collector.feed(self.html)
        return list(dict.fromkeys(collector.links))

    def header_lines(self) -> list[tuple[str, str]]:
        """The header fields as they are on the wire, unfolded and not decoded."""
        head = _HEADER_END.split(self.delivered, maxsplit=1)[0].decode("utf-8", "replace")
        unfolded = re.sub(r"\r?\n[ \t]+", " ", head)
        return [(name, value.strip()) for name, _, value in
                (line.partition(":") for line in unfolded.splitlines() if ":" in line)]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith(("http://", "https://")):
            self.links.append(href)


def as_delivered(raw: bytes, ses_message_id: str, message_id_domain: str, accepted: datetime) -> bytes:
    """The message with the Message-ID and Date SES gives it: `<SES-ID@domain>` and the time it accepted it."""
    end = _HEADER_END.search(raw)
    head, body = (raw[:end.start()], raw[end.start():]) if end else (raw, b"")
    head = _SES_SETS.sub(b"", head + b"\r\n").rstrip(b"\r\n")
    added = f"Message-ID: <{ses_message_id}@{message_id_domain}>\r\nDate: {format_datetime(accepted)}\r\n"
    return added.encode() + head + body


def from_ses(messages: list[dict], message_id_domain: str, first_seen: dict[str, datetime]) -> list[Mail]:
    """moto's `ses.RawMessage` list (from /moto-api/data.json) as mail in each recipient's mailbox.

    `first_seen` remembers when each SES message id was first read, and stands for the time SES accepted it.
    """
    mails = []
    for item in messages:
        ses_id = str(item.get("id"))
        raw = (item.get("raw_data") or "").encode("utf-8", "surrogateescape")
        # moto appends the header addresses to Destinations; the first is the one recipient of this copy.
        recipient = ((item.get("destinations") or [""])[0] or "").lower()
        accepted = first_seen.setdefault(ses_id, datetime.now(UTC))
        mails.append(Mail(key=ses_id, mailbox=recipient, raw=raw,
                          delivered=as_delivered(raw, ses_id, message_id_domain, accepted)))
    return mails


@dataclass
class Conversation:
    mails: list[Mail]

    @property
    def subject(self) -> str:
        return self.mails[0].subject

    @property
    def latest(self) -> datetime:
        return max(mail.date for mail in self.mails)


def conversations(mails: list[Mail]) -> list[Conversation]:
    """Mail grouped as a client threads it: messages that share any id (own, In-Reply-To, References) go together.

    Newest conversation first; inside one, oldest message first.
    """
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for mail in mails:
        for anchor in (mail.message_id, *mail.in_reply_to, *mail.references):
            parent[root(f"mail:{mail.key}")] = root(anchor.lower())
    groups: dict[str, list[Mail]] = {}
    for mail in mails:
        groups.setdefault(root(f"mail:{mail.key}"), []).append(mail)
    threads = [Conversation(sorted(group, key=lambda mail: mail.date)) for group in groups.values()]
    return sorted(threads, key=lambda thread: thread.latest, reverse=True)
