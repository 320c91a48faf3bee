"""Delivery rules, preferences, templates and one-click unsubscribe."""
from __future__ import annotations

import pytest

from chalicelib.notifications.unsubscribe import token_for
from tests.community.conftest import Member, notifications_of
from tests.outbound.conftest import sent_messages


def _poster(client) -> Member:
    return Member(client, 101, ["CommunityThread-Create", "CommunityThread-Read"])


def test_instant_delivery_ignores_a_weekly_digest_but_not_never(client, run_jobs, mailing, prefs):
    prefs(102, digest_frequency="weekly")
    prefs(103, digest_frequency="never")

    _poster(client).new_thread(Message="Now: @[A](102) @[B](103)", InstantDelivery=True)
    run_jobs()

    assert [to for _, to, _ in sent_messages()] == [["user102@example.com"]]
    assert notifications_of(client, 103)[0]["email_status"] is None


def test_staff_hear_of_new_messages_in_their_discussions(client, run_jobs, make_api):
    owner = make_api(user_id="user-1")
    make_api(user_id="admin-1", roles=["admin"]).call("PUT", "/api/tenant/users/user-1", {"name": "Dana Demo"})
    created = owner.post("/api/tenant/threads", {"subject": "Stage plan", "participants": [
        {"user_id": "user-2"}, {"user_id": "user-3"}, {"email": "client@example.com"}]}).data

    owner.post(f"/api/tenant/threads/{created['id']}/messages", {"body": "Draft attached"})
    run_jobs()

    for colleague in ("user-2", "user-3"):
        [item] = make_api(user_id=colleague).get("/api/tenant/notifications").data["items"]
        # The author by name, never by internal user id.
        assert item["type"] == "discussion_message" and item["title"] == "New message from Dana Demo: Stage plan"
        assert item["discussion_id"] == created["id"] and item["delivery"] == "digest"
    assert owner.get("/api/tenant/notifications").data["items"] == []


def test_preferences_are_read_and_validated(client, tenant_admin):
    me = Member(client, 102, [])
    tenant_admin.put("/api/tenant/settings/communication", {"default_digest_frequency": "monthly"})

    defaults = me.get("/api/tenant/notifications/preferences").data
    saved = me.put("/api/tenant/notifications/preferences", {"digest_frequency": "weekly",
                                                             "timezone": "America/Sao_Paulo", "digest_hour": 18})
    bad = {field: me.put("/api/tenant/notifications/preferences", {field: value}).data["error"]["field"]
           for field, value in (("digest_frequency", "hourly"), ("timezone", "Mars/Base"), ("digest_hour", 24),
                                ("phone", "555-1234"), ("timezone", "../../etc/passwd"))}

    assert defaults["digest_frequency"] == "monthly" and defaults["digest_frequency_chosen"] is None
    assert defaults["timezone"] == "UTC" and defaults["digest_hour"] == 8
    assert saved.data["digest_frequency"] == "weekly" and saved.data["timezone"] == "America/Sao_Paulo"
    assert saved.data["digest_hour"] == 18
    assert bad == {"digest_frequency": "digest_frequency", "timezone": "timezone", "digest_hour": "digest_hour",
                   "phone": "phone"}


def test_a_tenant_template_changes_the_wording_and_is_sandboxed(client, run_jobs, mailing, tenant_admin):
    saved = tenant_admin.put("/api/tenant/notification-templates/community_mention", {
        "subject": "[Acme] {{ title }}", "text": "Hi {{ recipient_name }}! {{ title }}\n{{ excerpt }}\n"})
    unsafe = tenant_admin.put("/api/tenant/notification-templates/community_mention", {
        "text": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    unknown = tenant_admin.put("/api/tenant/notification-templates/nope", {"text": "x"})
    by_member = Member(client, 102, []).put("/api/tenant/notification-templates/community_mention", {"text": "x"})

    _poster(client).new_thread(Subject="Demo", Message="Look @[B](102)", InstantDelivery=True)
    run_jobs()

    assert saved.status_code == 200 and saved.data["customised"] is True
    assert unsafe.status_code == 400 and unsafe.data["error"]["field"] == "text"
    assert unknown.status_code == 404 and by_member.status_code == 403
    [(_, _, message)] = sent_messages()
    assert message["Subject"] == "[Acme] You were mentioned in “Demo”"
    assert message.get_body(("plain",)).get_content().startswith("Hi User 102! You were mentioned in “Demo”")


def test_an_unsubscribe_link_confirms_on_get_and_unsubscribes_on_post(client, mailing):
    token = token_for("tenant-a", "102")
    me = Member(client, 102, [])

    page = client.http.get(f"/u/{token}")
    still = me.get("/api/tenant/notifications/preferences").data["digest_frequency"]
    one_click = client.http.post(f"/u/{token}", body=b"List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert page.status_code == 200 and b"<form method=\"post\"" in page.body
    assert page.headers["Content-Type"].startswith("text/html")
    assert still == "daily"
    assert one_click.status_code == 200 and b"You are unsubscribed" in one_click.body
    after = me.get("/api/tenant/notifications/preferences").data
    assert after["digest_frequency"] == "never" and after["unsubscribed_at"]


@pytest.mark.parametrize("forge", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),               # altered signature
    lambda token: token_for("tenant-a", "103").split(".")[0] + "." + token.split(".")[1],  # another user
    lambda token: token_for("tenant-b", "102").split(".")[0] + "." + token.split(".")[1],  # another tenant
    lambda token: "WyJ0ZW5hbnQtYSIsIjEwMiJd",                                    # no signature
    lambda token: "not-a-token",
    lambda token: token.split(".")[0] + ".é",                            # non-ASCII signature (found by the fuzz)
])
def test_a_forged_or_altered_unsubscribe_link_changes_nothing(client, mailing, forge):
    forged = forge(token_for("tenant-a", "102"))

    shown = client.http.get(f"/u/{forged}")
    posted = client.http.post(f"/u/{forged}", body=b"List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert shown.status_code == 400 and posted.status_code == 400
    for user in (102, 103):
        prefs = Member(client, user, []).get("/api/tenant/notifications/preferences").data
        assert prefs["digest_frequency"] == "daily" and prefs["unsubscribed_at"] is None


def test_sms_is_only_for_urgent_and_high(client, run_jobs, mailing, tenant_admin, prefs):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    tenant_admin.put("/api/tenant/settings/communication", {"sms_enabled": True})
    prefs(102, phone="+14155550123")

    _poster(client).new_thread(Message="Hello @[B](102)", InstantDelivery=True)
    run_jobs()

    assert [to for _, to, _ in sent_messages()] == [["user102@example.com"]]
    assert notifications_of(client, 102)[0]["priority"] == "normal"
    assert dict(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages) == {}


def _deliver(priority: str, users=("102",), notification_id: str = "0196f0a1b2c3d4e5f6a7b8c9d0e1f2a3",
             **fields) -> dict:
    from chalicelib.notifications import delivery
    from chalicelib.notifications.email import EmailContent
    from chalicelib.notifications.service import NewNotification

    item = NewNotification(type="email_bounced", title=f"A {priority} matter", priority=priority, **fields)
    return delivery.deliver("tenant-a", list(users), notification_id, item,
                            EmailContent(title=item.title, excerpt=None, link=None, reason="Because."))


def _texts() -> list:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())


@pytest.mark.parametrize("priority", ["urgent", "high"])
@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly"])
def test_urgent_and_high_are_emailed_at_once_whatever_the_digest_frequency(client, mailing, prefs, priority,
                                                                           frequency):
    prefs(102, digest_frequency=frequency)

    outcome = _deliver(priority)

    assert outcome == {"102": "sent"}
    [(_, to, message)] = sent_messages()
    assert to == ["user102@example.com"] and message["Subject"] == f"A {priority} matter"
    [listed] = notifications_of(client, 102)
    assert listed["delivery"] == "instant" and listed["email_status"] == "sent" and listed["email_sent_at"]


@pytest.mark.parametrize("priority", ["normal", "low"])
def test_normal_and_low_wait_for_the_digest(client, mailing, priority):
    outcome = _deliver(priority)

    assert outcome == {"102": "digest"} and sent_messages() == []
    [listed] = notifications_of(client, 102)
    assert listed["delivery"] == "digest" and listed["email_sent_at"] is None


@pytest.mark.parametrize("priority", ["urgent", "high"])
def test_never_wins_over_priority_for_email_but_the_sms_still_goes(client, mailing, tenant_admin, prefs, priority):
    tenant_admin.put("/api/tenant/settings/communication", {"sms_enabled": True})
    prefs(102, digest_frequency="never", phone="+14155550123")

    _deliver(priority)
    _deliver(priority)  # a rerun of the same event texts nobody twice

    assert sent_messages() == []
    [listed] = notifications_of(client, 102)
    assert listed["title"] == f"A {priority} matter" and listed["email_sent_at"] is None
    assert _texts() == [("+14155550123", f"A {priority} matter")]


def test_no_sms_without_the_tenant_enabling_it_or_a_phone(client, mailing, tenant_admin, prefs):
    prefs(102, phone="+14155550123")
    _deliver("urgent", notification_id="0196f0a1b2c3d4e5f6a7b8c9d0e1f2a4")
    tenant_admin.put("/api/tenant/settings/communication", {"sms_enabled": True})
    _deliver("urgent", users=("103",), notification_id="0196f0a1b2c3d4e5f6a7b8c9d0e1f2a5")

    assert _texts() == []
    assert len(sent_messages()) == 2  # both were emailed


def test_every_notification_email_carries_a_working_one_click_unsubscribe(client, run_jobs, mailing):
    _poster(client).new_thread(Message="Now: @[A](102)", InstantDelivery=True)
    run_jobs()
    _deliver("high", users=("103",))

    messages = [message for _, _, message in sent_messages()]
    assert len(messages) == 2
    for message in messages:
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Auto-Submitted"] == "auto-generated"
    link = messages[0]["List-Unsubscribe"].strip().strip("<>")
    path = link.removeprefix("http://127.0.0.1:8000")
    assert client.http.post(path, body=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 200
    assert Member(client, 102, []).get("/api/tenant/notifications/preferences").data["digest_frequency"] == "never"


def _discussion_with_outsiders(make_api) -> str:
    owner = make_api(user_id="101")
    created = owner.post("/api/tenant/threads", {"subject": "Stage plan", "participants": [
        {"user_id": "102"}, {"user_id": "103", "recipient_type": "client_contact"},
        {"user_id": "104", "freelancer_node_id": "node-9", "is_external_freelancer": True}]})
    assert created.status_code in (200, 201), created.data
    return created.data["id"]


def test_an_internal_note_posted_through_the_api_notifies_no_external_participant(client, run_jobs, mailing,
                                                                                   make_api):
    discussion_id = _discussion_with_outsiders(make_api)

    make_api(user_id="101").post(f"/api/tenant/threads/{discussion_id}/messages",
                                 {"body": "Margin is 40%, do not tell them", "is_internal": True})
    run_jobs()

    assert len(notifications_of(client, 102)) == 1
    assert notifications_of(client, 102)[0]["internal"] is True
    assert notifications_of(client, 103) == [] and notifications_of(client, 104) == []
