"""The one claim-with-lease helper (chalicelib/claims.py), its leases beside the Lambdas that hold them, and the
account's SES send rate shared by the senders."""
from __future__ import annotations

import json
import pathlib
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import claims, clock, jobs
from chalicelib.tracking.models import EmailTracking

ROOT = pathlib.Path(__file__).resolve().parent.parent
START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def at(aws):
    """The service's clock, fixed at START and moved by the test."""
    moment = [START]
    clock.set_clock(lambda: moment[0])

    def move(seconds: float) -> None:
        moment[0] = START + timedelta(seconds=seconds)

    return move


def _queued_copy(pixel: str = "a" * 32) -> EmailTracking:
    record = EmailTracking(pixel, tenant_id="tenant-a", discussion_id="d1", message_id="m1",
                           recipient_email="x@client.example", discussion_key="tenant-a#d1",
                           message_recipient="m1#x@client.example", state="queued")
    record.save()
    return EmailTracking(pixel)


def test_work_is_taken_once_while_its_lease_runs_and_taken_over_after(at):
    from chalicelib.mail.send import COPY

    _queued_copy()
    first = claims.take(EmailTracking("a" * 32), COPY)
    second = claims.take(EmailTracking("a" * 32), COPY)
    at(COPY.lease_seconds + 1)
    third = claims.take(EmailTracking("a" * 32), COPY)

    assert first.held and second.state == claims.BUSY and 0 < second.retry_in <= COPY.lease_seconds + 1
    assert third.held and third.token != first.token
    with pytest.raises(claims.LostClaim):
        first.finish("sent")  # the first holder outlived its lease: its write is refused
    third.finish("sent")
    assert EmailTracking.get("a" * 32).state == "sent" and EmailTracking.get("a" * 32).claim is None
    assert claims.take(EmailTracking("a" * 32), COPY).state == claims.DONE


def test_a_holder_lost_at_the_calling_step_makes_the_work_uncertain_and_listed_once(at, capsys):
    from chalicelib.mail.send import COPY

    _queued_copy()
    lost = claims.take(EmailTracking("a" * 32), COPY)
    lost.reach(claims.CALLING)
    at(COPY.lease_seconds - 1)
    still_held = claims.take(EmailTracking("a" * 32), COPY)
    at(COPY.lease_seconds + 1)
    found = claims.take(EmailTracking("a" * 32), COPY)
    again = claims.take(EmailTracking("a" * 32), COPY)

    assert still_held.state == claims.BUSY
    assert found.state == claims.UNCERTAIN and again.state == claims.DONE
    record = EmailTracking.get("a" * 32)
    assert record.state == "uncertain" and record.retry_shard is None
    [listed] = list(claims.UncertainSend.query("tenant-a"))
    assert (listed.kind, json.loads(listed.item_key)) == ("copy", ["a" * 32])
    metric = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["UncertainSends"] for m in metric] == [1]
    assert metric[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "DiscussionHub"
    lost.finish("sent")  # were the holder alive after all, what SES answered is still recorded
    assert EmailTracking.get("a" * 32).state == "sent"


def test_look_answers_as_take_would_from_the_item_as_read(at):
    """A worker that reads the item with others (one BatchGetItem) and prepares before it claims learns, without a
    write, what `take` would refuse: done, busy, gone, or a holder lost while calling (marked uncertain now)."""
    from chalicelib.mail.send import COPY

    def read(pixel: str) -> EmailTracking | None:
        return EmailTracking.get(pixel, consistent_read=True) if EmailTracking.count(pixel) else None

    _queued_copy("a" * 32)
    _queued_copy("c" * 32)
    ready = claims.look(read("a" * 32), COPY)
    claims.take(EmailTracking("a" * 32), COPY)  # a holder lost before CALLING
    calling = claims.take(EmailTracking("c" * 32), COPY, step=claims.CALLING)  # and one lost at CALLING
    busy = claims.look(read("c" * 32), COPY)
    at(COPY.lease_seconds + 1)
    taken_over, lost = claims.look(read("a" * 32), COPY), claims.look(read("c" * 32), COPY)

    assert ready is None and calling.held and busy is not None and busy.state == claims.BUSY
    assert taken_over is None  # `take` takes it over
    assert lost is not None and lost.state == claims.UNCERTAIN and read("c" * 32).state == "uncertain"
    assert claims.look(read("c" * 32), COPY).state == claims.DONE
    assert claims.look(read("b" * 32), COPY).state == claims.GONE


def test_another_items_refusal_in_the_holders_transaction_is_not_a_lost_claim(at):
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.discussions.models import Message
    from chalicelib.mail.send import COPY

    _queued_copy()
    claim = claims.take(EmailTracking("a" * 32), COPY, step=claims.CALLING)
    with pytest.raises(TransactWriteError):
        claim.finish("sent", also=lambda tx: tx.update(Message("tenant-a#d1", "m1"), actions=[
            Message.email_message_id.set("<x@y>")], condition=Message.message_id.exists()))  # no such message
    claim.finish("sent")  # still its holder

    assert EmailTracking.get("a" * 32).state == "sent"


def test_a_claim_the_sdk_sent_twice_after_a_lost_answer_is_taken_once_not_refused(at):
    """The claim's UpdateItem reaches DynamoDB and is applied, but its answer is lost (a timeout, a broken
    connection): the SDK sends it again, and the retry fails the claim's own condition. Read back with our token,
    the claim is ours: taken, its attempt added once — not BUSY, which would leave a copy claimed at `calling`
    to become uncertain without SES ever being called (found by review, 2026-12-03)."""
    from pynamodb.connection.base import Connection

    from chalicelib.mail.send import COPY

    _queued_copy()
    real = Connection._make_api_call
    sent: list[str] = []

    def answer_lost_then_retried(self, operation_name, operation_kwargs, *args, **kwargs):
        if operation_name == "UpdateItem" and not sent:
            sent.append("first")
            real(self, operation_name, operation_kwargs, *args, **kwargs)  # applied; its answer never arrives
        return real(self, operation_name, operation_kwargs, *args, **kwargs)  # the SDK's retry

    Connection._make_api_call = answer_lost_then_retried
    try:
        claim = claims.take(EmailTracking("a" * 32), COPY, actions=[EmailTracking.attempts.add(1)],
                            step=claims.CALLING)
    finally:
        Connection._make_api_call = real

    stored = EmailTracking.get("a" * 32)
    assert claim.held and claim.token == stored.claim.token and stored.claim.step == claims.CALLING
    assert int(stored.attempts) == 1 and stored.state == "sending"
    claim.finish("sent")
    assert EmailTracking.get("a" * 32).state == "sent"


def test_work_that_does_not_exist_is_not_created_by_a_claim(at):
    from chalicelib.mail.send import COPY

    claim = claims.take(EmailTracking("b" * 32), COPY)

    assert claim.state == claims.GONE
    with pytest.raises(EmailTracking.DoesNotExist):
        EmailTracking.get("b" * 32)


def test_a_released_claim_is_ready_for_the_next_worker_at_once(at):
    from chalicelib.tracking.events import APPLY
    from chalicelib.tracking.models import ProcessedEvent

    claim = claims.take(ProcessedEvent("ses#bounce#x"), APPLY, actions=[ProcessedEvent.expires_at.set(1)])
    claim.release()
    retaken = claims.take(ProcessedEvent("ses#bounce#x"), APPLY, actions=[ProcessedEvent.expires_at.set(1)])
    retaken.finish("applied")

    assert claim.held and retaken.held
    assert claims.take(ProcessedEvent("ses#bounce#x"), APPLY).state == claims.DONE


def _timeouts() -> dict[str, int]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    functions = config["stages"]["prod"]["lambda_functions"]
    chalice_default = 60
    return {name: functions.get(name, {}).get("lambda_timeout", chalice_default)
            for name in ("jobs", "ses_events", "inbound_mail")}


def test_every_lease_outlasts_the_lambdas_that_hold_it_and_ends_before_sqs_shows_the_job_again():
    """A lease that ran out must mean its holder is gone: a Lambda cannot outlive its timeout."""
    import yaml

    from chalicelib.mail.receive import DELIVERY
    from chalicelib.mail.send import COPY
    from chalicelib.notifications.digest import DIGEST
    from chalicelib.notifications.email import EMAIL
    from chalicelib.notifications.sms import SMS
    from chalicelib.tracking.events import APPLY

    timeouts = _timeouts()
    held_by = [(COPY, ["jobs"]), (DIGEST, ["jobs"]), (EMAIL, ["jobs", "ses_events"]),
               (SMS, ["jobs", "ses_events"]), (APPLY, ["ses_events"]), (DELIVERY, ["inbound_mail"])]
    template = yaml.safe_load((ROOT / "infra" / "resources.yaml").read_text().replace("!", ""))
    visibility = template["Resources"]["JobsQueue"]["Properties"]["VisibilityTimeout"]
    for work, functions in held_by:
        assert work.lease_seconds > max(timeouts[name] for name in functions), work.kind
        if "jobs" in functions:
            assert work.lease_seconds < visibility, work.kind


def test_the_jobs_event_source_and_the_send_rate_share_agree_on_the_concurrency():
    import app

    assert app.JOBS_MAX_CONCURRENCY == jobs.MAX_CONCURRENCY


def test_the_send_rate_is_read_once_per_container_and_shared_by_the_senders(aws, monkeypatch):
    from chalicelib.config import settings
    from chalicelib.mail import ses

    monkeypatch.setenv("SES_MAX_SEND_RATE", "0")
    settings.cache_clear()
    ses.reset_pace()
    calls: list[str] = []
    ses.client().meta.events.register("before-call.ses.GetSendQuota", lambda **kwargs: calls.append("quota"))
    try:
        first = ses.wait_before_sending(jobs.MAX_CONCURRENCY)
        second = ses.wait_before_sending(jobs.MAX_CONCURRENCY)
    finally:
        monkeypatch.undo()
        settings.cache_clear()
        ses.reset_pace()

    # moto's account may send 1 email a second; 50 senders share it: one each 50 seconds.
    assert calls == ["quota"] and first == 0 and 49 < second <= 50


def test_a_copy_over_the_containers_share_goes_back_on_the_queue_with_a_delay(aws, monkeypatch):
    from chalicelib.mail import send, ses

    monkeypatch.setattr(ses, "wait_before_sending", lambda senders: 12.5)

    with pytest.raises(jobs.RetryLater) as waiting:
        send.send_copy("c" * 32)

    assert waiting.value.seconds == 13
