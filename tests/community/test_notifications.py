"""Who hears about a new thread or reply, and how: mentions, guests, followers, group members; instant or digest."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib import clock, jobs
from chalicelib.community.keys import group_key, user_key
from chalicelib.community.models import CommunityGroupMember
from chalicelib.config import settings
from tests.community.conftest import GROUPS, THREADS, notifications_of
from tests.outbound.conftest import sent_messages

SENDER = "board@acme.example"


@pytest.fixture
def mailing(admin):
    """Email integration on for tenant-a with a verified sender, and addresses for users 101–105."""
    assert admin.post("/api/tenant/identities", {"identity": "acme.example"}).status_code == 201
    response = admin.put("/api/tenant/settings/communication", {
        "email_integration_enabled": True, "email_reply_domain": "reply.acme.example", "from_address": SENDER,
        "from_name": "Acme Board"})
    assert response.status_code == 200, response.data
    for user in range(101, 106):
        assert admin.put(f"/api/tenant/users/{user}", {"email": f"user{user}@example.com"}).status_code == 200


def _group(admin, access: str, members: list[int]) -> int:
    response = admin.post(GROUPS, {"BusinessId": 1, "Name": f"{access} group", "AccessLevel": access})
    group_id = response.data["Value"]["Id"]
    for user in members:
        assert admin.post(f"{GROUPS}/{group_id}/members", {"UserId": user}).status_code == 200
    return group_id


def _mailed_to() -> list[str]:
    return [destinations[0] for _, destinations, _ in sent_messages()]


def test_the_mentioned_and_guests_are_notified_and_the_author_is_not(member, client, run_jobs):
    alice = member(101)

    thread_id = alice.new_thread(Subject="Plans", Message="Ideas, @[Bob](102)?", Guests=[103])
    run_jobs()

    bob, carol = notifications_of(client, 102), notifications_of(client, 103)
    assert [(n["type"], n["title"], n["community_thread_id"]) for n in bob] == [
        ("community_mention", "You were mentioned in “Plans”", thread_id)]
    assert bob[0]["body"] == "Ideas, @Bob?" and bob[0]["delivery"] == "digest"
    assert [n["type"] for n in carol] == ["community_mention"]
    assert notifications_of(client, 101) == [] and notifications_of(client, 104) == []


def test_followers_hear_of_replies_but_not_of_their_own(member, client, run_jobs):
    alice, bob, carol = member(101), member(102), member(103)
    thread_id = alice.new_thread(Subject="Lunch")
    bob.post(f"{THREADS}/{thread_id}/follow")
    run_jobs()

    reply_id = bob.reply(thread_id, "Pizza?")
    run_jobs()

    to_alice = notifications_of(client, 101)
    assert [(n["type"], n["title"], n["community_message_id"]) for n in to_alice] == [
        ("community_reply", "New reply in “Lunch”", reply_id)]
    assert notifications_of(client, 102) == [] and notifications_of(client, 103) == []
    carol.post(f"{THREADS}/{thread_id}/follow")
    alice.reply(thread_id, "Sure")
    run_jobs()
    assert [n["title"] for n in notifications_of(client, 102)] == ["New reply in “Lunch”"]
    assert [n["title"] for n in notifications_of(client, 103)] == ["New reply in “Lunch”"]


def test_group_members_hear_of_new_threads_in_their_group(member, admin, client, run_jobs):
    group_id = _group(admin, "Restricted", [101, 102, 103])
    alice = member(101)

    alice.new_thread(Subject="Kick-off", CommunityGroupId=group_id)
    run_jobs()

    assert [n["title"] for n in notifications_of(client, 102)] == ["New conversation in Restricted group: “Kick-off”"]
    assert len(notifications_of(client, 103)) == 1
    assert notifications_of(client, 101) == [] and notifications_of(client, 104) == []


def test_people_who_cannot_see_a_thread_are_never_told_about_it(member, admin, client, run_jobs):
    group_id = _group(admin, "Private", [101, 102])
    alice = member(101)

    alice.new_thread(CommunityGroupId=group_id, Message="@[Bob](102) and @[Dan](104), look")
    alice.new_thread(Private=True, Message="Only for @[Bob](102)")
    run_jobs()

    assert len(notifications_of(client, 102)) == 2
    assert notifications_of(client, 104) == []  # mentioned, but not a member of the Private group


def test_a_large_group_is_notified_in_pages(member, admin, client, run_jobs):
    group_id = _group(admin, "Public", [])
    with CommunityGroupMember.batch_write() as batch:
        for user in range(1000, 1250):
            batch.save(CommunityGroupMember(group_key("tenant-a", group_id), user, group_id=group_id,
                                            user_key=user_key("tenant-a", user), joined_at=clock.now_iso()))
    alice = member(101)

    alice.new_thread(CommunityGroupId=group_id)
    outcomes = run_jobs()

    assert outcomes.count("continued") == 2 and outcomes.count("done") == 1
    assert all(len(notifications_of(client, user)) == 1 for user in (1000, 1100, 1249))


def test_instant_delivery_emails_at_once_and_only_once(member, client, run_jobs, mailing):
    alice = member(101)
    bob = member(102)
    thread_id = alice.new_thread(Subject="Fire drill", Message="In 10 minutes, @[Bob](102)", InstantDelivery=True)
    bob.post(f"{THREADS}/{thread_id}/follow")

    run_jobs()
    bob.reply(thread_id, "On my way")
    run_jobs()

    assert sorted(_mailed_to()) == ["user101@example.com", "user102@example.com"]
    to_bob = notifications_of(client, 102)[0]
    assert to_bob["delivery"] == "instant" and to_bob["email_status"] == "sent" and to_bob["email_sent_at"]
    _, _, message = next(m for m in sent_messages() if m[1] == ["user102@example.com"])
    assert message["Subject"] == "You were mentioned in “Fire drill”"
    assert message["From"] == f"Acme Board <{SENDER}>" and message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    assert "In 10 minutes, @Bob" in text
    # The link a person follows opens the board in the app (APP_COMMUNITY_THREAD_URL), not the JSON API.
    assert settings().community_thread_url(thread_id) in text and "/api/community/" not in text


def test_without_instant_delivery_nothing_is_emailed_and_the_digest_waits(member, client, run_jobs, mailing):
    alice = member(101)

    alice.new_thread(Message="Hello @[Bob](102)")
    run_jobs()

    assert _mailed_to() == []
    pending = notifications_of(client, 102)[0]
    assert pending["delivery"] == "digest" and pending["email_sent_at"] is None


def test_a_duplicated_job_stores_and_sends_nothing_twice(member, client, run_jobs, mailing):
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=jobs.QUEUE_NAME)["QueueUrl"]
    alice = member(101)
    alice.new_thread(Message="Hi @[Bob](102)", InstantDelivery=True)
    body = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["Body"]

    sqs.send_message(QueueUrl=url, MessageBody=body)  # SQS delivers at least once
    run_jobs()

    assert len(notifications_of(client, 102)) == 1
    assert _mailed_to() == ["user102@example.com"]


def test_a_job_whose_queueing_failed_is_sent_again_by_the_sweeper(member, client, run_jobs, monkeypatch):
    from chalicelib import jobs

    monkeypatch.setattr(jobs, "_queue_url", lambda: "https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    alice = member(101)
    alice.new_thread(Message="Hi @[Bob](102)")
    monkeypatch.undo()
    assert run_jobs() == [] and notifications_of(client, 102) == []

    early = client.lambda_.invoke("sweep_jobs", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    later = datetime.now(UTC) + timedelta(minutes=6)
    clock.set_clock(lambda: later)
    swept = client.lambda_.invoke("sweep_jobs", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    run_jobs()

    assert early.payload == {"resent": 0} and swept.payload == {"resent": 1}
    assert len(notifications_of(client, 102)) == 1
    assert sum(1 for shard in range(jobs.SHARDS) for _ in jobs.JobRecord.query(f"jobs#{shard}")) == 0


def test_a_zoom_invite_travels_with_the_instant_email_as_a_calendar_file(member, run_jobs, mailing):
    alice = member(101)
    zoom = ('{"topic": "Members call", "start_time": "2026-12-01T15:00:00Z", "duration": 45, '
            '"join_url": "https://us02web.zoom.us/j/123456789", "password": "abc"}')

    alice.new_thread(Subject="Call", Message="Join @[Bob](102)", InstantDelivery=True, IncludeZoomInvite=True,
                     ZoomEventData=zoom)
    run_jobs()

    _, _, message = sent_messages()[0]
    text = message.get_body(("plain",)).get_content()
    assert "Join: https://us02web.zoom.us/j/123456789" in text and "Passcode: abc" in text
    calendar = next(part for part in message.iter_attachments() if part.get_content_type() == "text/calendar")
    ics = calendar.get_content()
    if isinstance(ics, bytes):
        ics = ics.decode()
    assert calendar.get_filename() == "invite.ics"
    assert "DTSTART:20261201T150000Z" in ics and "DTEND:20261201T154500Z" in ics
    assert "SUMMARY:Members call" in ics


def test_a_deleted_thread_notifies_nobody(member, client, run_jobs):
    alice = member(101)
    thread_id = alice.new_thread(Message="Hi @[Bob](102)")

    alice.delete(f"{THREADS}/{thread_id}")
    run_jobs()

    assert notifications_of(client, 102) == []


def test_a_zoom_invite_waits_in_the_stored_notification_for_the_digest(member, client, run_jobs, mailing):
    alice = member(101)
    zoom = ('{"topic": "Members call", "start_time": "2026-12-01T15:00:00Z", '
            '"join_url": "https://us02web.zoom.us/j/123456789", "password": "abc"}')

    alice.new_thread(Subject="Call", Message="Join @[Bob](102)", IncludeZoomInvite=True, ZoomEventData=zoom)
    run_jobs()

    assert _mailed_to() == []
    waiting = notifications_of(client, 102)[0]
    assert waiting["delivery"] == "digest"
    assert waiting["body"].startswith("Join @Bob\n\n")
    assert "Zoom meeting: Members call" in waiting["body"]
    assert "Join: https://us02web.zoom.us/j/123456789" in waiting["body"] and "Passcode: abc" in waiting["body"]


def test_the_instant_email_shows_the_invite_once(member, run_jobs, mailing):
    alice = member(101)
    zoom = '{"topic": "Members call", "start_time": "2026-12-01T15:00:00Z", "join_url": "https://zoom.us/j/1"}'

    alice.new_thread(Subject="Call", Message="Join @[Bob](102)", InstantDelivery=True, IncludeZoomInvite=True,
                     ZoomEventData=zoom)
    run_jobs()

    _, _, message = sent_messages()[0]
    assert message.get_body(("plain",)).get_content().count("Join: https://zoom.us/j/1") == 1


def test_a_reply_to_a_thread_with_an_invite_does_not_repeat_the_invite(member, client, run_jobs):
    alice, bob = member(101), member(102)
    thread_id = alice.new_thread(IncludeZoomInvite=True, ZoomEventData='{"join_url": "https://zoom.us/j/1"}')

    bob.reply(thread_id, "See you there")
    run_jobs()

    to_alice = notifications_of(client, 101)
    assert [n["body"] for n in to_alice] == ["See you there"]
