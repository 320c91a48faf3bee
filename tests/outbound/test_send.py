"""Sending a discussion by email: one copy per recipient, threading headers, privacy, safety, retries."""
from __future__ import annotations

import collections
import re

import pytest

from chalicelib.tracking.ids import copy_shard
from tests.outbound.conftest import REPLY_DOMAIN, SENDER, copies

THREADS = "/api/tenant/threads"
PEOPLE = [
    {"email": "cleo@client.example", "name": "Cleo Client", "recipient_type": "client_contact"},
    {"email": "carl@client.example", "name": "Carl Cc", "role": "cc"},
    {"email": "betty@secret.example", "name": "Betty Bcc", "role": "bcc"},
    {"user_id": "user-2"},
]


def _discussion(api, **extra):
    body = {"subject": "Quote 1042", "initial_message": "Hello, see https://acme.example/q/1042 please.",
            "participants": PEOPLE, **extra}
    return api.post(THREADS, body).data


def _text(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def _html(message):
    return message.get_body(preferencelist=("html",)).get_content()


def test_sending_while_integration_is_disabled_is_409(api):
    discussion = _discussion(api)
    response = api.post(f"{THREADS}/{discussion['id']}/send")
    assert response.status_code == 409 and "disabled" in response.data["error"]["message"]


def test_one_copy_per_external_recipient_with_bcc_in_no_header(api, enabled, outbox, send):
    discussion = _discussion(api)
    report = send(discussion["id"])
    assert sorted(report["queued"][0]["recipients"]) == sorted(
        ["cleo@client.example", "carl@client.example", "betty@secret.example"])
    assert {c["state"] for c in copies(api, discussion["id"]).values()} == {"sent"}
    copies_sent = outbox()
    assert sorted(d for _, destinations, _ in copies_sent for d in destinations) == sorted(
        ["cleo@client.example", "carl@client.example", "betty@secret.example"])
    for _, _, message in copies_sent:
        raw = message.as_string()
        assert "betty" not in raw.lower().split("\n\n", 1)[0]  # no header of any copy names the bcc
        assert "cleo@client.example" in str(message["To"]) and "carl@client.example" in str(message["Cc"])
        assert message["From"].addresses[0].addr_spec == SENDER
        assert message["From"].addresses[0].display_name == "Acme Events"
        assert message["X-Auto-Response-Suppress"] == "All"


def test_threading_headers_across_a_conversation(api, enabled, outbox, send):
    discussion = _discussion(api)
    thread_id = discussion["email_thread_id"]
    assert thread_id.endswith(f"@{REPLY_DOMAIN}>")
    send(discussion["id"])
    first = list(copies(api, discussion["id"]).values())
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "A second note"})
    send(discussion["id"])
    cleos = [m for _, d, m in outbox() if d == ["cleo@client.example"]]
    assert len(cleos) == 2
    opening, follow_up = cleos
    assert opening["Subject"] == "Quote 1042" and follow_up["Subject"] == "Re: Quote 1042"
    assert opening["References"].split() == [thread_id]
    assert opening["In-Reply-To"] is None
    # The follow-up answers the Message-ID SES really put on the first copy this recipient got.
    first_copy = next(s for s in first if s["recipient_email"] == "cleo@client.example")
    assert re.fullmatch(r"<[^@]+@email\.amazonses\.com>", first_copy["email_message_id"])
    assert follow_up["In-Reply-To"] == first_copy["email_message_id"]
    references = follow_up["References"].split()
    assert references[0] == thread_id
    assert f"<msg.{discussion['messages'][0]['id']}@{REPLY_DOMAIN}>" in references
    assert references[-1] == first_copy["email_message_id"]
    stored = api.get(f"{THREADS}/{discussion['id']}").data["messages"][0]
    assert stored["email_message_id"] in {s["email_message_id"] for s in first}  # the first copy SES took


def test_reply_to_carries_a_per_recipient_key(api, enabled, outbox, send):
    discussion = _discussion(api)
    send(discussion["id"])
    keys = {}
    for _, destinations, message in outbox():
        match = re.fullmatch(rf"reply\+([a-z2-7]{{26}})@{re.escape(REPLY_DOMAIN)}", str(message["Reply-To"]))
        assert match, message["Reply-To"]
        keys[destinations[0]] = match.group(1)
    assert len(set(keys.values())) == 3
    from chalicelib.mail.models import ReplyKey

    record = ReplyKey.get(keys["cleo@client.example"])
    assert (record.tenant_id, record.discussion_id, record.recipient) == \
        ("tenant-a", discussion["id"], "cleo@client.example")


def test_body_has_signature_pixel_tracked_links_and_no_internal_note(api, enabled, outbox, send):
    discussion = _discussion(api)
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "Our secret markup is 40%", "is_internal": True})
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "Second <b>message</b>"})
    send(discussion["id"])
    latest = [m for _, d, m in outbox() if d == ["cleo@client.example"]][-1]
    text, html = _text(latest), _html(latest)
    assert "Acme Events" in text and "-- " in text
    assert "secret markup" not in text and "secret markup" not in html
    assert "Second &lt;b&gt;message&lt;/b&gt;" in html        # autoescaped
    assert "Hello, see" in text                                # history of earlier non-internal messages
    assert "https://acme.example/q/1042" not in text.replace("Acme Events\nhttps://acme.example", "")
    assert re.search(r"http://127\.0\.0\.1:8000/t/c/[0-9a-f]{32}-0\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", text)
    assert re.search(r'<img src="http://127\.0\.0\.1:8000/t/o/[0-9a-f]{32}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.gif"', html)


def test_a_repeated_send_sends_nothing_twice(api, enabled, outbox, send, run_jobs):
    discussion = _discussion(api)
    send(discussion["id"])
    again = send(discussion["id"])
    assert again["queued"] == [] and len(outbox()) == 3
    explicit = send(discussion["id"], {"message_id": discussion["messages"][0]["id"]})
    assert explicit["queued"] == [] and {s["reason"] for s in explicit["skipped"]} == {"already sent"}
    assert len(outbox()) == 3


def test_sends_in_quick_succession_mail_each_copy_once(api, enabled, outbox, run_jobs):
    discussion = _discussion(api)
    first = api.post(f"{THREADS}/{discussion['id']}/send", {"message_id": discussion["messages"][0]["id"]})
    second = api.post(f"{THREADS}/{discussion['id']}/send")  # before any job ran: the outbox still lists it
    run_jobs()

    assert first.status_code == second.status_code == 202
    assert len(first.data["queued"][0]["recipients"]) == 3
    assert sorted(d[0] for _, d, _ in outbox()) == sorted(
        ["cleo@client.example", "carl@client.example", "betty@secret.example"])


def test_internal_notes_cannot_be_sent(api, enabled):
    discussion = _discussion(api)
    note = api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "secret", "is_internal": True}).data
    response = api.post(f"{THREADS}/{discussion['id']}/send", {"message_id": note["message"]["id"]})
    assert response.status_code == 409


def test_non_ascii_subject_and_names_are_rfc2047_encoded(api, enabled, outbox, send):
    api_discussion = api.post(THREADS, {"subject": "Devis n°42 — Café", "initial_message": "Bonjour",
                                        "participants": [{"email": "zoe@client.example", "name": "Zoë Ünal"}]}).data
    send(api_discussion["id"])
    _, _, message = outbox()[-1]
    raw_headers = message.as_bytes().split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?" in raw_headers.lower()
    assert message["Subject"] == "Devis n°42 — Café"
    assert message["To"].addresses[-1].display_name == "Zoë Ünal"


def test_header_injection_through_names_cannot_add_headers(api, enabled, outbox):
    from chalicelib.mail import compose

    raw = compose.build(compose.OutboundEmail(
        sender=compose.Person(SENDER, "Acme\r\nBcc: victim@evil.example"),
        recipient=compose.Person("a@b.example", "X\nBcc: victim@evil.example"), to=[], cc=[],
        reply_to="reply+k@r.example", subject="Hi\r\nBcc: victim@evil.example", message_id="<m@r.example>",
        in_reply_to=None, references=[], body="b", signature=None), lambda i: f"https://t/{i}")
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^Bcc:", headers, re.MULTILINE)


ENCODED_WORD_TRICK = "=?utf-8?q?Hi=0D=0ABcc=3A_victim=40evil.example?="


def test_rfc2047_encoded_words_in_user_text_cannot_smuggle_headers(api, enabled, outbox, send):
    # The email package decodes encoded-words in any header value it is given: "=0D=0A" would become a raw
    # CR/LF and "Bcc: victim" a header of its own in the bytes SES sends.
    discussion = api.post(THREADS, {"subject": ENCODED_WORD_TRICK, "initial_message": "Hello",
                                    "participants": [{"email": "zoe@client.example",
                                                      "name": f"{ENCODED_WORD_TRICK} <victim@evil.example>"}]}).data
    send(discussion["id"])

    assert [c["state"] for c in copies(api, discussion["id"]).values()] == ["sent"]
    _, destinations, message = outbox()[-1]
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    raw = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[-1].raw_data.encode()
    raw_headers = raw.split(b"\r\n\r\n", 1)[0]
    assert destinations == ["zoe@client.example"]
    assert not re.search(rb"^bcc:", raw_headers, re.MULTILINE | re.IGNORECASE)
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Subject"].replace("\u2060", "") == ENCODED_WORD_TRICK  # the text as typed, shown as typed
    assert [a.addr_spec for a in message["To"].addresses] == ["zoe@client.example"]


@pytest.mark.parametrize("breaker", ["\x0b", "\x0c", "\x00", "\x85", "\u2028", "\u2029", "\x1b"])
def test_no_control_or_line_separator_character_reaches_a_header(breaker):
    from chalicelib.mail import compose

    raw = compose.build(compose.OutboundEmail(
        sender=compose.Person(SENDER, f"Acme{breaker}Bcc: victim@evil.example"),
        recipient=compose.Person("a@b.example", f"X{breaker}Bcc: victim@evil.example"), to=[], cc=[],
        reply_to="reply+k@r.example", subject=f"Hi{breaker}Bcc: victim@evil.example", message_id="<m@r.example>",
        in_reply_to=None, references=[], body="b", signature=None), lambda i: f"https://t/{i}")
    headers = raw.split(b"\r\n\r\n", 1)[0]

    assert not re.search(rb"^Bcc:", headers, re.MULTILINE)
    assert breaker.encode("utf-8") not in headers


# moto warns that SES's model declares no Throttling error shape: real SES answers it all the same (docs/sending.md).
MOTO_HAS_NO_THROTTLING_SHAPE = pytest.mark.filterwarnings("ignore:Exception\\(Throttling\\):UserWarning")


def _refusing(monkeypatch, refuse):
    """SES (moto's backend, below botocore and its retries) answering `refuse(destination)`'s error code when it
    returns one; every request that reached SES is counted. The SDK's backoff is made instant."""
    from moto.ses.exceptions import SesError
    from moto.ses.models import SESBackend

    real = SESBackend.send_raw_email
    requests: list[str] = []

    def send_raw_email(self, source, destinations, raw_data):
        requests.append(destinations[0])
        code = refuse(destinations[0])
        if code:
            raise type(code, (SesError,), {"code": code})("Maximum sending rate exceeded." if code == "Throttling"
                                                           else "injected")
        return real(self, source, destinations, raw_data)

    monkeypatch.setattr(SESBackend, "send_raw_email", send_raw_email)
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    return requests


@MOTO_HAS_NO_THROTTLING_SHAPE
def test_a_throttled_copy_waits_on_the_queue_and_goes_once_ses_takes_it(api, enabled, outbox, send, run_jobs,
                                                                        monkeypatch):
    discussion = _discussion(api)
    throttled = {"carl@client.example": 4}  # SES refuses Carl's copy 4 times (the SDK's 3 attempts, then 1), then sends

    def refuse(destination):
        left = throttled.get(destination, 0)
        if left:
            throttled[destination] = left - 1
            return "Throttling"
        return None

    _refusing(monkeypatch, refuse)
    send(discussion["id"])  # the delayed retry is not due yet
    states = copies(api, discussion["id"])
    carl = states["carl@client.example"]
    assert (carl["state"], carl["failure_reason"]) == ("failed", "Throttling: Maximum sending rate exceeded.")
    # The copies are one group, sent in the order of the participants: SES throttling Carl's stops the group (the
    # next would be throttled too), so Betty's waits with his, still queued, and Cleo's, sent before, is sent.
    assert [d for _, d, _ in outbox()] == [["cleo@client.example"]]
    assert (states["cleo@client.example"]["state"], states["betty@secret.example"]["state"]) == ("sent", "queued")

    run_jobs(skip_delays=True)  # the delay passes: the group runs again, and Cleo's copy is done already

    assert {state["state"] for state in copies(api, discussion["id"]).values()} == {"sent"}
    assert sorted(d[0] for _, d, _ in outbox()) == sorted(
        ["cleo@client.example", "carl@client.example", "betty@secret.example"])


@MOTO_HAS_NO_THROTTLING_SHAPE
def test_one_ses_send_makes_at_most_the_configured_attempts(api, enabled, outbox, send, monkeypatch):
    """The SDK's standard retry mode is the only retry of an SES call (chalicelib/aws.py): no loop of ours. SES
    answers every request with Throttling; the requests that reached it are counted."""
    from chalicelib import aws

    discussion = api.post(THREADS, {"subject": "Once", "initial_message": "Hi",
                                    "participants": [{"email": "zoe@client.example"}]}).data
    requests = _refusing(monkeypatch, lambda destination: "Throttling")

    send(discussion["id"])  # one copy job; its SES call fails after the SDK's attempts; the job waits on the queue

    assert aws.MAX_ATTEMPTS == 3 and len(requests) == aws.MAX_ATTEMPTS
    zoe = copies(api, discussion["id"])["zoe@client.example"]
    assert outbox() == []
    assert (zoe["state"], zoe["failure_reason"]) == ("failed", "Throttling: Maximum sending rate exceeded.")


def test_a_message_ses_refuses_for_good_fails_until_it_is_sent_again(api, enabled, outbox, send, monkeypatch):
    discussion = _discussion(api)
    refusing = {"on": True}
    _refusing(monkeypatch, lambda destination: "MessageRejected" if refusing["on"] and
              destination == "carl@client.example" else None)
    send(discussion["id"], skip_delays=True)
    carl = copies(api, discussion["id"])["carl@client.example"]
    assert (carl["state"], carl["failure_reason"]) == ("failed", "MessageRejected: injected")
    assert len(outbox()) == 2

    refusing["on"] = False
    again = send(discussion["id"], {"message_id": discussion["messages"][0]["id"]})

    assert again["queued"][0]["recipients"] == ["carl@client.example"]
    assert sorted(d[0] for _, d, _ in outbox()) == sorted(
        ["cleo@client.example", "carl@client.example", "betty@secret.example"])


@pytest.mark.parametrize("body, field", [
    ({"email_signature": "x" * 2001}, "email_signature"),
    ({"email_reply_domain": "not a domain"}, "email_reply_domain"),
    ({"from_address": "nope"}, "from_address"),
    ({"email_integration_enabled": "yes"}, "email_integration_enabled"),
])
def test_settings_validation(admin, body, field):
    response = admin.call("PUT", "/api/tenant/settings/communication", body)
    assert response.status_code == 400 and response.data["error"]["field"] == field


def test_changing_settings_needs_admin(api, admin):
    assert api.call("PUT", "/api/tenant/settings/communication", {"from_name": "x"}).status_code == 403
    assert admin.get("/api/tenant/settings/communication").data["email_integration_enabled"] is False


def test_enabled_settings_give_new_discussions_the_tenants_reply_domain(api, enabled):
    assert api.post(THREADS, {"subject": "S"}).data["email_thread_id"].endswith(f"@{REPLY_DOMAIN}>")


def test_the_sweep_queues_again_only_copies_left_unfinished(api, client, enabled, outbox, run_jobs, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from chalicelib import clock, jobs

    discussion = _discussion(api)
    lost: list = []
    real = jobs.send_direct
    # The copy jobs of this send are lost on their way to the queue (the fan-out's records are written).
    monkeypatch.setattr(jobs, "send_direct", lambda kind, payloads: lost.extend(payloads) if kind == "mail.copies"
                        else real(kind, payloads))
    api.post(f"{THREADS}/{discussion['id']}/send")
    run_jobs()
    monkeypatch.undo()
    assert [len(group["copies"]) for group in lost] == [3] and outbox() == []

    def sweep():
        return client.lambda_.invoke("retry_failed_sends", client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])).payload

    assert sweep() == {"requeued": 0}  # queued moments ago: their jobs may still be on their way
    later = datetime.now(UTC) + timedelta(minutes=16)
    clock.set_clock(lambda: later)
    assert sweep() == {"requeued": 3}
    run_jobs()
    assert sweep() == {"requeued": 0}
    assert sorted(d[0] for _, d, _ in outbox()) == sorted(
        ["cleo@client.example", "carl@client.example", "betty@secret.example"])


def test_no_two_copies_write_one_item_in_a_transaction(api, enabled, outbox, send, monkeypatch):
    """DynamoDB cancels one of two concurrent transactions that touch the same item (TransactionConflict): the copies
    of a send run in parallel, so no item may be in the transactions of two copies (reply keys, the thread's and the
    message's ids are plain writes of the fan-out, which runs before its copies) — but the counter shard a copy's end
    counts in, which only copies of one message hashed to the same shard share (1 in 16; a conflict there is
    written again, tests/outbound/test_copy_cost.py)."""
    from pynamodb.connection.base import Connection

    from chalicelib import jobs
    from chalicelib.tracking.models import EmailTracking

    discussion = _discussion(api)
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "A second message, sent with the first"})
    real_call, real_run = Connection._make_api_call, jobs.run_message
    running: list[str] = [""]
    by_copy: dict[str, set[str]] = {}

    def run_message(body):
        running[0] = body if '"mail.copies"' in body else ""
        try:
            return real_run(body)
        finally:
            running[0] = ""

    def call(self, operation_name, operation_kwargs, *args, **kwargs):
        if operation_name == "TransactWriteItems" and running[0]:
            # A group's copies end one after the other, each in its own transaction: the one holding its record.
            keys = [(body["TableName"], _key_of(body)) for item in operation_kwargs["TransactItems"]
                    for body in item.values()]
            [copy] = [dict(key)["tracking_pixel_id"]["S"] for table, key in keys if table.endswith("-email-tracking")]
            by_copy.setdefault(copy, set()).update(f"{table}|{key}" for table, key in keys)
        return real_call(self, operation_name, operation_kwargs, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", call)
    monkeypatch.setattr(jobs, "run_message", run_message)
    send(discussion["id"])
    monkeypatch.undo()

    assert len(outbox()) == 6 and len(by_copy) == 6
    written = [key for keys in by_copy.values() for key in keys]
    shared = {key for key in written if written.count(key) > 1}
    assert all(key.split("|")[0].endswith("-tracking-counters") for key in shared), shared
    payloads = [{"tracking_id": pixel, "message_id": record.message_id}
                for pixel in by_copy for record in [EmailTracking.get(pixel)]]
    for key in shared:  # MESSAGE#NN: held by the copies of that message in shard NN only
        holders = [copy for copy, keys in zip(payloads, by_copy.values(), strict=True) if key in keys]
        assert {(copy["message_id"], copy_shard(copy["tracking_id"])) for copy in holders} == {
            (holders[0]["message_id"], copy_shard(holders[0]["tracking_id"]))}
        assert f"{holders[0]['message_id']}#{copy_shard(holders[0]['tracking_id'])}" in key


def _key_of(body):
    if "Key" in body:
        return sorted(body["Key"].items())
    from chalicelib.tables import all_models

    model = next(m for m in all_models() if m.Meta.table_name == body["TableName"])
    names = [model._hash_key_attribute().attr_name] + (
        [model._range_key_attribute().attr_name] if model._range_key_attribute() else [])
    return sorted((name, body["Item"][name]) for name in names)


def test_a_fan_out_that_dies_between_two_messages_mails_every_copy_once_when_run_again(api, enabled, outbox, send,
                                                                                       run_jobs, monkeypatch):
    """One fan-out job writes the copies of every message of a send, message after message. A Lambda killed after
    the first message's copies were written (their jobs not queued yet) is run again by SQS: the first message's
    copies are found queued and queued again, the others written — every copy mailed once."""
    from chalicelib.mail import send as sending

    class Killed(BaseException):
        """What a Lambda that timed out or ran out of memory raises: nothing (no handler runs)."""

    discussion = _discussion(api)
    for number in range(2):
        api.post(f"{THREADS}/{discussion['id']}/messages", {"body": f"Follow-up {number}"})
    real = sending._write_copies
    written: list[str] = []

    def dies_on_the_second(discussion, message_id, *rest):
        if written:
            raise Killed()
        written.append(message_id)
        return real(discussion, message_id, *rest)

    monkeypatch.setattr(sending, "_write_copies", dies_on_the_second)
    assert api.post(f"{THREADS}/{discussion['id']}/send").status_code == 202
    with pytest.raises(Killed):
        run_jobs()
    assert outbox() == []
    monkeypatch.undo()
    run_jobs(skip_delays=True)
    mailed = collections.Counter(d[0] for _, d, _ in outbox())
    assert mailed == {"cleo@client.example": 3, "carl@client.example": 3, "betty@secret.example": 3}


def test_a_fan_out_job_queued_by_older_code_naming_one_message_still_sends_it(api, enabled, outbox, run_jobs):
    """Jobs on the queue while a new version is deployed: a fan-out job of the per-message shape
    (`message_id`, not `message_ids`) is run as a send of that one message."""
    from chalicelib import jobs

    discussion = _discussion(api)
    jobs.send_direct("mail.fanout", [{"tenant_id": "tenant-a", "discussion_id": discussion["id"],
                                      "message_id": discussion["messages"][0]["id"],
                                      "recipients": ["cleo@client.example"], "again": False}])
    run_jobs()
    assert [d for _, d, _ in outbox()] == [["cleo@client.example"]]


def test_a_copy_job_with_its_plan_queued_by_older_code_still_sends_it_once(api, enabled, outbox, run_jobs,
                                                                            monkeypatch):
    """Jobs on the queue while a new version is deployed: a `mail.copy` job carrying one copy's plan, as fan-outs
    queued before groups, is sent as before — once, and its duplicate ends without mailing again."""
    from chalicelib import jobs

    discussion = _discussion(api)
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "A second message"})
    real = jobs.send_direct
    monkeypatch.setattr(jobs, "send_direct", lambda kind, payloads: None if kind == "mail.copies"
                        else real(kind, payloads))  # the fan-out's groups are lost: the old job stands in
    api.post(f"{THREADS}/{discussion['id']}/send")
    run_jobs()
    monkeypatch.undo()
    [first, second] = api.get(f"{THREADS}/{discussion['id']}").data["messages"]
    cleo = copies(api, discussion["id"], second["id"])["cleo@client.example"]
    old = {"tracking_id": cleo["tracking_pixel_id"], "tenant_id": "tenant-a", "discussion_id": discussion["id"],
           "message_id": second["id"], "recipient": "cleo@client.example",
           "earlier": [[first["id"], first["author_type"], first["author"]]], "own": {}, "quote": [first["id"]],
           "staff": {}, "marks_message": True}
    jobs.send_direct("mail.copy", [old, old])
    run_jobs()

    [(_, to, mail)] = outbox()
    assert to == ["cleo@client.example"] and "A second message" in mail.get_body(("plain",)).get_content()
    assert copies(api, discussion["id"], second["id"])["cleo@client.example"]["state"] == "sent"


def _request_text(body) -> str:
    return body.decode() if isinstance(body, bytes) else str(body or "")


def _after_ses_takes_it(error):
    """A before-send handler run after moto's (the same level, registered last): SES has the request — moto keeps the
    mail — and then `error` is what the SDK sees instead of the answer (a read timeout, say)."""
    attempts: list[str] = []

    def lose_the_answer(request, **kwargs):
        if "Action=SendRawEmail" in _request_text(request.body):
            attempts.append(request.url)
            raise error(endpoint_url=request.url)

    return attempts, lose_the_answer


def test_a_send_whose_answer_was_lost_is_not_attempted_again_by_the_sdk(api, enabled, outbox, run_jobs):
    """botocore's retry policy attempts a read timeout again like any transient error; for SendRawEmail that would
    mail the recipient again (SES took the first). The call ends at the first such error: one mail, and the copy
    stays claimed at `calling`, to be listed as uncertain (tests/outbound/test_send_faults.py)."""
    from botocore.exceptions import ReadTimeoutError

    from chalicelib.mail import ses

    discussion = api.post(THREADS, {"subject": "Once", "initial_message": "Hi",
                                    "participants": [{"email": "zoe@client.example"}]}).data
    attempts, handler = _after_ses_takes_it(ReadTimeoutError)
    events = ses.client().meta.events
    events.register_last("before-send", handler, unique_id="test-lose-the-answer")
    try:
        assert api.post(f"{THREADS}/{discussion['id']}/send").status_code == 202
        with pytest.raises(ReadTimeoutError):
            run_jobs()
    finally:
        events.unregister("before-send", unique_id="test-lose-the-answer")
    assert len(attempts) == 1 and [d for _, d, _ in outbox()] == [["zoe@client.example"]]
    assert copies(api, discussion["id"])["zoe@client.example"]["state"] == "sending"


def test_a_connection_that_never_opened_is_attempted_again_and_the_copy_goes_once(api, enabled, outbox, run_jobs,
                                                                                 monkeypatch):
    """A connection error before the request left is safe to attempt again: the SDK's attempts, then the queue."""
    from botocore.exceptions import ConnectTimeoutError

    from chalicelib import aws
    from chalicelib.mail import ses

    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    discussion = api.post(THREADS, {"subject": "Once", "initial_message": "Hi",
                                    "participants": [{"email": "zoe@client.example"}]}).data
    attempts: list[str] = []

    def never_connects(request, **kwargs):
        if "Action=SendRawEmail" in _request_text(request.body):
            attempts.append(request.url)
            raise ConnectTimeoutError(endpoint_url=request.url)

    events = ses.client().meta.events
    events.register_first("before-send.ses.SendRawEmail", never_connects, unique_id="test-never-connects")
    try:
        assert api.post(f"{THREADS}/{discussion['id']}/send").status_code == 202
        run_jobs()
    finally:
        events.unregister("before-send.ses.SendRawEmail", unique_id="test-never-connects")
    assert len(attempts) == aws.MAX_ATTEMPTS and outbox() == []
    assert copies(api, discussion["id"])["zoe@client.example"]["state"] == "failed"  # waiting for its retry
    run_jobs(skip_delays=True)
    assert [d for _, d, _ in outbox()] == [["zoe@client.example"]]
