"""A Lambda that dies half-way through an inbound mail loses nothing: the redelivery finishes the job, once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from chalicelib import clock
from chalicelib.discussions import attachments as discussion_attachments
from chalicelib.discussions import service as discussions
from scripts.deliver_mail import deliver
from tests.inbound.test_receive import THREADS, _messages, _reply


def _with_attachment(to: str) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = "Cleo Client <cleo@client.example>"
    message["To"] = to
    message["Subject"] = "Re: Quote 1042"
    message["Message-ID"] = "<signed-quote@client.example>"
    message.set_content("Signed quote attached.")
    message.add_attachment(b"%PDF-1.4 signed", maintype="application", subtype="pdf", filename="signed.pdf")
    return message.as_bytes()


def test_a_crash_before_posting_is_retried_once_the_claim_expires(api, client, conversation, monkeypatch):
    discussion, reply_to, _ = conversation
    raw = _reply(reply_to)
    moment = datetime.now(UTC) + timedelta(days=1)  # after the conversation's first message
    clock.set_clock(lambda: moment)

    with monkeypatch.context() as patched:
        patched.setattr(discussions, "add_message", lambda *a, **k: (_ for _ in ()).throw(TimeoutError("Lambda")))
        with pytest.raises(TimeoutError):
            deliver(client, raw, [reply_to])
    with pytest.raises(Exception, match="being posted by another run"):
        deliver(client, raw, [reply_to])  # SNS retries at once: the first run may still be working
    moment += timedelta(seconds=151)  # the claim's lease outlasts the inbound Lambda's 120 s
    posted = deliver(client, raw, [reply_to])
    again = deliver(client, raw, [reply_to])

    assert posted[0]["status"] == "posted" and again[0]["status"] == "duplicate"
    assert [m["body"] for m in _messages(api, discussion)][-1] == "Yes, the quote works for us."
    assert api.get(f"{THREADS}/{discussion['id']}").data["message_count"] == 2


def test_a_crash_after_posting_stores_the_attachments_on_redelivery(api, client, conversation, monkeypatch):
    discussion, reply_to, _ = conversation
    raw = _with_attachment(reply_to)

    with monkeypatch.context() as patched:
        patched.setattr(discussion_attachments, "store", lambda *a, **k: (_ for _ in ()).throw(OSError("S3 down")))
        with pytest.raises(OSError):
            deliver(client, raw, [reply_to])
    redelivered = deliver(client, raw, [reply_to])
    third = deliver(client, raw, [reply_to])

    assert redelivered[0]["status"] == "duplicate" and third[0]["status"] == "duplicate"
    assert api.get(f"{THREADS}/{discussion['id']}").data["message_count"] == 2
    files = api.get(f"{THREADS}/{discussion['id']}/attachments").data["items"]
    assert [f["filename"] for f in files] == ["signed.pdf"]


def test_s3_failing_to_give_the_raw_mail_fails_the_event_for_a_retry(api, client, conversation, monkeypatch):
    from chalicelib import storage

    discussion, reply_to, _ = conversation
    raw = _reply(reply_to)
    real = storage.s3()

    class Failing:
        def get_object(self, **kwargs):
            raise ConnectionError("S3 unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(storage, "s3", lambda: Failing())
        with pytest.raises(ConnectionError):
            deliver(client, raw, [reply_to])
    assert storage.s3() is real
    posted = deliver(client, raw, [reply_to])

    assert posted[0]["status"] == "posted"
    assert api.get(f"{THREADS}/{discussion['id']}").data["message_count"] == 2
