"""The notifications API: a paged list, mark read, the unread count, preferences and templates — and every
malformed request answered 4xx naming the field, never 5xx."""
from __future__ import annotations

import json

import pytest

from tests.community.conftest import Member
from tests.outbound.conftest import sent_messages

NOTIFICATIONS = "/api/tenant/notifications"
PREFERENCES = f"{NOTIFICATIONS}/preferences"


def _mention(client, run_jobs, who: int, subject: str) -> None:
    Member(client, 101, ["CommunityThread-Create", "CommunityThread-Read"]).new_thread(
        Subject=subject, Message=f"Look @[U]({who})")
    run_jobs()


@pytest.fixture
def three(client, run_jobs, moment) -> Member:
    """User 102 with three notifications, one minute apart."""
    for minute, subject in enumerate(("First", "Second", "Third")):
        moment.at(f"2026-11-23T10:0{minute}:00Z")
        _mention(client, run_jobs, 102, subject)
    return Member(client, 102, [])


def test_the_list_is_paged_newest_first(three):
    first = three.get(f"{NOTIFICATIONS}?limit=2")
    second = three.get(f"{NOTIFICATIONS}?limit=2&cursor={first.data['next_cursor']}")

    assert [n["title"] for n in first.data["items"]] == ["You were mentioned in “Third”",
                                                        "You were mentioned in “Second”"]
    assert [n["title"] for n in second.data["items"]] == ["You were mentioned in “First”"]
    assert second.data["next_cursor"] is None


def test_a_cursor_from_another_user_is_refused(client, three):
    cursor = three.get(f"{NOTIFICATIONS}?limit=1").data["next_cursor"]

    response = Member(client, 103, []).get(f"{NOTIFICATIONS}?cursor={cursor}")

    assert response.status_code == 400 and response.data["error"]["field"] == "cursor"


def test_marking_read_moves_the_unread_count_once(client, three):
    [newest, *_] = three.get(NOTIFICATIONS).data["items"]

    before = three.get(f"{NOTIFICATIONS}/unread-count").data["unread_count"]
    first = three.post(f"{NOTIFICATIONS}/{newest['id']}/read")
    again = three.post(f"{NOTIFICATIONS}/{newest['id']}/read")
    by_other = Member(client, 103, []).post(f"{NOTIFICATIONS}/{newest['id']}/read")

    assert before == 3
    assert first.data["unread_count"] == 2 and again.data["unread_count"] == 2
    assert by_other.status_code == 404 and by_other.data["error"]["field"] == "notification_id"
    assert three.get(NOTIFICATIONS).data["items"][0]["read_at"]


@pytest.mark.parametrize(("method", "path", "raw", "status", "field"), [
    ("PUT", PREFERENCES, b"{not json", 400, "body"),
    ("PUT", PREFERENCES, b"[1, 2]", 400, "body"),
    ("PUT", PREFERENCES, b'{"digest_frequency": "hourly"}', 400, "digest_frequency"),
    ("PUT", PREFERENCES, b'{"digest_frequency": ["daily"]}', 400, "digest_frequency"),
    ("PUT", PREFERENCES, b'{"timezone": 5}', 400, "timezone"),
    ("PUT", PREFERENCES, b'{"timezone": "Mars/Base"}', 400, "timezone"),
    ("PUT", PREFERENCES, b'{"timezone": "posix/Europe/Paris"}', 400, "timezone"),
    ("PUT", PREFERENCES, b'{"timezone": "../../etc/passwd"}', 400, "timezone"),
    ("PUT", PREFERENCES, b'{"timezone": "localtime"}', 400, "timezone"),
    ("PUT", PREFERENCES, b'{"digest_hour": 24}', 400, "digest_hour"),
    ("PUT", PREFERENCES, b'{"digest_hour": -1}', 400, "digest_hour"),
    ("PUT", PREFERENCES, b'{"digest_hour": "8"}', 400, "digest_hour"),
    ("PUT", PREFERENCES, b'{"digest_hour": 8.5}', 400, "digest_hour"),
    ("PUT", PREFERENCES, b'{"digest_hour": true}', 400, "digest_hour"),
    ("PUT", PREFERENCES, b'{"phone": 14155550123}', 400, "phone"),
    ("PUT", PREFERENCES, b'{"phone": "555-1234"}', 400, "phone"),
    ("PUT", PREFERENCES, b'{"email": "me@example.com"}', 400, "email"),
    ("GET", f"{NOTIFICATIONS}?cursor=abc", b"", 400, "cursor"),
    ("GET", f"{NOTIFICATIONS}?cursor=eyJ4IjoxfQ.0000", b"", 400, "cursor"),
    ("GET", f"{NOTIFICATIONS}?limit=0", b"", 400, "limit"),
    ("GET", f"{NOTIFICATIONS}?limit=101", b"", 400, "limit"),
    ("GET", f"{NOTIFICATIONS}?limit=ten", b"", 400, "limit"),
    ("POST", f"{NOTIFICATIONS}/0196f0a1b2c3d4e5f6a7b8c9d0e1f2a3/read", b"", 404, "notification_id"),
    ("POST", f"{NOTIFICATIONS}/not-an-id/read", b"", 404, "notification_id"),
    ("POST", f"{NOTIFICATIONS}/{'a' * 1500}/read", b"", 404, "notification_id"),
])
def test_malformed_requests_are_refused_naming_the_field(client, method, path, raw, status, field):
    me = Member(client, 102, [])

    response = client.http.request(method, path, headers=me.headers, body=raw)

    assert response.status_code == status, response.body
    assert json.loads(response.body)["error"]["field"] == field
    assert me.get(PREFERENCES).data == {  # nothing was changed
        "digest_frequency": "daily", "digest_frequency_chosen": None, "timezone": "UTC", "digest_hour": 8,
        "phone": None, "next_digest_at": None, "unsubscribed_at": None}


TEMPLATE = "/api/tenant/notification-templates/{}"


@pytest.mark.parametrize(("kind", "body", "field"), [
    ("digest", {"text": "{% if %}"}, "text"),                                  # syntax error
    ("digest", {"text": "{{ nope }}"}, "text"),                                # undefined variable
    ("digest", {"subject": "{{ title }}"}, "subject"),                         # another type's variable
    ("discussion_message", {"html": "{{ groups }}"}, "html"),
    ("discussion_message", {"text": "{{ link.upper() }}"}, "text"),            # fails when there is no link
    ("discussion_message", {"text": "{{ 1 / 0 }}"}, "text"),                   # an error at render time
    ("discussion_message", {"text": "{% include 'notification.txt' %}"}, "text"),  # no file access
    ("discussion_message", {"text": "{{ ''.__class__.__mro__ }}"}, "text"),    # sandbox
    ("discussion_message", {"text": "{{ 'x' * 100000000 }}"}, "text"),         # memory
    ("discussion_message", {"text": "{% for i in range(10**9) %}{% endfor %}"}, "text"),
    ("discussion_message", {"text": "{{ 'y' * 9000 }}{{ 'y' * 9000 }}" * 12}, "text"),  # output size
    ("discussion_message", {"subject": 5}, "subject"),
    ("discussion_message", {"text": None, "html": None}, "subject"),          # nothing to save
    ("discussion_message", {"footer": "x"}, "footer"),
])
def test_a_template_that_does_not_render_is_refused_when_saved(client, tenant_admin, kind, body, field):
    response = tenant_admin.put(TEMPLATE.format(kind), body)

    assert response.status_code == 400 and response.data["error"]["field"] == field
    assert tenant_admin.get(TEMPLATE.format(kind)).data["customised"] is False


def test_malformed_json_on_a_template_is_refused(client, tenant_admin):
    response = client.http.request("PUT", TEMPLATE.format("digest"), headers=tenant_admin.headers, body=b"{x")

    assert response.status_code == 400


def test_a_template_lists_the_variables_its_type_is_given(tenant_admin):
    digest = tenant_admin.get(TEMPLATE.format("digest")).data
    message = tenant_admin.get(TEMPLATE.format("discussion_message")).data

    assert "groups" in digest["variables"] and "title" not in digest["variables"]
    assert "title" in message["variables"] and "groups" not in message["variables"]


def test_a_broken_template_stored_earlier_falls_back_to_the_default_wording(client, run_jobs, mailing):
    from chalicelib.notifications.models import NotificationTemplate

    NotificationTemplate("tenant-a", "community_mention", subject="{{ nope }}", text="{{ 1 / 0 }}").save()

    Member(client, 101, ["CommunityThread-Create", "CommunityThread-Read"]).new_thread(
        Subject="Demo", Message="Look @[B](102)", InstantDelivery=True)
    run_jobs()

    [(_, _, message)] = sent_messages()
    assert message["Subject"] == "You were mentioned in “Demo”"
    assert "You were mentioned on the board" in message.get_body(("plain",)).get_content()


def test_a_tenant_subject_never_becomes_two_header_lines(client, run_jobs, mailing, tenant_admin):
    saved = tenant_admin.put(TEMPLATE.format("community_mention"),
                             {"subject": "{{ title }}{{ '\\r\\nBcc: x@evil.example' }}"})

    Member(client, 101, ["CommunityThread-Create", "CommunityThread-Read"]).new_thread(
        Subject="Demo", Message="Look @[B](102)", InstantDelivery=True)
    run_jobs()

    assert saved.status_code == 200
    [(_, to, message)] = sent_messages()
    assert to == ["user102@example.com"] and message["Bcc"] is None
    assert message["Subject"] == "You were mentioned in “Demo” Bcc: x@evil.example"
