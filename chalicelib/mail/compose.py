"""The one place that builds MIME: a discussion message or a notification for one recipient, as raw bytes.

Two kinds of header, two rules:
- Text a person reads (From, To, Cc, Subject) goes through the standard `email` package (policy.SMTP), never
  concatenated: non-ASCII is RFC 2047 encoded and CR/LF can never start a new header.
- Identifiers a program reads (Message-ID, In-Reply-To, References, Reply-To, List-Unsubscribe,
  List-Unsubscribe-Post, List-Id) are written literally and folded only at the whitespace between items
  (RFC 5322 §2.2.3 and §3.6.4, RFC 2369, RFC 8058). With policy.SMTP's 78-character lines the `email` package
  turns any longer token into an encoded-word, and a Message-ID as SES writes it is 82 characters: clients then
  see neither the id nor the URL (NOTES.md, "Learned by measuring the sent bytes"). `LiteralHeader` is the
  `email` package's own header-object hook (a value with `name` and `fold`), so the package writes it as given.
"""
from __future__ import annotations

import functools
import pathlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime

from markupsafe import Markup, escape

from chalicelib.validation import CONTROL_CHARACTERS, LINE_BREAKS

TEMPLATES = pathlib.Path(__file__).parent / "templates"
URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
# Header values: every control character and line break (validation's one rule), and tab, become a space.
_NOT_IN_HEADERS = re.compile(f"[\t{CONTROL_CHARACTERS}{LINE_BREAKS}]+")
# "=?" opens an RFC 2047 encoded-word. The email package decodes encoded-words in any value given to a header,
# so user text like "=?utf-8?q?Hi=0D=0ABcc:...?=" would come out as a raw CR/LF and a new header. A WORD JOINER
# (invisible) between "=" and "?" keeps the text as typed; being non-ASCII, the value is then properly encoded.
_ENCODED_WORD_OPENER = "=?"
_DISARMED_OPENER = "=\u2060?"
# One item of a literal header: printable ASCII without whitespace (RFC 5322 VCHAR).
_ITEM = re.compile(r"^[\x21-\x7e]+$")
# A msg-id as clients write them: "<" id ">" with no whitespace, angle bracket or control character inside.
_MSG_ID = re.compile(r"^<[\x21-\x3b\x3d\x3f-\x7e]+>$")
SOFT_LINE = 78    # RFC 5322 §2.1.1: SHOULD
HARD_LINE = 998   # RFC 5322 §2.1.1: MUST, without the CRLF
MAX_MSG_ID = 250  # the longest id we carry; longer ones (none seen in practice) are left out of References


class LiteralHeader(str):
    """A header of ASCII items written exactly as given, folded only at the whitespace between items."""

    defects: tuple[()] = ()

    def __new__(cls, name: str, items: list[str]) -> LiteralHeader:
        for item in items:
            if not _ITEM.match(item) or len(name) + 2 + len(item) > HARD_LINE:
                raise ValueError(f"{name}: {item[:40]!r}… is not a printable ASCII item of at most {HARD_LINE} "
                                 "octets with its header name")
        if not items:
            raise ValueError(f"{name} needs at least one item")
        value = super().__new__(cls, " ".join(items))
        value.name = name
        value.items = list(items)
        return value

    name: str
    items: list[str]

    def fold(self, *, policy: Policy) -> str:
        lines = [f"{self.name}: {self.items[0]}"]
        for item in self.items[1:]:
            if len(lines[-1]) + 1 + len(item) <= SOFT_LINE:
                lines[-1] += f" {item}"
            else:
                lines.append(f" {item}")  # a fold is CRLF + the whitespace that was between two items
        return policy.linesep.join(lines) + policy.linesep


def message_id_or_none(value: str | None) -> str | None:
    """A Message-ID fit to be written into In-Reply-To/References, or None (ids from other mailers are untrusted)."""
    candidate = (value or "").strip()
    if not candidate or len(candidate) > MAX_MSG_ID + 2 or not _MSG_ID.match(candidate) or "@" not in candidate:
        return None
    return candidate


def dot_atom(text: str) -> str:
    """Text usable inside a msg-id's left part (RFC 5322 dot-atom-text): every other character becomes '-'."""
    return re.sub(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]", "-", text).strip(".") or "x"


@dataclass(frozen=True)
class Person:
    email: str
    name: str | None = None

    def address(self) -> Address:
        username, _, domain = self.email.partition("@")
        return Address(display_name=header_safe(self.name or ""), username=username, domain=domain)


@dataclass(frozen=True)
class HistoryItem:
    """One earlier message quoted below a new one: who wrote it and when, as a person reads them."""
    author: str
    written: str   # "Mon, 30 Nov 2026 at 23:56", in the tenant's time zone
    body: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # maintype/subtype
    data: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DownloadLink:
    """An attachment too large to travel in the mail: a time-limited link instead."""
    filename: str
    size: int
    url: str
    expires: str   # when the link stops working, as a person reads it


@dataclass
class OutboundEmail:
    sender: Person
    recipient: Person
    to: list[Person]
    cc: list[Person]
    reply_to: str
    subject: str
    message_id: str
    in_reply_to: str | None
    references: list[str]
    body: str
    signature: str | None
    history: list[HistoryItem] = field(default_factory=list)
    pixel_url: str = ""   # empty: no pixel (SES's tracker is the one in use)
    links: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    download_links: list[DownloadLink] = field(default_factory=list)
    date: datetime | None = None


def header_safe(value: str) -> str:
    """User text made safe for a header: no line break or control character, no encoded-word to be decoded."""
    return _NOT_IN_HEADERS.sub(" ", value).strip().replace(_ENCODED_WORD_OPENER, _DISARMED_OPENER)


def human_date(moment: datetime) -> str:
    """A date as mail clients write it in an attribution line: "Mon, 30 Nov 2026 at 23:56"."""
    return moment.strftime("%a, %d %b %Y at %H:%M")


@functools.lru_cache(maxsize=1)
def _environment():
    from chalicelib import templating  # Jinja2 loads on first send: routes that never mail do not pay for it

    return templating.environment(TEMPLATES)  # precompiled when packaged


def rewrite_links(text: str, link_url: Callable[[int], str] | None, links: list[str]) -> tuple[str, Markup]:
    """Replace each URL by its click-tracking URL (none: kept as is): the text version and the escaped HTML."""
    text_parts: list[str] = []
    html_parts: list[Markup] = []
    position = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        end = match.start() + len(url)
        if url not in links:
            links.append(url)
        target = link_url(links.index(url)) if link_url else url
        text_parts += [text[position:match.start()], target]
        html_parts += [escape(text[position:match.start()]),
                       Markup('<a href="{}">{}</a>').format(target, url)]
        position = end
    text_parts.append(text[position:])
    html_parts.append(escape(text[position:]))
    html = Markup("").join(html_parts).replace("\r\n", "\n").replace("\n", Markup("<br>\n"))
    return "".join(text_parts), Markup(html)


def _new_message(sender: Person, subject: str, message_id: str, date: datetime | None) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender.address()
    message["Subject"] = header_safe(subject)
    message["Date"] = format_datetime(date) if date else format_datetime(_now())
    message["Message-ID"] = LiteralHeader("Message-ID", [message_id])
    return message


def _now() -> datetime:
    from chalicelib import clock

    return clock.now()


def _add_attachments(message: EmailMessage, attachments: list[Attachment]) -> None:
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        # A non-ASCII filename is written as an RFC 2231 parameter (filename*=utf-8''...) by the email package.
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename,
                               params=attachment.params)


def build(email: OutboundEmail, link_url: Callable[[int], str] | None) -> bytes:
    """The raw RFC 5322 bytes of one recipient's copy; `email.links` collects the URLs in order."""
    body_text, body_html = rewrite_links(email.body, link_url, email.links)
    history = []
    for item in email.history:
        text, html = rewrite_links(item.body, link_url, email.links)
        history.append({"author": item.author, "written": item.written, "body_text": text, "body_html": html})
    context = {"body_text": body_text, "body_html": body_html, "signature": email.signature,
               "history": history, "pixel_url": email.pixel_url, "download_links": email.download_links}
    environment = _environment()

    message = _new_message(email.sender, email.subject, email.message_id, email.date)
    if email.to:
        message["To"] = [person.address() for person in email.to]
    else:
        message["To"] = email.recipient.address()
    if email.cc:
        message["Cc"] = [person.address() for person in email.cc]
    message["Reply-To"] = LiteralHeader("Reply-To", [email.reply_to])
    if email.in_reply_to:
        message["In-Reply-To"] = LiteralHeader("In-Reply-To", [email.in_reply_to])
    if email.references:
        message["References"] = LiteralHeader("References", email.references)
    # Ask Exchange and friends not to answer with out-of-office mail (NOTES.md: mail loops).
    message["X-Auto-Response-Suppress"] = "All"
    # Quoted-printable keeps every line 7-bit and short: 8-bit bodies do not survive every relay intact.
    message.set_content(environment.get_template("discussion_message.txt").render(context), cte="quoted-printable")
    message.add_alternative(environment.get_template("discussion_message.html").render(context), subtype="html",
                            cte="quoted-printable")
    _add_attachments(message, email.attachments)
    return message.as_bytes()


@dataclass
class NotificationEmail:
    """A notification or digest to one user, already rendered; one-click unsubscribe per RFC 8058."""
    sender: Person
    recipient: Person
    subject: str
    message_id: str
    text: str
    html: str
    unsubscribe_url: str | None = None
    list_id: str | None = None   # RFC 2919: "<notifications.reply-domain>", lets clients filter our mail
    attachments: list[Attachment] = field(default_factory=list)
    date: datetime | None = None


def build_notification(email: NotificationEmail) -> bytes:
    message = _new_message(email.sender, email.subject, email.message_id, email.date)
    message["To"] = email.recipient.address()
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders must not answer
    message["X-Auto-Response-Suppress"] = "All"
    if email.list_id:
        message["List-Id"] = LiteralHeader("List-Id", [email.list_id])
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = LiteralHeader("List-Unsubscribe", [f"<{email.unsubscribe_url}>"])
        message["List-Unsubscribe-Post"] = LiteralHeader("List-Unsubscribe-Post", ["List-Unsubscribe=One-Click"])
    message.set_content(email.text, cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", cte="quoted-printable")
    _add_attachments(message, email.attachments)
    return message.as_bytes()
