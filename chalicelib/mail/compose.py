"""The one place that builds MIME: a discussion message for one recipient, HTML with a text alternative.

Headers are set through the standard `email` package (policy.SMTP), never concatenated: addresses
and subjects are RFC 2047 encoded as needed, and CR/LF can never start a new header.
"""
from __future__ import annotations

import functools
import pathlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

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


@dataclass(frozen=True)
class Person:
    email: str
    name: str | None = None

    def address(self) -> Address:
        username, _, domain = self.email.partition("@")
        return Address(display_name=header_safe(self.name or ""), username=username, domain=domain)


@dataclass(frozen=True)
class HistoryItem:
    author: str
    created_at: str
    body: str


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
    pixel_url: str = ""
    links: list[str] = field(default_factory=list)


def header_safe(value: str) -> str:
    """User text made safe for a header: no line break or control character, no encoded-word to be decoded."""
    return _NOT_IN_HEADERS.sub(" ", value).strip().replace(_ENCODED_WORD_OPENER, _DISARMED_OPENER)


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2  # imported on first send: routes that never mail do not pay for it at cold start

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              autoescape=jinja2.select_autoescape(["html"]), keep_trailing_newline=True)


def rewrite_links(text: str, link_url: Callable[[int], str], links: list[str]) -> tuple[str, Markup]:
    """Replace each URL by its click-tracking URL: returns the text version and the escaped HTML version."""
    text_parts: list[str] = []
    html_parts: list[Markup] = []
    position = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        end = match.start() + len(url)
        if url not in links:
            links.append(url)
        tracked = link_url(links.index(url))
        text_parts += [text[position:match.start()], tracked]
        html_parts += [escape(text[position:match.start()]),
                       Markup('<a href="{}">{}</a>').format(tracked, url)]
        position = end
    text_parts.append(text[position:])
    html_parts.append(escape(text[position:]))
    html = Markup("").join(html_parts).replace("\r\n", "\n").replace("\n", Markup("<br>\n"))
    return "".join(text_parts), Markup(html)


def build(email: OutboundEmail, link_url: Callable[[int], str]) -> bytes:
    """The raw RFC 5322 bytes of one recipient's copy; `email.links` collects the tracked URLs in order."""
    body_text, body_html = rewrite_links(email.body, link_url, email.links)
    history = []
    for item in email.history:
        text, html = rewrite_links(item.body, link_url, email.links)
        history.append({"author": item.author, "created_at": item.created_at, "body_text": text, "body_html": html})
    context = {"body_text": body_text, "body_html": body_html, "signature": email.signature,
               "history": history, "pixel_url": email.pixel_url}
    environment = _environment()

    message = EmailMessage(policy=SMTP)
    message["From"] = email.sender.address()
    if email.to:
        message["To"] = [person.address() for person in email.to]
    else:
        message["To"] = email.recipient.address()
    if email.cc:
        message["Cc"] = [person.address() for person in email.cc]
    message["Reply-To"] = email.reply_to
    message["Subject"] = header_safe(email.subject)
    message["Message-ID"] = email.message_id
    if email.in_reply_to:
        message["In-Reply-To"] = email.in_reply_to
    if email.references:
        message["References"] = " ".join(email.references)
    # Ask Exchange and friends not to answer with out-of-office mail (NOTES.md: mail loops).
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(environment.get_template("discussion_message.txt").render(context))
    message.add_alternative(environment.get_template("discussion_message.html").render(context), subtype="html")
    return message.as_bytes()


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # maintype/subtype
    data: bytes
    params: dict[str, str] = field(default_factory=dict)


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
    attachments: list[Attachment] = field(default_factory=list)


def build_notification(email: NotificationEmail) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = email.sender.address()
    message["To"] = email.recipient.address()
    message["Subject"] = header_safe(email.subject)
    message["Message-ID"] = email.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders must not answer
    message["X-Auto-Response-Suppress"] = "All"
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{header_safe(email.unsubscribe_url)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps every line 7-bit: 8-bit bodies do not survive every relay (or moto) intact.
    message.set_content(email.text, cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", cte="quoted-printable")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename,
                               params=attachment.params)
    return message.as_bytes()
