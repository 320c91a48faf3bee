"""Issue 22: what a copy costs in DynamoDB calls, whatever the discussion's history or the recipient's past."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bench.calls import counting
from tests.outbound.conftest import copies
from tests.outbound.test_send import THREADS, _discussion

# A copy sent on its own (the sweep's job, an admin's resend): one BatchGetItem (the copy's record, the tenant's
# status and settings, the discussion, the message, the recipient's latest copies of the earlier messages, the
# messages it quotes); the claim at the calling step (UpdateItem); the end with the inbound index and the copy's
# shard of the message's counters, and for one copy of a message the message's SES id (TransactWriteItems).
PLANNED = {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 1, "dynamodb.TransactWriteItems": 1}


def group(copies: int, reads: int = 1) -> dict[str, int]:
    """A group of copies of one message (`mail.copies`): what they share and each one's own in one BatchGetItem
    (`reads` more only where the latest earlier copies hold no Message-ID), then a claim and an end per copy."""
    return {"dynamodb.BatchGetItem": reads, "dynamodb.UpdateItem": copies, "dynamodb.TransactWriteItems": copies}


def _measured(monkeypatch, counter, job: str) -> list[dict[str, int]]:
    """The DynamoDB calls of each run of a job (`run_copy`, `run_fanout`), as the jobs Lambda runs them."""
    from chalicelib.mail import send as sending

    per_job: list[dict[str, int]] = []
    original = getattr(sending, job)

    def measured(payload):
        before = dict(counter.calls)
        try:
            return original(payload)
        finally:
            per_job.append({name: count - before.get(name, 0) for name, count in counter.calls.items()
                            if name.startswith("dynamodb.") and count != before.get(name, 0)})

    monkeypatch.setattr(sending, job, measured)
    return per_job


def test_a_copy_is_two_dynamodb_calls_and_its_group_one_read_first_of_a_message_late_joiner_and_backlog_alike(
        api, enabled, send, monkeypatch):
    """No earlier message; then a backlog of five messages sent together, to a recipient who joined late too: the
    copies of each message are one group, one read for all of them and two writes a copy (issue 22: about 6 + 2R).
    What the history gives a copy (the earlier messages, which to quote, staff names) comes in its job from the
    fan-out, which reads it once per send: one Query of its 5 calls (of 9 for the backlog)."""
    discussion = _discussion(api)
    with counting() as counter:
        per_group = _measured(monkeypatch, counter, "run_copies")
        per_fanout = _measured(monkeypatch, counter, "run_fanout")
        send(discussion["id"])
        first_send = list(per_group)
        for number in range(5):  # a backlog: five more messages, sent together
            api.post(f"{THREADS}/{discussion['id']}/messages", {"body": f"Note {number}"})
        assert api.post(f"{THREADS}/{discussion['id']}/participants",
                        {"email": "late@client.example"}).status_code == 201
        per_group.clear()
        send(discussion["id"])

    assert first_send == [group(3)]  # cleo, carl, betty; the first copy writes the message's SES id in its end
    assert per_group == [group(4)] * 5  # then the late joiner too
    # One fan-out per send: the discussion, its messages and the settings, then the suppression states with any
    # earlier copies (two BatchGetItem), the history of all its messages (one Query), the reply keys and Message-IDs
    # (one BatchWriteItem), and per message its copies with its total (a transaction); the first in a container also
    # the staff names (BatchGetItem, cached). The backlog of five: 4 + 5 calls, where a fan-out per message made 25.
    fanout = {"dynamodb.BatchGetItem": 2, "dynamodb.BatchWriteItem": 1, "dynamodb.TransactWriteItems": 1,
              "dynamodb.Query": 1}
    assert per_fanout == [{**fanout, "dynamodb.BatchGetItem": 3}, {**fanout, "dynamodb.TransactWriteItems": 5}]


def test_a_recipient_whose_latest_copies_hold_no_message_id_costs_the_group_one_read_more_and_threads_as_before(
        api, enabled, send, monkeypatch):
    """A group reads each recipient's latest FIRST_LOOK earlier copies, where the Message-ID their next copy answers
    nearly always is. Cleo's first copy went out; SES refused her next five for good, so her latest copies hold no
    Message-ID: the group reads her older ones too (one BatchGetItem more for the group) and her seventh copy
    answers her first in the raw bytes SES is given, as a copy reading all 50 did; Carl's answers his latest; a late
    joiner, with more earlier messages than FIRST_LOOK and no copy of any, answers none."""
    from chalicelib.mail import copies as copy_plans
    from chalicelib.mail import ses
    from tests import rawmail
    from tests.outbound.test_mail_clients import raw_sent

    discussion = _discussion(api)
    send(discussion["id"])
    [(cleos_first, _, _)] = [sent for sent in raw_sent() if sent[1] == "cleo@client.example"]
    real = ses.send_raw

    def refusing_cleo(sender, recipient, raw, configuration_set):
        if recipient == "cleo@client.example":
            raise ses.SendFailed("MessageRejected", "Email address is not verified.", retryable=False)
        return real(sender, recipient, raw, configuration_set)

    monkeypatch.setattr(ses, "send_raw", refusing_cleo)
    for number in range(copy_plans.FIRST_LOOK + 1):
        api.post(f"{THREADS}/{discussion['id']}/messages", {"body": f"Refused {number}"})
        send(discussion["id"])
    monkeypatch.undo()
    [(carls_latest, _, _)] = [sent for sent in raw_sent() if sent[1] == "carl@client.example"][-1:]
    assert api.post(f"{THREADS}/{discussion['id']}/participants",
                    {"email": "late@client.example"}).status_code == 201
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "Received at last"})
    before = len(raw_sent())
    with counting() as counter:
        per_group = _measured(monkeypatch, counter, "run_copies")
        send(discussion["id"])

    assert per_group == [group(4, reads=2)]
    answers = {recipient: rawmail.header(raw, "In-Reply-To") for _, recipient, raw in raw_sent()[before:]}
    assert answers == {"cleo@client.example": f"<{cleos_first}@email.amazonses.com>",
                       "carl@client.example": f"<{carls_latest}@email.amazonses.com>",
                       "betty@secret.example": answers["betty@secret.example"],
                       "late@client.example": None}
    assert answers["betty@secret.example"] not in (None, answers["carl@client.example"])


def test_a_copy_queued_without_a_plan_reads_its_record_and_the_history_first(api, client, enabled, run_jobs,
                                                                            monkeypatch):
    """A job that names the copy only (the sweep's, an admin's resend, one queued by older code): its record
    (GetItem) and, once a message per container a minute, the history (Query) and the staff names before the same
    BatchGetItem; the first of such copies of a message with no SES id yet writes it after the end (UpdateItem).
    4 calls, at most 7."""
    from chalicelib import cache, clock, jobs

    discussion = _discussion(api)
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "A second message"})
    real = jobs.send_direct
    monkeypatch.setattr(jobs, "send_direct", lambda kind, payloads: None if kind == "mail.copies"
                        else real(kind, payloads))  # the fan-outs' copy jobs are lost
    api.post(f"{THREADS}/{discussion['id']}/send")
    run_jobs()
    monkeypatch.undo()
    later = datetime.now(UTC) + timedelta(minutes=16)
    clock.set_clock(lambda: later)
    cache.clear()  # the sweep's jobs run in a new container
    with counting() as counter:
        per_copy = _measured(monkeypatch, counter, "run_copy")
        client.lambda_.invoke("retry_failed_sends", client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
        run_jobs()

    unplanned = {**PLANNED, "dynamodb.GetItem": 1}
    # The first copy of each message in this container: the history Query, and the message's SES id after the end;
    # the very first also the staff names of the users directory (a BatchGet, kept a minute).
    first_of_message = {**unplanned, "dynamodb.Query": 1, "dynamodb.UpdateItem": 2}
    first_of_container = {**first_of_message, "dynamodb.BatchGetItem": 2}
    assert sorted(per_copy, key=lambda calls: sum(calls.values())) == (
        [unplanned] * 4 + [first_of_message, first_of_container])


def test_a_role_changed_after_the_fan_out_costs_one_read_more_and_quotes_what_the_role_now_shows(
        api, client, enabled, outbox, run_jobs, send, monkeypatch):
    """The fan-out chose what each copy quotes by the roles it read. The bcc participant, whose emailed words it kept
    from the others, is made a participant before the copies run: Cleo's copy quotes them after all, as it would
    have, at the price of one BatchGetItem more a copy (the race the plan cannot foresee)."""
    from chalicelib import jobs
    from tests.outbound.test_mail_clients import _reply

    secret, betty, cleo = "The budget ceiling is 9,500 EUR", "betty@secret.example", "cleo@client.example"
    discussion = _discussion(api)
    send(discussion["id"])
    [(_, _, received)] = [sent for sent in outbox() if sent[1] == [betty]]
    reply_to = str(received["Reply-To"])
    from scripts.deliver_mail import deliver

    assert deliver(client, _reply(reply_to, betty, "Betty Bcc", secret, received["Message-ID"],
                                  received["Message-ID"], "<betty-1@secret.example>"), [reply_to])[0]["status"] == \
        "posted"
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "A follow-up"})
    queued: list = []
    real = jobs.send_direct
    monkeypatch.setattr(jobs, "send_direct", lambda kind, payloads: queued.extend(payloads) if kind == "mail.copies"
                        else real(kind, payloads))
    api.post(f"{THREADS}/{discussion['id']}/send")
    run_jobs()  # the fan-out: Betty is bcc, so Cleo's plan quotes the follow-up's history without her words
    monkeypatch.undo()
    participants = api.get(f"{THREADS}/{discussion['id']}").data["participants"]
    [betty_id] = [p["id"] for p in participants if p["email"] == betty]
    assert api.call("DELETE", f"{THREADS}/{discussion['id']}/participants/{betty_id}").status_code == 200
    assert api.post(f"{THREADS}/{discussion['id']}/participants",
                    {"email": betty, "name": "Betty Bcc", "role": "participant"}).status_code == 201
    jobs.send_direct("mail.copies", queued)
    with counting() as counter:
        per_group = _measured(monkeypatch, counter, "run_copies")
        run_jobs()

    cleos = [message for _, to, message in outbox() if to == [cleo]]
    assert secret in cleos[-1].get_body(preferencelist=("plain",)).get_content()
    # Cleo's and Carl's copies read Betty's message; Betty's own plan quoted her words already.
    assert per_group == [group(3, reads=1 + 2)]


def test_the_copy_that_writes_the_messages_ses_id_meeting_another_writer_there_writes_its_end_again(
        api, enabled, outbox, send, monkeypatch):
    """Only the copy the fan-out chose has the message in its end transaction, so copies never collide there; but a
    send of the same message by name, queued at that moment, has it in its own transaction, and DynamoDB cancels
    one of the two (TransactionConflict: moto never does, so it is made here, as AWS answers it,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html). Nothing of a
    cancelled transaction is written, so the claim writes its end again (db.retry_on_conflict): sent once and
    recorded, one call more, the message with its SES id."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    real = BaseClient._make_api_call
    conflicts: list[str] = []

    def call(self, operation_name, kwargs):
        items = kwargs.get("TransactItems", []) if operation_name == "TransactWriteItems" else []
        tables = [body["TableName"] for item in items for body in item.values()]
        copy_end = any(t.endswith("-email-tracking") for t in tables) and any(t.endswith("-messages") for t in tables)
        if copy_end and not conflicts:
            conflicts.append(operation_name)
            reasons = [{"Code": "TransactionConflict" if table.endswith("-messages") else "None"} for table in tables]
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                               "CancellationReasons": reasons}, operation_name)
        return real(self, operation_name, kwargs)

    discussion = _discussion(api)
    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    with counting() as counter:
        per_group = _measured(monkeypatch, counter, "run_copies")
        send(discussion["id"])

    assert conflicts == ["TransactWriteItems"] and len(outbox()) == 3
    assert {copy["state"] for copy in copies(api, discussion["id"]).values()} == {"sent"}
    assert per_group == [{**group(3), "dynamodb.TransactWriteItems": 3 + 1}]
    assert api.get(f"{THREADS}/{discussion['id']}").data["messages"][0]["email_message_id"]
    statistics = api.get(f"{THREADS}/{discussion['id']}/tracking").data
    assert (statistics["total"], statistics["sent"], statistics["failed"]) == (3, 3, 0)  # counted once, in the end


def test_the_send_request_is_four_dynamodb_calls_and_three_for_a_named_message(api, enabled, send, run_jobs):
    """The settings, the discussion, the tenant's status (and a named message) in one BatchGetItem; the outbox (one
    Query) unless a message is named; the recipients' suppressions (with a named message's copies) in one
    BatchGetItem; the jobs and the outbox's change in one transaction — whatever the number of recipients."""
    discussion = _discussion(api)

    def request(body: dict) -> tuple[dict, dict[str, int]]:
        with counting() as counter:
            response = api.post(f"{THREADS}/{discussion['id']}/send", body)
        assert response.status_code == 202, response.data
        return response.data, {name: count for name, count in counter.by_operation().items()
                               if name.startswith("dynamodb.")}

    answer, calls = request({})
    assert len(answer["queued"]) == 1 and len(answer["queued"][0]["recipients"]) == 3
    assert calls == {"dynamodb.BatchGetItem": 2, "dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}
    run_jobs()
    message_id = answer["queued"][0]["message_id"]
    again, calls = request({"message_id": message_id})  # every copy sent already: nothing queued, nothing written
    assert again["queued"] == [] and {skip["reason"] for skip in again["skipped"]} == {"already sent"}
    assert calls == {"dynamodb.BatchGetItem": 2}
    missing = api.post(f"{THREADS}/{discussion['id']}/send", {"message_id": "no-such-message"})
    assert missing.status_code == 404 and "message_id" in str(missing.data)


def test_one_history_query_for_a_backlog_gives_each_message_the_history_of_its_own(api, enabled, send, monkeypatch):
    """The fan-out of a send reads the history of all its messages at once (copies.histories); each copy's plan must
    hold exactly what the one-message read (copies.history: the non-internal messages among the 50 before it) gives,
    with internal notes between the messages and a second send whose 50 reach back past the first one's."""
    from chalicelib import jobs
    from chalicelib.mail import copies as copy_plans

    discussion = _discussion(api)
    for number in range(30):  # 30 messages, each after an internal note: 61 messages in all with the first
        api.post(f"{THREADS}/{discussion['id']}/messages", {"body": f"note {number}", "is_internal": True})
        api.post(f"{THREADS}/{discussion['id']}/messages", {"body": f"Message {number}"})
    planned: list[dict] = []
    real = jobs.send_direct

    def keep(kind, payloads):
        if kind == "mail.copies":
            planned.extend({"message_id": plan.message_id, "earlier": [m.message_id for m in plan.earlier]}
                           for group in payloads for plan in copy_plans.plans_of_group(group))
        return real(kind, payloads)

    monkeypatch.setattr(jobs, "send_direct", keep)
    first = send(discussion["id"])  # the first message and 24 more: the outbox's oldest 25
    second = send(discussion["id"])  # the other 6
    assert [len(answer["queued"]) for answer in (first, second)] == [25, 6]
    tenant = "tenant-a"
    sent = {payload["message_id"] for payload in planned}
    assert len(sent) == 31 and len(planned) == 31 * 3
    for payload in planned:
        expected = copy_plans.history(tenant, discussion["id"], payload["message_id"])
        assert payload["earlier"] == [m.message_id for m in expected]
    # The history really reaches back 50 messages: the last message's covers 25 notes and 25 messages before it.
    last = max(sent)
    assert len(next(p for p in planned if p["message_id"] == last)["earlier"]) == 25


def test_a_group_is_as_many_copies_as_one_batch_get_item_reads_for():
    """copies.groups cuts a message's copies so that what each group reads — the 4 items they share, each copy's
    record and its recipient's latest FIRST_LOOK earlier copies, the messages they quote — is at most BatchGetItem's
    100 keys, and at most MAX_GROUP copies; in the order the fan-out queued them. Counted here from the plans, as
    send._read asks for them."""
    from chalicelib.discussions.models import Message
    from chalicelib.mail import copies as copy_plans

    def plans(recipients: int, earlier: int) -> list:
        history = [Message("tenant-a#d", f"m{n:02}", author_type="user", author="sam") for n in range(earlier)]
        return [copy_plans.Plan(f"{n:032x}", "tenant-a", "d", "m99", f"r{n}@client.example", history,
                                quote=[m.message_id for m in history[-3:]], from_fanout=True)
                for n in range(recipients)]

    def keys(group: list) -> int:
        looked = sum(len(copy_plans.first_look(copy_plans.previous_keys(p.recipient, p.earlier, "tenant-a", "d")))
                     for p in group)
        return 4 + len(group) + looked + len({mid for p in group for mid in p.quote})

    long_history = plans(39, 50)
    cut = copy_plans.groups(long_history)
    assert [plan for group in cut for plan in group] == long_history
    assert all(keys(group) <= 100 for group in cut) and keys(cut[0] + cut[1][:1]) > 100
    assert [len(group) for group in cut] == [18, 18, 3]  # 4 shared + 3 quoted + 18 × (1 + 4)
    assert [len(group) for group in copy_plans.groups(plans(39, 0))] == [25, 14]  # MAX_GROUP
    assert [len(group) for group in copy_plans.groups(plans(3, 2))] == [3]
    assert [len(group) for group in copy_plans.groups(plans(3, 2), most=1)] == [1, 1, 1]


@pytest.mark.parametrize("rate, sizes", [(14, [1, 1, 1]), (50, [3]), (1000, [3])])
def test_a_group_is_what_its_containers_share_of_the_ses_rate_sends_in_five_seconds(rate, sizes, api, enabled,
                                                                                    outbox, send, monkeypatch):
    """A group's copies go one after the other at its container's share of the account's SES rate (1/50); copies
    in jobs of their own go out in as many containers at once. So at SES's default production rate, 14 a second
    (0.28 a container: 1.4 in five seconds), each copy is a group of its own and the three go out as soon as
    before; at 50 a second (5 in five seconds) and above, the three are one group."""
    from chalicelib import jobs
    from chalicelib.mail import ses

    monkeypatch.setattr(ses, "max_send_rate", lambda: float(rate))  # GetSendQuota's MaxSendRate
    queued: list[int] = []
    real = jobs.send_direct
    monkeypatch.setattr(jobs, "send_direct", lambda kind, payloads: (queued.extend(
        len(group["copies"]) for group in payloads) if kind == "mail.copies" else None) or real(kind, payloads))
    monkeypatch.setattr(ses, "wait_before_sending", lambda senders: 0.0)  # the pace itself: tests/test_claims.py
    discussion = _discussion(api)
    send(discussion["id"])

    assert queued == sizes and len(outbox()) == 3
    assert {copy["state"] for copy in copies(api, discussion["id"]).values()} == {"sent"}


def test_the_largest_group_job_fits_in_one_sqs_message():
    """A group's job carries what its copies share once (the 50 earlier messages' ids and authors, the staff names)
    and each copy's own: at its largest — 25 copies to addresses of 254 characters, 50 earlier messages written by
    them, each with a Message-ID of 998 characters (a header line's limit), 50 staff names of 200 — it stays within
    the 256 KiB SQS takes in a message (jobs.batches refuses more), and reads back as the plans it was made of."""
    from chalicelib import jobs
    from chalicelib.discussions.models import Message
    from chalicelib.mail import copies as copy_plans

    people = [f"{n:02}{'x' * 230}@{'d' * 10}.example" for n in range(25)]
    history = [Message("tenant-a#d", f"{n:026}", author_type="client", author=people[n % 25],
                       email_message_id=f"<{n:02}{'i' * 990}@mail.example>") for n in range(50)]
    staff: dict[str, str | None] = {f"user-{n:036}": "N" * 200 for n in range(50)}
    plans = [copy_plans.Plan(f"{n:032x}", "tenant-a", "d" * 26, "m" * 26, person, history,
                             quote=[m.message_id for m in history[-3:]], staff=staff, from_fanout=True)
             for n, person in enumerate(people)]
    payload = copy_plans.group_payload(plans)
    body = json.dumps({"kind": "mail.copies", "payload": payload})

    assert 80_000 < len(body.encode()) < jobs.BATCH_BYTES and jobs.batches([body]) == [[body]]  # about 91 KB
    back = copy_plans.plans_of_group(json.loads(body)["payload"])
    assert [(p.pixel, p.recipient, p.quote) for p in back] == [(p.pixel, p.recipient, p.quote) for p in plans]
    # Each copy keeps only its own recipient's Message-IDs, as a job of its own carried them.
    assert all({m.message_id for m in p.earlier if m.email_message_id} ==
               {m.message_id for m in history if m.author == p.recipient} for p in back)
