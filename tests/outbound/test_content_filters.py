"""What a content filter looks at, for every kind of mail we send: a text part saying what the HTML says, real
text in the HTML, a Date, Auto-Submitted on automatic mail only, no URL on a bare IP in production settings.
SpamAssassin's own scores are measured by `make spam-score` (docs/mail-journeys.md)."""
from __future__ import annotations

import base64
import quopri
import re
from html.parser import HTMLParser

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests import rawmail

THREADS = "/api/tenant/threads"
URL = re.compile(r"https?://\S+")
BARE_IP_URL = re.compile(rb"https?://(\d{1,3}\.){3}\d{1,3}|https?://\[[0-9a-f:]+\]", re.IGNORECASE)


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.images = 0

    def handle_starttag(self, tag, attrs):
        self.images += tag == "img"

    def handle_data(self, data):
        self.words.append(data)


def _parts(raw: bytes) -> dict[str, str]:
    """text/plain and text/html bodies, decoded by hand (quoted-printable or base64)."""
    found = {}
    for chunk in re.split(rb"\r\n--=+\d+==(?:--)?\r\n", raw):
        head, _, body = chunk.partition(b"\r\n\r\n")
        kind = re.search(rb"Content-Type: text/(plain|html)", head)
        if not kind or b"attachment" in head:
            continue
        data = quopri.decodestring(body) if b"quoted-printable" in head else base64.b64decode(body)
        found[kind.group(1).decode()] = data.decode("utf-8")
    return found


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]{3,}", URL.sub(" ", text))}


@pytest.fixture
def production_links(monkeypatch):
    from chalicelib.config import settings

    monkeypatch.setenv("PUBLIC_BASE_URL", "https://api.example.com")
    monkeypatch.setenv("APP_DISCUSSION_URL", "https://app.example.com/discussions/{id}")
    monkeypatch.setenv("APP_COMMUNITY_THREAD_URL", "https://app.example.com/community/threads/{id}")
    settings.cache_clear()
    yield
    monkeypatch.undo()
    settings.cache_clear()


def _notification_mails() -> None:
    """A notification and a digest, rendered by the real templates and built and sent by the real code."""
    from chalicelib.mail import compose
    from chalicelib.notifications import email, rendering

    recipient = email.Recipient("sam@acme.example", "Sam Staff", compose.Person("hub@acme.example", "Acme Events"),
                                "reply.acme.example")
    context = {**rendering.NOTIFICATION_SAMPLE, "link": "https://app.example.com/discussions/d-1",
               "extra_lines": [], "unsubscribe_url": "https://api.example.com/u/token"}
    email.send_email("tenant-a", "user-2", recipient, "notification.n-1",
                     rendering.render("tenant-a", "discussion_message", context))
    digest = {**rendering.DIGEST_SAMPLE, "unsubscribe_url": "https://api.example.com/u/token"}
    email.send_email("tenant-a", "user-2", recipient, "digest.daily:2026-11-23", rendering.render("tenant-a", "digest",
                                                                                                   digest))


@pytest.fixture
def every_kind(api, make_api, enabled, production_links, send):
    """Each kind of mail we send: a discussion copy with history, a notification and a digest, as (kind, raw)."""
    make_api(roles=["admin"]).call("PUT", "/api/tenant/users/user-1", {"name": "Dana Demo"})
    discussion = api.post(THREADS, {"subject": "Quote 1042 for the spring event", "initial_message":
                                    "Hello Cleo, here is the quote for the spring event: https://acme.example/q/1042",
                                    "participants": [{"email": "cleo@client.example", "name": "Cleo Client"}]}).data
    send(discussion["id"])
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "We can also add catering for forty guests."})
    send(discussion["id"])
    _notification_mails()
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    return [("notification" if list(m.destinations)[0] == "sam@acme.example" else "discussion", m.raw_data.encode())
            for m in sent]


def test_the_text_part_says_what_the_html_says(every_kind):
    for kind, raw in every_kind:
        parts = _parts(raw)
        visible = _Visible()
        visible.feed(parts["html"])
        html_words, text_words = _words(" ".join(visible.words)), _words(parts["plain"])
        assert html_words == text_words, (kind, html_words ^ text_words)
        assert len(html_words) >= 5 and visible.images <= 1, kind   # real text; at most the 1×1 pixel


def test_every_mail_has_a_date_and_only_automatic_mail_says_so(every_kind):
    for kind, raw in every_kind:
        assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}", rawmail.header(raw, "Date"))
        auto = rawmail.header(raw, "Auto-Submitted")
        assert auto == ("auto-generated" if kind == "notification" else None), kind


def test_no_url_on_a_bare_ip_in_production_settings(every_kind):
    for kind, raw in every_kind:
        assert not BARE_IP_URL.search(quopri.decodestring(raw)), kind
        assert b"https://api.example.com/t/" in quopri.decodestring(raw) or kind == "notification"
