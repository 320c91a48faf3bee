"""Reputation isolation: a tenant over SES's bounce or complaint level is paused alone, and says why."""
from __future__ import annotations

import copy
import json
import pathlib

import boto3
import pytest

from bench.calls import counting
from tests.outbound.conftest import sent_messages

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "ses"
THREADS = "/api/tenant/threads"
RECIPIENTS = 20


def _example(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _aimed(name: str, ses_id: str, recipient: str) -> dict:
    """AWS's documented event (tests/fixtures/ses), naming a copy really sent in the test."""
    event = copy.deepcopy(_example(name))
    event["mail"]["messageId"] = ses_id
    event["mail"]["destination"] = [recipient]
    for section, key in (("bounce", "bouncedRecipients"), ("complaint", "complainedRecipients")):
        if section in event:
            event[section][key] = [{**event[section][key][0], "emailAddress": recipient}]
            event[section]["feedbackId"] = f"feedback-{ses_id}"  # each real event has its own
    if "delivery" in event:
        event["delivery"]["recipients"] = [recipient]
    return event


def _publish(client, event: dict, sns_id: str) -> None:
    payload = client.events.generate_sns_event(message=json.dumps(event))
    payload["Records"][0]["Sns"]["MessageId"] = sns_id
    client.lambda_.invoke("ses_events", payload)


class Tenant:
    def __init__(self, make_api, run_jobs, tenant_id: str, domain: str) -> None:
        self.admin = make_api(tenant_id, f"{tenant_id}-admin", ["admin"])
        self.run_jobs = run_jobs
        self.domain = domain
        assert self.admin.post("/api/tenant/identities", {"identity": domain}).status_code == 201
        assert self.admin.call("PUT", "/api/tenant/settings/communication", {
            "email_integration_enabled": True, "from_address": f"hub@{domain}",
            "email_reply_domain": "reply.discussionhub.local"}).status_code == 200

    def discussion(self, recipients: int) -> str:
        people = [{"email": f"person{n}@client.example"} for n in range(recipients)]
        return self.admin.post(THREADS, {"subject": "Offer", "initial_message": "Hello",
                                         "participants": people}).data["id"]

    def send(self, discussion_id: str):
        """The send request (202: queued), then the jobs that send each copy, as SQS → Lambda would run them."""
        response = self.admin.post(f"{THREADS}/{discussion_id}/send")
        if response.status_code == 202:
            self.run_jobs()
        return response


@pytest.fixture
def tenants(make_api, run_jobs, monkeypatch):
    monkeypatch.setenv("REPUTATION_MIN_VOLUME", str(RECIPIENTS))
    return (Tenant(make_api, run_jobs, "tenant-a", "acme.example"),
            Tenant(make_api, run_jobs, "tenant-b", "beta.example"))


def _sent_copies(tenant: Tenant) -> dict[str, str]:
    """recipient → SES message id of every copy sent from this tenant's domain (read from moto's SES)."""
    return {destinations[0]: ses_id for ses_id, destinations, mail in sent_messages()
            if mail["From"].addresses[0].domain == tenant.domain}


def _outcomes(client, tenant: Tenant, bad: int, kind: str) -> None:
    """The first `bad` copies bounce (or, delivered, draw a complaint, as complaints follow deliveries); the rest
    are delivered."""
    copies = sorted(_sent_copies(tenant).items())
    for index, (recipient, ses_id) in enumerate(copies):
        if index >= bad or "complaint" in kind:
            _publish(client, _aimed("event_delivery", ses_id, recipient), f"sns-{tenant.domain}-{index}")
        if index < bad:
            _publish(client, _aimed(kind, ses_id, recipient), f"sns-{tenant.domain}-{index}-bad")


def test_a_tenant_over_the_bounce_level_is_paused_with_its_reason_while_the_other_keeps_sending(client, tenants):
    a, b = tenants
    assert a.send(a.discussion(RECIPIENTS)).status_code == 202 and len(_sent_copies(a)) == RECIPIENTS

    _outcomes(client, a, bad=2, kind="identity_bounce_permanent_general_no_dsn")  # 2 in 20: 10 % > 5 %

    reputation = a.admin.get("/api/tenant/reputation").data
    assert reputation["sending"] == "paused"
    assert (reputation["delivered"], reputation["hard_bounces"], reputation["bounce_rate"]) == (18, 2, 10.0)
    assert reputation["reason"].startswith("bounce rate 10.0% (2 hard bounces in 20 emails) is over 5%")
    refused = a.send(a.discussion(1))
    assert refused.status_code == 409
    assert refused.data == {"error": {"code": "conflict", "field": "sending",
                                      "message": "sending is paused for this tenant: " + reputation["reason"]}}
    before = len(sent_messages())
    other = b.send(b.discussion(1))
    assert other.status_code == 202 and len(sent_messages()) == before + 1
    assert b.admin.get("/api/tenant/reputation").data["sending"] == "active"


def test_a_complaint_rate_over_a_tenth_of_a_percent_pauses_and_raises_the_alarm_metric(client, tenants):
    a, _ = tenants
    a.send(a.discussion(RECIPIENTS))

    _outcomes(client, a, bad=1, kind="identity_complaint_abuse_with_feedback_report")

    reputation = a.admin.get("/api/tenant/reputation").data
    assert reputation["sending"] == "paused" and reputation["complaints"] == 1
    assert "complaint rate 5.00% (1 complaints in 20 emails) is over 0.1%" in reputation["reason"]
    metrics = boto3.client("cloudwatch", region_name="us-east-1").list_metrics(
        Namespace="DiscussionHub/Reputation", MetricName="TenantsPaused")["Metrics"]
    assert metrics and metrics[0]["Dimensions"] == [{"Name": "Stage", "Value": "local"}]


def test_an_event_delivered_twice_counts_once_and_soft_bounces_do_not_count(client, tenants):
    a, _ = tenants
    a.send(a.discussion(RECIPIENTS))
    recipient, ses_id = sorted(_sent_copies(a).items())[0]
    hard = _aimed("identity_bounce_permanent_general_no_dsn", ses_id, recipient)
    soft = copy.deepcopy(hard)
    soft["bounce"]["bounceType"], soft["bounce"]["feedbackId"] = "Transient", "soft-feedback-1"

    for sns_id in ("sns-1", "sns-2", "sns-3"):
        _publish(client, hard, sns_id)
    _publish(client, soft, "sns-4")

    reputation = a.admin.get("/api/tenant/reputation").data
    assert reputation["hard_bounces"] == 1 and reputation["sending"] == "active"  # 1 outcome: below the volume


def test_under_the_minimum_volume_nothing_is_judged(client, tenants, monkeypatch):
    monkeypatch.setenv("REPUTATION_MIN_VOLUME", "200")
    a, _ = tenants
    a.send(a.discussion(RECIPIENTS))

    _outcomes(client, a, bad=10, kind="identity_bounce_permanent_general_no_dsn")

    assert a.admin.get("/api/tenant/reputation").data["sending"] == "active"
    assert a.send(a.discussion(1)).status_code == 202


def test_copies_queued_before_a_pause_are_not_sent_after_it(client, tenants, run_jobs):
    from chalicelib.identities import reputation

    a, _ = tenants
    discussion = a.discussion(2)
    assert a.admin.post(f"{THREADS}/{discussion}/send").status_code == 202   # queued, not yet sent
    reputation.TenantReputation("tenant-a", "status", state="paused", reason="bounce rate over 5%").save()

    run_jobs()

    assert _sent_copies(a) == {}
    states = {c["state"] for c in a.admin.get(f"{THREADS}/{discussion}/tracking").data["recipients"]}
    assert "sent" not in states and states


def test_a_paused_tenants_notification_emails_are_held(client, tenants):
    from chalicelib.identities import reputation
    from chalicelib.mail import compose
    from chalicelib.notifications import email

    a, b = tenants
    reputation.TenantReputation("tenant-a", "status", state="paused", reason="bounce rate over 5%").save()
    recipient = email.Recipient("ann@client.example", "Ann", compose.Person("hub@acme.example", None), "r.example")

    assert email.blocked("tenant-a", recipient) == "paused"
    assert email.blocked("tenant-b", recipient) is None
    reputation.resume("tenant-a", "operator")
    assert email.blocked("tenant-a", recipient) is None


def test_the_reputation_is_shown_to_admins_only(make_api):
    assert make_api("tenant-a", "staff", ["staff"]).get("/api/tenant/reputation").status_code == 403


def test_deliveries_judge_a_tenant_only_while_early_bounces_put_it_over_a_level(client, tenants):
    """A hard bounce among the first outcomes (below the minimum volume) marks the tenant watched: its deliveries then
    judge it, and lift the mark once the window, at volume, is under the levels. Other deliveries read nothing."""
    from chalicelib.identities.models import TenantReputation

    a, b = tenants
    a.send(a.discussion(RECIPIENTS))
    copies = sorted(_sent_copies(a).items())
    first_recipient, first_id = copies[0]
    _publish(client, _aimed("identity_bounce_permanent_general_no_dsn", first_id, first_recipient), "sns-bounce")
    assert TenantReputation.get("tenant-a", "status").watched  # 1 bounce in 1: over 5 %, below the volume

    for index, (recipient, ses_id) in enumerate(copies[1:]):  # 19 deliveries: 1 bounce in 20 is not over 5 %
        _publish(client, _aimed("event_delivery", ses_id, recipient), f"sns-delivery-{index}")

    status = TenantReputation.get("tenant-a", "status")
    assert status.watched is None and status.state is None
    assert a.admin.get("/api/tenant/reputation").data["sending"] == "active"
    b.send(b.discussion(2))
    (first, first_id), (second, second_id) = sorted(_sent_copies(b).items())
    _publish(client, _aimed("event_delivery", first_id, first), "sns-other-1")  # reads its status: not watched
    with counting() as counter:  # a tenant never watched: its delivery judges nothing, and reads nothing more
        _publish(client, _aimed("event_delivery", second_id, second), "sns-other-2")
    assert counter.total() == 2


def test_a_tenant_marked_watched_elsewhere_is_judged_by_this_containers_deliveries_within_a_minute(client, tenants,
                                                                                                 monkeypatch):
    """A delivery learns whether its tenant is watched from its container's reading of the status item, at most a
    minute old (a GetItem, which no transaction conflicts with): a mark set by another container meanwhile is
    seen once that reading is a minute old."""
    import time
    import types

    from chalicelib import cache
    from chalicelib.identities.models import TenantReputation

    a, _ = tenants
    a.send(a.discussion(3))
    copies = sorted(_sent_copies(a).items())
    _publish(client, _aimed("event_delivery", copies[0][1], copies[0][0]), "sns-1")  # reads the status: unwatched
    TenantReputation("tenant-a", "status").update(actions=[TenantReputation.watched.set(True)])  # another container

    _publish(client, _aimed("event_delivery", copies[1][1], copies[1][0]), "sns-2")
    assert TenantReputation.get("tenant-a", "status").watched  # not judged: this container read it unwatched

    a_minute_later = time.monotonic() + cache.SECONDS + 1
    monkeypatch.setattr(cache, "time", types.SimpleNamespace(monotonic=lambda: a_minute_later))
    _publish(client, _aimed("event_delivery", copies[2][1], copies[2][0]), "sns-3")
    assert TenantReputation.get("tenant-a", "status").watched is None  # judged: 3 deliveries, no bounce, unwatched


def test_an_operator_resumes_a_paused_tenant_which_is_then_judged_afresh(client, tenants, capsys):
    """scripts/resume_sending.py lifts the pause; the bounces before it no longer count, so the next hard bounce
    does not pause the tenant again at once (it would: 3 in 21 is still over 5 %), and its admins see since when
    the counts run."""
    from scripts import resume_sending

    a, _ = tenants
    a.send(a.discussion(RECIPIENTS))
    _outcomes(client, a, bad=2, kind="identity_bounce_permanent_general_no_dsn")
    assert a.admin.get("/api/tenant/reputation").data["sending"] == "paused"
    assert a.send(a.discussion(1)).status_code == 409

    assert resume_sending.main(["tenant-a", "--by", "alice (ops)"]) == 0

    printed = capsys.readouterr().out
    assert "before: paused" in printed and "after: active" in printed
    shown = a.admin.get("/api/tenant/reputation").data
    assert (shown["sending"], shown["reason"], shown["delivered"], shown["hard_bounces"]) == (
        "active", "resumed by alice (ops)", 0, 0)
    assert shown["judged_since"] == sent_messages_day()
    sent = len(sent_messages())
    fresh = a.admin.post(THREADS, {"subject": "Again", "initial_message": "Hello",
                                   "participants": [{"email": "new@client.example"}]}).data["id"]
    assert a.send(fresh).status_code == 202 and len(sent_messages()) == sent + 1  # (person0 bounced: suppressed)
    ses_id, destinations, _ = sent_messages()[-1]
    _publish(client, _aimed("identity_bounce_permanent_general_no_dsn", ses_id, destinations[0]), "sns-after")
    after = a.admin.get("/api/tenant/reputation").data
    assert (after["sending"], after["hard_bounces"]) == ("active", 1)  # 1 outcome: below the volume
    assert resume_sending.main(["tenant-a", "--by", "bob"]) == 0 and "nothing to do" in capsys.readouterr().out


def sent_messages_day() -> str:
    from chalicelib import clock

    return clock.now().strftime("%Y-%m-%d")
