"""SES events through SNS reach the tracking records: every type, duplicates, disorder, junk, suppression."""
from __future__ import annotations

import copy
import json
import pathlib

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from tests.outbound.conftest import copies as tracked_copies
from tests.outbound.conftest import sent_messages
from tests.outbound.test_send import THREADS, _discussion

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "ses"


def _example(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _aim(event, ses_id, recipient, timestamp=None):
    """The documented example, naming the SES message id and recipient of a send made in the test."""
    event = copy.deepcopy(event)
    event["mail"]["messageId"] = ses_id
    event["mail"]["destination"] = [recipient]
    for section in ("bounce", "complaint", "deliveryDelay"):
        if section in event:
            key = {"bounce": "bouncedRecipients", "complaint": "complainedRecipients",
                   "deliveryDelay": "delayedRecipients"}[section]
            event[section][key] = [{**event[section][key][0], "emailAddress": recipient}]
            if timestamp:
                event[section]["timestamp"] = timestamp
    if "delivery" in event:
        event["delivery"]["recipients"] = [recipient]
        if timestamp:
            event["delivery"]["timestamp"] = timestamp
    for section in ("open", "click"):
        if section in event and timestamp:
            event[section]["timestamp"] = timestamp
    return event


@pytest.fixture
def sent(api, enabled, send):
    discussion = _discussion(api)
    send(discussion["id"])
    return discussion, _ses_ids(api, discussion)


def _ses_ids(api, discussion):
    return {recipient: copy["ses_message_id"] for recipient, copy in tracked_copies(api, discussion["id"]).items()}


def _deliver(client, event, sns_id="sns-1"):
    payload = client.events.generate_sns_event(message=json.dumps(event) if not isinstance(event, str) else event)
    payload["Records"][0]["Sns"]["MessageId"] = sns_id
    return client.lambda_.invoke("ses_events", payload)


def _cleo(api, discussion):
    stats = api.get(f"{THREADS}/{discussion['id']}/tracking").data
    return next(r for r in stats["recipients"] if r["recipient_email"] == "cleo@client.example")


CLEO = "cleo@client.example"
CARL = "carl@client.example"


@pytest.mark.parametrize("example", ["event_delivery", "identity_delivery"])
def test_delivery_sets_delivered_at_once(api, client, sent, example):
    discussion, copies = sent
    _deliver(client, _aim(_example(example), copies[CLEO], CLEO, "2026-03-01T10:00:00.000Z"))
    _deliver(client, _aim(_example(example), copies[CLEO], CLEO, "2026-03-02T10:00:00.000Z"), "sns-2")
    assert _cleo(api, discussion)["delivered_at"] == "2026-03-01T10:00:00.000000Z"


@pytest.mark.parametrize("example", ["event_bounce", "identity_bounce_permanent_general_with_dsn"])
def test_permanent_bounce_is_hard_suppresses_and_marks_the_participant(api, make_api, client, sent, example,
                                                                      send):
    discussion, copies = sent
    _deliver(client, _aim(_example(example), copies[CLEO], CLEO))
    cleo = _cleo(api, discussion)
    assert cleo["bounce_type"] == "hard" and cleo["bounced_at"] and "5.1.1" in cleo["bounce_reason"]
    participant = next(p for p in api.get(f"{THREADS}/{discussion['id']}").data["participants"]
                       if p["email"] == CLEO)
    assert participant["email_status"] == "hard_bounce"
    listed = make_api(roles=["admin"]).get("/api/tenant/suppressions").data["items"]
    assert [(s["email"], s["reason"]) for s in listed] == [(CLEO, "hard_bounce")]
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "again"})
    report = send(discussion["id"])
    assert {"message_id": report["skipped"][0]["message_id"], "recipient": CLEO, "reason": "suppressed"} \
        in report["skipped"]
    assert CLEO not in report["queued"][0]["recipients"]


@pytest.mark.parametrize("example", ["event_complaint", "identity_complaint_abuse_with_feedback_report"])
def test_complaint_is_recorded_and_suppresses(api, make_api, client, sent, example):
    discussion, copies = sent
    _deliver(client, _aim(_example(example), copies[CLEO], CLEO))
    assert _cleo(api, discussion)["bounce_type"] == "complaint"
    listed = make_api(roles=["admin"]).get("/api/tenant/suppressions").data["items"]
    assert [s["reason"] for s in listed] == ["complaint"]


def test_suppression_can_be_lifted_by_an_admin_only(api, make_api, client, sent):
    discussion, copies = sent
    _deliver(client, _aim(_example("event_bounce"), copies[CLEO], CLEO))
    assert api.delete(f"/api/tenant/suppressions/{CLEO}").status_code == 403
    admin = make_api(roles=["admin"])
    assert admin.delete(f"/api/tenant/suppressions/{CLEO}").status_code == 200
    assert admin.get("/api/tenant/suppressions").data["items"] == []
    assert admin.delete(f"/api/tenant/suppressions/{CLEO}").status_code == 404


def test_soft_bounces_count_and_suppress_after_three_in_a_row(api, make_api, client, sent):
    discussion, copies = sent
    soft = _example("event_bounce")
    soft["bounce"]["bounceType"] = "Transient"
    for number in range(3):
        soft["bounce"]["feedbackId"] = f"soft-bounce-{number}"  # every real SES bounce has its own feedbackId
        _deliver(client, _aim(soft, copies[CLEO], CLEO, f"2026-03-0{number + 1}T10:00:00.000Z"), f"sns-{number}")
        listed = make_api(roles=["admin"]).get("/api/tenant/suppressions").data["items"]
        assert len(listed) == (1 if number == 2 else 0)
    assert _cleo(api, discussion)["bounce_type"] == "soft"


def test_a_soft_bounce_never_downgrades_a_hard_one(api, client, sent):
    discussion, copies = sent
    _deliver(client, _aim(_example("event_bounce"), copies[CLEO], CLEO))
    soft = _example("event_bounce")
    soft["bounce"]["bounceType"] = "Transient"
    soft["bounce"]["feedbackId"] = "another"
    _deliver(client, _aim(soft, copies[CLEO], CLEO), "sns-2")
    assert _cleo(api, discussion)["bounce_type"] == "hard"


@pytest.fixture
def ses_tracker(monkeypatch):
    """ENGAGEMENT_TRACKER=ses: our pixel and click links off, SES's Open and Click events counted instead."""
    from chalicelib.config import settings

    monkeypatch.setenv("ENGAGEMENT_TRACKER", "ses")
    settings.cache_clear()
    yield
    monkeypatch.undo()
    settings.cache_clear()


def test_ses_open_and_click_events_are_ignored_while_our_tracker_counts(api, client, sent):
    discussion, copies = sent
    opened = _deliver(client, _aim(_example("event_open"), copies[CLEO], CLEO)).payload
    _deliver(client, _aim(_example("event_click"), copies[CLEO], CLEO), "sns-2")
    cleo = _cleo(api, discussion)
    assert opened[0]["ignored"] == 1 and opened[0]["applied"] == 0
    assert (cleo["open_count"], cleo["click_count"], cleo["opened_at"], cleo["clicked_at"]) == (0, 0, None, None)


def test_with_the_switch_on_ses_tracks_and_our_pixel_and_links_are_gone(api, client, enabled, ses_tracker, send):
    discussion = _discussion(api)
    send(discussion["id"])
    copies = _ses_ids(api, discussion)
    raw = [m for _, d, m in sent_messages() if d == [CLEO]][0].as_string()
    assert "/t/o/" not in raw and "/t/c/" not in raw and "https://acme.example/q/1042" in raw
    _deliver(client, _aim(_example("event_open"), copies[CLEO], CLEO))
    _deliver(client, _aim(_example("event_click"), copies[CLEO], CLEO), "sns-2")
    cleo = _cleo(api, discussion)
    assert cleo["open_count"] == 1 and cleo["click_count"] == 1
    assert cleo["ip_address"] == "192.0.2.1" and "Mozilla" in cleo["user_agent"]


def test_open_and_click_events_count_with_agent_and_ip(api, client, sent, ses_tracker):
    discussion, copies = sent
    _deliver(client, _aim(_example("event_open"), copies[CLEO], CLEO))
    _deliver(client, _aim(_example("event_click"), copies[CLEO], CLEO), "sns-2")
    cleo = _cleo(api, discussion)
    assert cleo["open_count"] == 1 and cleo["click_count"] == 1
    assert cleo["ip_address"] == "192.0.2.1" and "Mozilla" in cleo["user_agent"]


@pytest.mark.parametrize("example, words", [("event_reject", "Bad content"),
                                            ("event_rendering_failure", "is not present in the rendering data")])
def test_reject_and_rendering_failure_mark_the_copy_failed(api, client, sent, example, words):
    discussion, copies = sent
    _deliver(client, _aim(_example(example), copies[CLEO], CLEO))
    cleo = _cleo(api, discussion)
    assert cleo["state"] == "failed" and words in cleo["failure_reason"]


def test_the_same_event_delivered_eight_times_counts_once(api, client, sent, ses_tracker):
    discussion, copies = sent
    event = _aim(_example("event_open"), copies[CLEO], CLEO)
    for attempt in range(8):
        _deliver(client, event, sns_id="same" if attempt < 4 else f"republished-{attempt}")
    assert _cleo(api, discussion)["open_count"] == 1


def test_out_of_order_events_keep_first_times_and_the_bounce(api, client, sent, ses_tracker):
    discussion, copies = sent
    _deliver(client, _aim(_example("event_open"), copies[CLEO], CLEO, "2026-03-01T10:05:00.000Z"))
    _deliver(client, _aim(_example("event_bounce"), copies[CLEO], CLEO, "2026-03-01T10:10:00.000Z"), "s2")
    _deliver(client, _aim(_example("event_delivery"), copies[CLEO], CLEO, "2026-03-01T10:00:00.000Z"), "s3")
    cleo = _cleo(api, discussion)
    assert cleo["opened_at"] == "2026-03-01T10:05:00.000000Z" and cleo["open_count"] == 1
    assert cleo["delivered_at"] == "2026-03-01T10:00:00.000000Z" and cleo["bounce_type"] == "hard"


def test_the_sns_http_envelope_shape_is_understood(api, client, sent):
    discussion, copies = sent
    envelope = _example("DERIVED_sns_http_notification_wrapping_identity_bounce")
    inner = _aim(json.loads(envelope["Message"]), copies[CLEO], CLEO)
    envelope["Message"] = json.dumps(inner)
    _deliver(client, envelope)
    assert _cleo(api, discussion)["bounce_type"] == "hard"


@pytest.mark.parametrize("junk", ["{not json", "[]", json.dumps({"eventType": "Bounce"}),
                                  json.dumps({"eventType": "Bounce", "mail": {"messageId": "x"}})])
def test_malformed_messages_are_acknowledged_and_change_nothing(api, client, sent, junk):
    discussion, _ = sent
    before = api.get(f"{THREADS}/{discussion['id']}/tracking").data
    response = _deliver(client, junk)
    assert response.payload is None or "errorMessage" not in str(response.payload)
    assert api.get(f"{THREADS}/{discussion['id']}/tracking").data == before


def test_events_for_mail_we_did_not_send_are_acknowledged(api, client, sent):
    discussion, _ = sent
    before = api.get(f"{THREADS}/{discussion['id']}/tracking").data
    _deliver(client, _example("event_bounce"))
    _deliver(client, _example("event_send"), "s2")
    assert api.get(f"{THREADS}/{discussion['id']}/tracking").data == before


def test_a_failure_while_applying_is_raised_for_retry_and_not_marked_done(api, client, sent, monkeypatch,
                                                                         ses_tracker):
    from chalicelib.tracking import events

    discussion, copies = sent
    event = _aim(_example("event_open"), copies[CLEO], CLEO)
    original = events._apply

    def crash(*args):
        raise RuntimeError("DynamoDB unavailable")

    monkeypatch.setattr(events, "_apply", crash)
    with pytest.raises(RuntimeError):
        events.handle(json.dumps(event), "sns-1")
    monkeypatch.setattr(events, "_apply", original)
    events.handle(json.dumps(event), "sns-1")
    assert _cleo(api, discussion)["open_count"] == 1


def test_the_owner_hears_of_a_hard_bounce_now_by_email_and_sms(api, make_api, client, sent):
    admin = make_api(roles=["admin"])
    admin.call("PUT", "/api/tenant/settings/communication", {"sms_enabled": True,
                                                             "default_digest_frequency": "weekly"})
    admin.call("PUT", "/api/tenant/users/user-1", {"email": "owner@acme.example", "name": "Olga Owner"})
    api.call("PUT", "/api/tenant/notifications/preferences", {"phone": "+14155550123"})
    discussion, copies = sent
    before = len(sent_messages())

    _deliver(client, _aim(_example("event_bounce"), copies[CLEO], CLEO))
    _deliver(client, _aim(_example("identity_bounce_permanent_general_with_dsn"), copies[CLEO], CLEO), "sns-2")

    [notification] = api.get("/api/tenant/notifications").data["items"]
    assert notification["type"] == "email_bounced" and notification["priority"] == "high"
    assert notification["title"] == f"Email to {CLEO} bounced: Quote 1042"
    assert notification["delivery"] == "instant" and notification["email_status"] == "sent"
    mailed = [m for _, to, m in sent_messages()[before:] if to == ["owner@acme.example"]]
    assert [m["Subject"] for m in mailed] == [notification["title"]]
    texts = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
    assert texts == [("+14155550123", notification["title"])]


def test_a_bounce_and_a_complaint_sharing_a_feedback_id_both_count_once(api, client, sent):
    """AWS's own samples give a bounce and a complaint one feedbackId: the event type is part of the dedupe key."""
    discussion, copies = sent
    bounce, complaint = _example("event_bounce"), _example("event_complaint")
    assert bounce["bounce"]["feedbackId"] == complaint["complaint"]["feedbackId"]

    results = [_deliver(client, _aim(event, copies[CLEO], CLEO), f"sns-{n}").payload[0]
               for n, event in enumerate([bounce, complaint, bounce, complaint])]

    assert [r["applied"] for r in results] == [1, 1, 0, 0] and [r["duplicate"] for r in results] == [0, 0, 1, 1]
    cleo = _cleo(api, discussion)
    assert cleo["bounce_type"] == "hard" and cleo["bounced_at"] and cleo["complained_at"]


def _dynamodb(counter):
    return {name: count for name, count in counter.by_operation().items() if name.startswith("dynamodb.")}


def test_a_delivery_is_one_query_and_one_transaction_and_counts_once(api, client, sent):
    """Issue 22: the copy found by its SES id (Query), then the event's dedupe item, the first delivery, its counter
    and the tenant's reputation count in one transaction; nothing else is read or written. The container reads the
    tenant's status once a minute (whether it is watched): its first delivery pays that GetItem."""
    from bench.calls import counting
    from chalicelib.identities.models import TenantReputation

    discussion, copies = sent
    with counting() as first_in_container:
        _deliver(client, _aim(_example("event_delivery"), copies[CARL], CARL), "sns-carl")
    event = _aim(_example("event_delivery"), copies[CLEO], CLEO, "2026-03-01T10:00:00.000Z")
    with counting() as counter:
        applied = _deliver(client, event).payload
    again = _deliver(client, event, "sns-2").payload  # SNS delivers it again
    later = _deliver(client, _aim(_example("identity_delivery"), copies[CLEO], CLEO), "sns-3").payload

    assert applied[0]["applied"] == 1 and again[0]["duplicate"] == 1 and later[0]["applied"] == 1
    assert _dynamodb(counter) == {"dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1}
    assert _dynamodb(first_in_container) == {"dynamodb.GetItem": 1, "dynamodb.Query": 1,
                                             "dynamodb.TransactWriteItems": 1}
    stats = api.get(f"{THREADS}/{discussion['id']}/tracking").data
    assert stats["delivered"] == 2  # Carl and Cleo: Cleo's second delivery event is not a second first delivery
    assert _cleo(api, discussion)["delivered_at"] == "2026-03-01T10:00:00.000000Z"
    days = list(TenantReputation.query("tenant-a", TenantReputation.bucket.startswith("day#")))
    assert sum(int(day.delivered or 0) for day in days) == 3  # each applied delivery event, once


def test_a_delivery_ends_a_run_of_soft_bounces_begun_before_its_copy_was_written(api, make_api, client, enabled,
                                                                                  send):
    from chalicelib.tracking.models import Suppression

    first = _discussion(api)
    send(first["id"])
    soft = _aim(_example("event_bounce"), _ses_ids(api, first)[CLEO], CLEO)
    soft["bounce"]["bounceType"], soft["bounce"]["feedbackId"] = "Transient", "soft-1"
    _deliver(client, soft)
    assert Suppression.get("tenant-a", CLEO).soft_bounces_in_a_row == 1

    second = _discussion(api)  # written while Cleo's run is being counted
    send(second["id"])
    _deliver(client, _aim(_example("event_delivery"), _ses_ids(api, second)[CLEO], CLEO), "sns-2")

    assert Suppression.get("tenant-a", CLEO).soft_bounces_in_a_row == 0
    assert make_api(roles=["admin"]).get("/api/tenant/suppressions").data["items"] == []


def test_a_delivery_is_applied_even_when_the_run_it_would_end_was_suppressed_meanwhile(api, client, enabled, send):
    from chalicelib.tracking import suppression
    from chalicelib.tracking.models import Suppression

    first = _discussion(api)
    send(first["id"])
    soft = _aim(_example("event_bounce"), _ses_ids(api, first)[CLEO], CLEO)
    soft["bounce"]["bounceType"], soft["bounce"]["feedbackId"] = "Transient", "soft-1"
    _deliver(client, soft)
    second = _discussion(api)  # written during Cleo's run: its delivery would end it
    send(second["id"])
    suppression.suppress("tenant-a", CLEO, "complaint", "suppressed by another event meanwhile")

    applied = _deliver(client, _aim(_example("event_delivery"), _ses_ids(api, second)[CLEO], CLEO), "sns-2").payload

    assert applied[0]["applied"] == 1
    assert api.get(f"{THREADS}/{second['id']}/tracking").data["delivered"] == 1
    kept = Suppression.get("tenant-a", CLEO)
    assert kept.suppressed_at and kept.soft_bounces_in_a_row == 1  # a suppressed address's run is left as it was


class _LambdaDied(BaseException):
    """The Lambda was killed (no `except Exception` of ours runs)."""


@pytest.mark.parametrize("example, counter", [("event_bounce", "bounced"), ("event_complaint", "complained")])
def test_a_handler_killed_right_after_recording_a_bounce_counts_it_once_when_run_again(api, client, sent, example,
                                                                                      counter, monkeypatch):
    """The copy's bounce (or complaint) and its count are one write. Killed right after the DynamoDB call that
    recorded it on the copy, the SNS delivery is run again after the event's claim has lapsed: the statistics count
    it once — when the count was a write of its own after the copy's, the run again found the copy bounced already
    and counted nothing."""
    from datetime import UTC, datetime, timedelta

    from botocore.client import BaseClient

    from chalicelib import clock

    discussion, copies = sent
    killed: list[str] = []
    real = BaseClient._make_api_call

    def die_after_recording(self, operation, params):
        answer = real(self, operation, params)
        if not killed and "bounced_at" in json.dumps(params, default=str):
            killed.append(operation)
            raise _LambdaDied()
        return answer

    monkeypatch.setattr(BaseClient, "_make_api_call", die_after_recording)
    with pytest.raises(_LambdaDied):
        _deliver(client, _aim(_example(example), copies[CLEO], CLEO))
    monkeypatch.undo()
    assert killed and _cleo(api, discussion)["bounced_at"]  # the copy was changed before the Lambda died

    moment = datetime.now(UTC) + timedelta(minutes=10)  # the event's claim has lapsed
    clock.set_clock(lambda: moment)
    _deliver(client, _aim(_example(example), copies[CLEO], CLEO), "sns-again")
    stats = api.get(f"{THREADS}/{discussion['id']}/tracking").data
    assert stats[counter] == 1 and stats["bounced"] == 1
