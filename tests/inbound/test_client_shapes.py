"""Replies as the big mail clients build them: structure, encodings, quoting styles, non-ASCII."""
from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from scripts.deliver_mail import deliver
from tests.corpus import corpus_files, fixture
from tests.inbound.test_receive import CLEO, _messages
from tests.outbound.test_send import THREADS

LONG_HISTORY = "\n".join(f"> line {n} of the earlier conversation" for n in range(200))


def _gmail(reply_to):
    message = EmailMessage(policy=SMTP)
    message["From"] = Address("Cléo Clïent", "cleo", "client.example")
    message["To"], message["Subject"] = reply_to, "Re: Devis n°42 — Café"
    message["Message-ID"] = "<CAGmail123@mail.gmail.com>"
    message.set_content("Parfait, merci !\n\nOn Mon, Mar 2, 2026 at 10:00 AM Acme Events <hub@acme.example> wrote:\n"
                        + LONG_HISTORY, cte="quoted-printable")
    message.add_alternative('<div dir="ltr">Parfait, merci !</div><br><div class="gmail_quote">'
                            '<div class="gmail_attr">On Mon, Mar 2, 2026 at 10:00 AM Acme Events wrote:</div>'
                            "<blockquote>old</blockquote></div>", subtype="html")
    return message.as_bytes(), "Parfait, merci !"


def _outlook(reply_to):
    message = EmailMessage(policy=SMTP)
    message["From"] = Address("Cleo Client", "cleo", "client.example")
    message["To"], message["Subject"] = reply_to, "RE: Quote 1042"
    message["Message-ID"] = "<DB9PR01MB@outlook.com>"
    message.set_content("Thanks, approved.\r\n\r\nBest regards\r\nCleo\r\n\r\n________________________________\r\n"
                        "From: Acme Events <hub@acme.example>\r\nSent: Monday, March 2, 2026 10:00 AM\r\n"
                        "To: Cleo Client <cleo@client.example>\r\nSubject: Quote 1042\r\n\r\nHello, see the quote",
                        cte="base64")
    return message.as_bytes(), "Thanks, approved.\n\nBest regards\nCleo"


def _apple(reply_to):
    message = EmailMessage(policy=SMTP)
    message["From"] = Address("Cleo Client", "cleo", "client.example")
    message["To"], message["Subject"] = reply_to, "Re: Quote 1042"
    message["Message-ID"] = "<E1F2-APPLE@client.example>"
    message.set_content("Works for me 👍\n\nSent from my iPhone\n\n> On 2 Mar 2026, at 10:00, Acme Events "
                        "<hub@acme.example> wrote:\n>\n> Hello, see the quote\n")
    return message.as_bytes(), "Works for me 👍"


def _forwarded(reply_to):
    message = EmailMessage(policy=SMTP)
    message["From"] = Address("Cleo Client", "cleo", "client.example")
    message["To"], message["Subject"] = reply_to, "Fwd: Quote 1042"
    message["Message-ID"] = "<fwd-1@client.example>"
    message.set_content("Adding our finance team's view below.\n\n---------- Forwarded message ---------\n"
                        "From: Finance <finance@client.example>\nDate: Mon, 2 Mar 2026\nSubject: Quote 1042\n\n"
                        "Budget is fine.\n")
    return message.as_bytes(), "Adding our finance team's view below."


@pytest.mark.parametrize("build", [_gmail, _outlook, _apple, _forwarded], ids=["gmail", "outlook", "apple",
                                                                                "forwarded"])
def test_client_replies_keep_only_the_new_text(api, client, conversation, build):
    discussion, reply_to, _ = conversation
    raw, expected = build(reply_to)
    assert deliver(client, raw, [reply_to])[0]["status"] == "posted"
    posted = _messages(api, discussion)[-1]
    assert posted["body"] == expected and posted["author"] == CLEO


def test_a_reply_with_headers_stripped_still_arrives_by_its_token(api, client, conversation):
    discussion, reply_to, _ = conversation
    raw, _ = _apple(reply_to)
    stripped = b"\r\n".join(line for line in raw.split(b"\r\n") if not line.startswith((b"In-Reply-To", b"References")))
    assert deliver(client, stripped, [reply_to])[0]["status"] == "posted"
    assert len(api.get(f"{THREADS}/{discussion['id']}").data["messages"]) == 2


# ---------------------------------------------------------------- real-world-shaped replies of many clients

REPLIES = corpus_files("mail/replies/emails", "*.eml", 47)


def _as_cleo(raw: bytes, reply_to: str) -> bytes:
    """The fixture's mail as Cleo's reply to this conversation: its own From and To lines replaced, nothing else."""
    leading = raw[:len(raw) - len(raw.lstrip())]  # kept: some fixtures start with blank lines on purpose
    raw = raw.lstrip()
    head, separator, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    lines, out, skipping = head.split(newline), [], False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue  # a folded continuation of a replaced header
        skipping = line.lower().startswith((b"from:", b"to:"))
        if not skipping:
            out.append(line)
    out[1:1] = [b"From: Cleo Client <" + CLEO.encode() + b">", b"To: " + reply_to.encode()]
    return leading + newline.join(out) + separator + body


@pytest.mark.parametrize("path", REPLIES, ids=lambda p: p.stem)
def test_each_client_reply_is_posted_with_exactly_its_new_text(api, client, conversation, path):
    discussion, reply_to, _ = conversation
    expected = fixture(f"mail/replies/expected/{path.stem}.txt").read_text(encoding="utf-8").strip()

    result = deliver(client, _as_cleo(path.read_bytes(), reply_to), [reply_to])

    assert result[0]["status"] == "posted", result
    assert _messages(api, discussion)[-1]["body"] == expected
