"""A notification email or text whose Lambda dies: taken over when it died before SES/SNS had it, listed for an
operator when it died while they had it; never sent twice, never silently lost (the same claims as a copy)."""
from __future__ import annotations

import pytest

from chalicelib import jobs
from chalicelib.mail import ses
from chalicelib.notifications import email, sms
from tests.community.conftest import notifications_of
from tests.notifications.test_delivery import _deliver, _texts
from tests.outbound.conftest import sent_messages


class LambdaDied(BaseException):
    """The Lambda was killed here: no handler of ours runs."""


def _die_once(monkeypatch, target, name, after: bool) -> list[bool]:
    real = getattr(target, name)
    fired: list[bool] = []

    def dying(*args, **kwargs):
        if fired:
            return real(*args, **kwargs)
        fired.append(True)
        if after:
            real(*args, **kwargs)
        raise LambdaDied(name)

    monkeypatch.setattr(target, name, dying)
    return fired


def test_an_email_whose_run_died_before_ses_is_sent_by_the_retry_once_the_lease_is_over(client, mailing, moment,
                                                                                        monkeypatch):
    _die_once(monkeypatch, email, "blocked", after=False)  # right after the claim
    with pytest.raises(LambdaDied):
        _deliver("urgent")
    monkeypatch.undo()

    with pytest.raises(jobs.RetryLater):
        _deliver("urgent")  # the job's message shown again at once: the claim is held, try later
    moment.at("2026-11-23T10:06:00Z")  # the lease (330 s) is over
    outcome = _deliver("urgent")

    assert outcome == {"102": "sent"} and len(sent_messages()) == 1
    assert notifications_of(client, 102)[0]["email_status"] == "sent"


def test_an_email_whose_run_died_while_ses_had_it_is_listed_and_an_admin_resend_puts_it_in_the_digest(
        client, mailing, moment, monkeypatch, tenant_admin, tick):
    _die_once(monkeypatch, ses, "send_raw", after=True)
    with pytest.raises(LambdaDied):
        _deliver("high")
    monkeypatch.undo()
    moment.at("2026-11-23T10:06:00Z")

    outcome = _deliver("high")
    rerun = _deliver("high")

    assert outcome == {"102": "uncertain"} and rerun == {"102": "already claimed"}
    assert len(sent_messages()) == 1
    [listed] = tenant_admin.get("/api/tenant/sending/uncertain").data["items"]
    assert (listed["kind"], listed["user_id"], listed["title"]) == ("notification_email", "102", "A high matter")
    assert notifications_of(client, 102)[0]["email_status"] == "uncertain"

    resent = tenant_admin.post(f"/api/tenant/sending/uncertain/{listed['id']}", {"action": "resend"})
    moment.at("2026-11-24T08:05:00Z")
    tick()

    assert resent.data["outcome"] == "in the user's next digest"
    assert len(sent_messages()) == 2  # the admin said it did not arrive: the digest carries it
    assert notifications_of(client, 102)[0]["email_status"] == "digest"


def test_a_text_whose_run_died_while_sns_had_it_is_listed_and_only_dismissed(client, mailing, moment, monkeypatch,
                                                                            tenant_admin, prefs):
    tenant_admin.put("/api/tenant/settings/communication", {"sms_enabled": True})
    prefs(102, phone="+14155550123")
    real = sms.client().publish

    def published_then_died(**kwargs):
        real(**kwargs)
        raise LambdaDied("publish")

    monkeypatch.setattr(sms.client(), "publish", published_then_died)
    with pytest.raises(LambdaDied):
        _deliver("urgent")
    monkeypatch.undo()
    moment.at("2026-11-23T10:06:00Z")

    _deliver("urgent")

    assert _texts() == [("+14155550123", "A urgent matter")]
    [listed] = tenant_admin.get("/api/tenant/sending/uncertain").data["items"]
    assert listed["kind"] == "notification_sms"
    path = f"/api/tenant/sending/uncertain/{listed['id']}"
    assert tenant_admin.post(path, {"action": "resend"}).status_code == 409
    assert tenant_admin.post(path, {"action": "dismiss"}).data["outcome"] == "dismissed"
    assert tenant_admin.get("/api/tenant/sending/uncertain").data["items"] == []
    assert _texts() == [("+14155550123", "A urgent matter")]
