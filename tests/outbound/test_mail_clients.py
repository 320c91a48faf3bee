"""Outbound mail as mail clients read it: raw bytes, literal threading headers, one conversation per mailbox.

Every assertion reads the bytes SES was given (moto keeps them verbatim) with tests/rawmail.py, never the
`email` package that wrote them. Where SES would change the mail (it replaces Message-ID, NOTES.md), the
mailbox gets the mail as the recipient really receives it.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import clock
from scripts.deliver_mail import deliver
from tests import rawmail
from tests.outbound.conftest import REPLY_DOMAIN, SENDER
from tests.threading_judges import gmail_conversations, notmuch_threads

THREADS = "/api/tenant/threads"
SES_DOMAIN = "email.amazonses.com"
CLEO, CARL, BETTY, DORA = ("cleo@client.example", "carl@client.example", "paul.auditor@partner.example",
                           "dora@client.example")
SECRET = "Between us: the client's budget ceiling is 9,500 EUR"
# As Outlook writes them: long ids of a kind policy.SMTP would have encoded.
OUTLOOK_ID = "<AM0PR07MB4131D8E3C5F8A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6E7F8A9B0@AM0PR07MB4131.eurprd07.prod.outlook.com>"
LITERAL = ("Message-ID", "In-Reply-To", "References", "Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post",
           "List-Id")


def raw_sent() -> list[tuple[str, str, bytes]]:
    """(SES message id, the one recipient, raw bytes) of every copy SES was given, in order."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return [(m.id, list(m.destinations)[0], m.raw_data.encode("utf-8", "surrogateescape"))
            for m in backend.sent_messages]


def as_received(ses_id: str, raw: bytes) -> bytes:
    """What the recipient's mailbox holds: SES replaced our Message-ID by <SES-ID@email.amazonses.com>."""
    return rawmail.replace_header(raw, "Message-ID", f"<{ses_id}@{SES_DOMAIN}>")


def _reply(to: str, sender: str, name: str, body: str, in_reply_to: str, references: str, message_id: str) -> bytes:
    message = EmailMessage(policy=SMTP.clone(max_line_length=998))
    message["From"] = f"{name} <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: Quote 1042"
    message["Message-ID"] = message_id
    message["In-Reply-To"] = in_reply_to
    message["References"] = references
    message.set_content(body)
    return message.as_bytes()


def _at(moment: str) -> None:
    fixed = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    clock.set_clock(lambda: fixed)


@pytest.fixture
def conversation(api, admin, enabled, client, send):
    """A discussion as a real one goes: sent, answered by Cleo (Outlook) and by the bcc auditor by email, a
    follow-up, a late-joining participant, two more follow-ups. Returns (discussion, {recipient: mailbox})."""
    admin.call("PUT", "/api/tenant/settings/communication", {"time_zone": "Europe/Paris"})
    admin.call("PUT", "/api/tenant/users/user-1", {"name": "Dana Demo"})
    _at("2026-11-30T22:56:27")
    discussion = api.post(THREADS, {"subject": "Quote 1042", "initial_message": "Hello, here is quote 1042.",
                                    "participants": [
                                        {"email": CLEO, "name": "Cleo Client", "recipient_type": "client_contact"},
                                        {"email": CARL, "name": "Carl Cc", "role": "cc"},
                                        {"email": BETTY, "name": "Paul Auditor", "role": "bcc"},
                                        {"user_id": "user-2"}]}).data
    path = f"{THREADS}/{discussion['id']}"
    send(discussion["id"])
    mailboxes: dict[str, list[bytes]] = {CLEO: [], CARL: [], BETTY: [], DORA: []}

    def collect() -> None:
        seen = sum(len(box) for box in mailboxes.values()) - len(sent_by_them)
        for ses_id, recipient, raw in raw_sent()[seen:]:
            mailboxes[recipient].append(as_received(ses_id, raw))

    sent_by_them: list[bytes] = []
    collect()

    def answer(who: str, name: str, body: str, message_id: str) -> None:
        received = mailboxes[who][-1]
        reply_to = rawmail.header(received, "Reply-To")
        parent = rawmail.header(received, "Message-ID")
        raw = _reply(reply_to, who, name, body, parent, f"{rawmail.header(received, 'References')} {parent}",
                     message_id)
        assert deliver(client, raw, [reply_to])[0]["status"] == "posted"
        mailboxes[who].append(raw)   # their Sent mail is part of their conversation (Gmail shows it)
        sent_by_them.append(raw)

    _at("2026-12-01T08:05:00")
    answer(CLEO, "Cleo Client", "Thanks, the quote works for us.", OUTLOOK_ID)
    _at("2026-12-01T08:30:00")
    answer(BETTY, "Paul Auditor", f"{SECRET}. Keep it quiet.", "<auditor-1@partner.example>")
    _at("2026-12-01T09:00:00")
    api.post(f"{path}/messages", {"body": "Great, we will book the venue."})
    send(discussion["id"])
    collect()
    api.post(f"{path}/participants", {"email": DORA, "name": "Dora Later"})
    _at("2026-12-01T10:00:00")
    api.post(f"{path}/messages", {"body": "Welcome Dora, you are in the loop now."})
    send(discussion["id"])
    collect()
    _at("2026-12-01T11:00:00")
    api.post(f"{path}/messages", {"body": "Final details attached soon."})
    send(discussion["id"])
    collect()
    return discussion, mailboxes


def test_every_copy_threads_in_every_mailbox_by_notmuch_and_by_the_gmail_rule(conversation, tmp_path):
    _, mailboxes = conversation
    assert [len(mailboxes[who]) for who in (CLEO, CARL, BETTY, DORA)] == [5, 4, 5, 2]
    for who, mailbox in mailboxes.items():
        conversations = gmail_conversations(mailbox)
        assert len(conversations) == 1, (who, conversations)
        threads = notmuch_threads(mailbox, tmp_path / who)
        assert len(threads) == 1, (who, threads)
        # One root: every message hangs under a message this recipient really has, not under a phantom.
        assert len(threads[0]["roots"]) == 1 and len(threads[0]["messages"]) == len(mailbox), (who, threads)
        first = rawmail.header(mailbox[0], "Message-ID").strip("<>")
        assert threads[0]["roots"] == [first], who


def test_threading_and_list_headers_are_literal_and_lines_stay_within_998_octets(conversation):
    for _, _, raw in raw_sent():
        assert rawmail.long_lines(raw) == []
        for name in LITERAL:
            value = rawmail.header(raw, name)
            assert value is None or "=?" not in value, (name, value)
        for name in ("Message-ID", "In-Reply-To"):
            value = rawmail.header(raw, name)
            assert value is None or re.fullmatch(r"<[^<>\s]+@[^<>\s]+>", value), (name, value)


def test_a_follow_up_answers_the_latest_message_the_recipient_has(conversation):
    _, mailboxes = conversation
    box = mailboxes[CLEO]          # copy 1, Cleo's reply (Outlook), copies 2, 3 and 4
    ids = [rawmail.header(raw, "Message-ID") for raw in box]
    for position in (2, 3, 4):
        references = rawmail.message_ids(rawmail.header(box[position], "References"))
        in_reply_to = rawmail.header(box[position], "In-Reply-To")
        assert in_reply_to == ids[position - 1] and references[-1] == in_reply_to
        assert OUTLOOK_ID in references          # the id of the mail Cleo sent us, literal, 121 characters
    assert ids[2].endswith(f"@{SES_DOMAIN}>") and len(ids[2]) == 82   # SES's 60-character id, as policy.SMTP broke
    assert rawmail.header(box[3], "In-Reply-To") == ids[2]


def test_a_bcc_participants_words_reach_only_staff_and_themselves(conversation, api):
    discussion, mailboxes = conversation
    for who in (CLEO, CARL, DORA):
        for raw in mailboxes[who]:
            assert b"9,500" not in raw and b"auditor" not in raw.lower(), who
    assert any(b"9,500" in raw for raw in mailboxes[BETTY][2:])   # the auditor sees their own words quoted
    messages = api.get(f"{THREADS}/{discussion['id']}").data["messages"]
    assert any(SECRET in m["body"] for m in messages)              # staff see it in the discussion


def test_history_names_people_and_dates_in_the_tenants_time_zone(conversation):
    _, mailboxes = conversation
    follow_up = mailboxes[CLEO][2].decode("ascii")
    text = re.sub(r"=\r\n", "", follow_up)  # quoted-printable soft breaks, undone by hand
    assert "On Mon, 30 Nov 2026 at 23:56, Dana Demo wrote:" in text        # 22:56 UTC is 23:56 in Paris
    assert "On Tue, 01 Dec 2026 at 09:05, Cleo Client wrote:" in text
    assert "user-1" not in text and "T22:56:27" not in text


def test_to_lists_external_participants_cc_the_cc_role_and_no_staff(conversation):
    _, mailboxes = conversation
    last = mailboxes[CARL][-1]
    assert re.findall(r"[\w.+-]+@[\w.-]+", rawmail.header(last, "To")) == [CLEO, DORA]
    assert re.findall(r"[\w.+-]+@[\w.-]+", rawmail.header(last, "Cc")) == [CARL]
    sender = rawmail.header(last, "From")
    assert sender == f"Dana Demo via Acme Events <{SENDER}>"
    for _, _, raw in raw_sent():
        headers = rawmail.header_block(raw).lower()
        assert b"paul.auditor" not in headers and b"user-2" not in headers


def test_ids_up_to_250_characters_stay_literal_and_fold_only_between_items():
    from chalicelib.mail import compose

    ids = [f"<{'a' * (241 - len(str(n)))}{n}@{'b' * 8}>" for n in range(12)]
    assert {len(i) for i in ids} == {252}   # 250 characters between the angle brackets
    raw = compose.build(compose.OutboundEmail(
        sender=compose.Person(SENDER, "Acme"), recipient=compose.Person(CLEO), to=[], cc=[],
        reply_to=f"reply+{'k' * 26}@{REPLY_DOMAIN}", subject="Hi", message_id=ids[0], in_reply_to=ids[1],
        references=ids, body="b", signature=None), None)
    assert rawmail.long_lines(raw) == []
    assert rawmail.header(raw, "References") == " ".join(ids)
    assert rawmail.header(raw, "In-Reply-To") == ids[1] and rawmail.header(raw, "Message-ID") == ids[0]
    folded = re.search(rb"\r\nReferences: (.*?)\r\n(?=\S)", raw, re.DOTALL).group(1)
    # Folded only at the whitespace between two ids: every physical line is whole ids.
    assert all(re.fullmatch(rb"\s*(<[^<>\s]+>\s?)+", line) for line in folded.split(b"\r\n"))


def test_a_malformed_id_from_another_mailer_never_reaches_a_header():
    from chalicelib.mail import compose

    for bad in ("<a b@c>", "<x@y>\r\nBcc: victim@evil.example", "no-brackets@x", f"<{'a' * 300}@x>", "<é@x>"):
        assert compose.message_id_or_none(bad) is None
    with pytest.raises(ValueError):
        compose.LiteralHeader("References", ["<x@y>\r\nBcc: v@e"])
