"""The digest: due in each user's own time zone and period, grouped, sent once, never losing a notification."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.mail import ses
from chalicelib.notifications.schedule import next_due, period_key
from tests.community.conftest import Member, notifications_of
from tests.outbound.conftest import sent_messages


def _mention(client, run_jobs, who: int = 102, subject: str = "Plans", author: int = 101) -> None:
    Member(client, author, ["CommunityThread-Create", "CommunityThread-Read"]).new_thread(
        Subject=subject, Message="What do you think, @[User](" + str(who) + ")?")
    run_jobs()


def _digests_to(address: str) -> list:
    return [message for _, destinations, message in sent_messages() if destinations == [address]]


@pytest.mark.parametrize(("frequency", "zone", "after", "due"), [
    ("daily", "UTC", "2026-11-23T10:00:00Z", "2026-11-24T08:00:00Z"),
    ("daily", "UTC", "2026-11-23T07:59:00Z", "2026-11-23T08:00:00Z"),
    ("daily", "Europe/Paris", "2026-11-23T10:00:00Z", "2026-11-24T07:00:00Z"),
    ("daily", "Asia/Tokyo", "2026-11-23T22:30:00Z", "2026-11-23T23:00:00Z"),  # 07:30 on the 24th in Tokyo
    ("weekly", "UTC", "2026-11-25T10:00:00Z", "2026-11-30T08:00:00Z"),       # Wednesday → Monday
    ("weekly", "UTC", "2026-11-30T07:00:00Z", "2026-11-30T08:00:00Z"),       # Monday before the hour
    ("weekly", "UTC", "2026-12-27T10:00:00Z", "2026-12-28T08:00:00Z"),       # across the year end
    ("monthly", "UTC", "2026-11-23T10:00:00Z", "2026-12-01T08:00:00Z"),
    ("monthly", "UTC", "2026-12-15T10:00:00Z", "2027-01-01T08:00:00Z"),
    ("monthly", "America/Los_Angeles", "2026-12-01T12:00:00Z", "2026-12-01T16:00:00Z"),  # still the 1st, 4 am
    # New York starts daylight saving on 2026-03-08: 08:00 local is 13:00 UTC before, 12:00 UTC after.
    ("daily", "America/New_York", "2026-03-07T14:00:00Z", "2026-03-08T12:00:00Z"),
    ("daily", "America/New_York", "2026-03-06T14:00:00Z", "2026-03-07T13:00:00Z"),
    ("daily", "Europe/London", "2026-10-24T09:00:00Z", "2026-10-25T08:00:00Z"),  # back to GMT on the 25th
])
def test_the_next_digest_falls_on_the_local_hour_of_the_period(frequency, zone, after, due):
    moment = datetime.fromisoformat(after.replace("Z", "+00:00"))

    assert next_due(frequency, zone, 8, moment) == datetime.fromisoformat(due.replace("Z", "+00:00"))


def test_an_hour_that_does_not_exist_goes_out_just_after_the_gap():
    # 02:30 on 2026-03-08 does not exist in New York: the clocks jump from 02:00 to 03:00.
    due = next_due("daily", "America/New_York", 2, datetime(2026, 3, 8, 1, 0, tzinfo=UTC))

    assert due == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_periods_are_named_in_local_time():
    due = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)

    assert period_key("daily", due, "Europe/Paris") == "daily:2026-11-30"
    assert period_key("weekly", due, "Europe/Paris") == "weekly:2026-W49"
    assert period_key("monthly", due, "UTC") == "monthly:2026-11"


def test_a_daily_digest_goes_out_at_the_local_hour_once(client, run_jobs, tick, moment, mailing, prefs):
    prefs(102, digest_frequency="daily", timezone="Europe/Paris", digest_hour=8)
    moment.at("2026-11-23T10:00:00Z")
    _mention(client, run_jobs, subject="Plans")
    _mention(client, run_jobs, subject="Party", author=103)

    moment.at("2026-11-24T06:59:00Z")
    tick()
    early = _digests_to("user102@example.com")
    moment.at("2026-11-24T07:05:00Z")
    tick()
    tick()  # the next hour's tick, or a duplicated one, sends nothing more

    assert early == []
    [digest] = _digests_to("user102@example.com")
    assert digest["Subject"] == "Your daily summary: 2 notifications"
    text = digest.get_body(("plain",)).get_content()
    assert "== Plans ==" in text and "== Party ==" in text and "Hello User 102" in text
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert digest["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/u/")
    assert digest["Auto-Submitted"] == "auto-generated"
    assert all(n["email_status"] == "digest" and n["email_sent_at"] for n in notifications_of(client, 102))
    assert _digests_to("user101@example.com") == []  # nothing waited for 101


@pytest.mark.parametrize(("frequency", "before", "after"), [
    ("weekly", "2026-11-30T07:59:00Z", "2026-11-30T08:00:00Z"),
    ("monthly", "2026-12-01T07:59:00Z", "2026-12-01T08:30:00Z"),
])
def test_weekly_and_monthly_digests_wait_for_their_period(client, run_jobs, tick, moment, mailing, prefs,
                                                         frequency, before, after):
    prefs(102, digest_frequency=frequency)
    moment.at("2026-11-25T10:00:00Z")
    _mention(client, run_jobs)

    moment.at(before)
    tick()
    waited = _digests_to("user102@example.com")
    moment.at(after)
    tick()

    assert waited == []
    assert [m["Subject"] for m in _digests_to("user102@example.com")] == [f"Your {frequency} summary: 1 notification"]


def test_the_tenant_default_applies_until_a_user_chooses(client, run_jobs, tick, moment, mailing, tenant_admin,
                                                        prefs):
    tenant_admin.put("/api/tenant/settings/communication", {"default_digest_frequency": "weekly"})
    moment.at("2026-11-25T10:00:00Z")
    _mention(client, run_jobs, who=102)
    _mention(client, run_jobs, who=103)
    prefs(103, digest_frequency="daily")  # 103 chose: their waiting digest moves to tomorrow morning

    moment.at("2026-11-26T08:10:00Z")
    tick()

    assert _digests_to("user102@example.com") == []
    assert len(_digests_to("user103@example.com")) == 1
    assert Member(client, 102, []).get("/api/tenant/notifications/preferences").data["digest_frequency"] == "weekly"


def test_never_means_no_email_but_the_notification_is_listed(client, run_jobs, tick, moment, mailing, prefs):
    prefs(102, digest_frequency="never")
    alice = Member(client, 101, ["CommunityThread-Create", "CommunityThread-Read"])

    alice.new_thread(Message="Urgent-ish @[User](102)", InstantDelivery=True)
    _mention(client, run_jobs)
    moment.at("2026-12-31T09:00:00Z")
    tick()

    assert sent_messages() == []
    listed = notifications_of(client, 102)
    assert len(listed) == 2 and all(n["email_sent_at"] is None for n in listed)


def test_unsubscribing_while_a_digest_waits_cancels_it(client, run_jobs, tick, moment, mailing, prefs):
    moment.at("2026-11-23T10:00:00Z")
    _mention(client, run_jobs)
    prefs(102, digest_frequency="never")

    moment.at("2026-11-24T09:00:00Z")
    tick()

    assert sent_messages() == []
    assert notifications_of(client, 102)[0]["email_status"] == "never"


def test_an_ses_outage_during_the_digest_loses_nothing(client, run_jobs, tick, moment, mailing, monkeypatch):
    moment.at("2026-11-23T10:00:00Z")
    _mention(client, run_jobs)
    moment.at("2026-11-24T08:05:00Z")

    def outage(*args, **kwargs):
        raise ses.SendFailed("ServiceUnavailable", "SES is down", retryable=True)

    with monkeypatch.context() as patched:
        patched.setattr(ses, "send_raw", outage)
        tick()  # the user's digest job goes back on the queue, delayed
    pending = notifications_of(client, 102)
    run_jobs(skip_delays=True)  # its delay is over, SES is back

    assert pending[0]["email_sent_at"] is None
    assert len(_digests_to("user102@example.com")) == 1
    assert notifications_of(client, 102)[0]["email_status"] == "digest"


def test_a_crash_after_sending_is_finished_by_the_retry_never_sent_again(client, run_jobs, tick, moment, mailing,
                                                                       monkeypatch):
    from chalicelib.users import service as users

    moment.at("2026-11-23T10:00:00Z")
    _mention(client, run_jobs)
    moment.at("2026-11-24T08:05:00Z")
    with monkeypatch.context() as patched:
        # The last step after SES and the record (its notifications marked in the same transaction): moving the
        # user's next digest time.
        patched.setattr(users, "reschedule_digest", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
        with pytest.raises(RuntimeError):
            tick()
    run_jobs()  # the redelivered job finds this period's digest sent: it finishes what is left, sends nothing
    [listed] = notifications_of(client, 102)
    moment.at("2026-11-25T08:05:00Z")
    tick()

    assert len(_digests_to("user102@example.com")) == 1
    assert listed["email_status"] == "digest" and listed["email_sent_at"]
    assert Member(client, 102, []).get("/api/tenant/notifications/preferences").data["next_digest_at"] is None


def test_a_crash_while_ses_has_the_digest_is_listed_for_an_operator_never_sent_twice(
        client, run_jobs, tick, moment, mailing, monkeypatch, tenant_admin):
    from chalicelib import claims

    moment.at("2026-11-23T10:00:00Z")
    _mention(client, run_jobs)
    moment.at("2026-11-24T08:05:00Z")
    real_finish = claims.Claim.finish
    with monkeypatch.context() as patched:
        # SES took the email, then the Lambda died before recording it: whether it went out is unknown to the retry.
        patched.setattr(claims.Claim, "finish", lambda self, *a, **k: (_ for _ in ()).throw(RuntimeError("died"))
                        if self.work.kind == "digest" else real_finish(self, *a, **k))
        with pytest.raises(RuntimeError):
            tick()
    run_jobs()  # SQS shows the job again at once: the lost run's lease is not over, so it waits
    moment.at("2026-11-24T08:11:00Z")  # the lease (330 s) is over
    run_jobs(skip_delays=True)

    assert len(_digests_to("user102@example.com")) == 1
    [listed] = tenant_admin.get("/api/tenant/sending/uncertain").data["items"]
    assert (listed["kind"], listed["user_id"], listed["period"]) == ("digest", "102", "daily:2026-11-24")
    assert notifications_of(client, 102)[0]["email_status"] == "uncertain"  # out of the pending digest, listed

    moment.at("2026-11-25T08:05:00Z")
    tick()
    assert len(_digests_to("user102@example.com")) == 1  # never mailed again by itself

    resolved = tenant_admin.post(f"/api/tenant/sending/uncertain/{listed['id']}", {"action": "resend"})
    moment.at("2026-11-25T09:05:00Z")
    tick()

    assert resolved.status_code == 200 and resolved.data["outcome"] == "in the user's next digest"
    assert tenant_admin.get("/api/tenant/sending/uncertain").data["items"] == []
    assert len(_digests_to("user102@example.com")) == 2  # the admin said it did not arrive
    assert notifications_of(client, 102)[0]["email_status"] == "digest"


def test_many_users_across_shards_each_get_one_digest(client, run_jobs, tick, moment, mailing, tenant_admin):
    users = list(range(300, 340))
    for user in users:
        tenant_admin.put(f"/api/tenant/users/{user}", {"email": f"user{user}@example.com"})
    alice = Member(client, 101, ["CommunityThread-Create", "CommunityThread-Read"])
    moment.at("2026-11-23T10:00:00Z")
    alice.new_thread(Message=" ".join("@[U](" + str(user) + ")" for user in users))
    run_jobs()

    moment.at("2026-11-24T08:05:00Z")
    tick()

    assert sorted(destinations[0] for _, destinations, _ in sent_messages()) == sorted(
        f"user{user}@example.com" for user in users)


# Each frequency across its local boundary, end to end through the hourly tick: one minute before the local
# hour nothing goes, at the hour the digest goes.
@pytest.mark.parametrize(("frequency", "zone", "notified", "before", "at"), [
    # New York springs forward on 2026-03-08: 08:00 local is 13:00 UTC the day before, 12:00 UTC that day.
    ("daily", "America/New_York", "2026-03-07T14:00:00Z", "2026-03-08T11:59:00Z", "2026-03-08T12:00:00Z"),
    ("daily", "America/New_York", "2026-03-06T14:00:00Z", "2026-03-07T12:59:00Z", "2026-03-07T13:00:00Z"),
    # London falls back on 2026-10-25: 08:00 local is 07:00 UTC the day before, 08:00 UTC that day.
    ("daily", "Europe/London", "2026-10-24T09:00:00Z", "2026-10-25T07:59:00Z", "2026-10-25T08:00:00Z"),
    # Monday 08:00 in Tokyo is Sunday 23:00 UTC.
    ("weekly", "Asia/Tokyo", "2026-11-25T10:00:00Z", "2026-11-29T22:59:00Z", "2026-11-29T23:00:00Z"),
    # Across the year end, and a Monday that is the 1st of a month for the weekly digest.
    ("weekly", "UTC", "2026-12-30T10:00:00Z", "2027-01-04T07:59:00Z", "2027-01-04T08:00:00Z"),
    # The 1st at 08:00 in Los Angeles is 16:00 UTC; a monthly digest across the year end.
    ("monthly", "America/Los_Angeles", "2026-11-23T10:00:00Z", "2026-12-01T15:59:00Z", "2026-12-01T16:00:00Z"),
    ("monthly", "Europe/Paris", "2026-12-15T10:00:00Z", "2027-01-01T06:59:00Z", "2027-01-01T07:00:00Z"),
])
def test_each_frequency_goes_out_at_its_local_boundary(client, run_jobs, tick, moment, mailing, prefs, frequency,
                                                       zone, notified, before, at):
    prefs(102, digest_frequency=frequency, timezone=zone)
    moment.at(notified)
    _mention(client, run_jobs)

    moment.at(before)
    tick()
    early = _digests_to("user102@example.com")
    moment.at(at)
    tick()

    assert early == []
    assert [m["Subject"] for m in _digests_to("user102@example.com")] == [f"Your {frequency} summary: 1 notification"]


def test_a_daily_digest_keeps_its_local_hour_across_a_dst_change(client, run_jobs, tick, moment, mailing, prefs):
    prefs(102, digest_frequency="daily", timezone="America/New_York")
    sent_at = []
    for day, hour in (("2026-03-07", "13"), ("2026-03-08", "12"), ("2026-03-09", "12")):
        moment.at(f"{day}T02:00:00Z")
        _mention(client, run_jobs, subject=f"On {day}")
        moment.at(f"{day}T{hour}:00:00Z")
        tick()
        sent_at.append(len(_digests_to("user102@example.com")))

    assert sent_at == [1, 2, 3]


def test_changing_time_zone_or_hour_moves_the_waiting_digest(client, run_jobs, tick, moment, mailing, prefs):
    moment.at("2026-11-23T10:00:00Z")
    _mention(client, run_jobs)
    utc = prefs(102)["next_digest_at"]
    tokyo = prefs(102, timezone="Asia/Tokyo")["next_digest_at"]      # 19:00 in Tokyo: tomorrow 08:00 there
    evening = prefs(102, digest_hour=20)["next_digest_at"]           # today 20:00 in Tokyo
    # Weekly at 18:00: this Monday's 18:00 in Tokyo has passed (it is 19:00 there), so next Monday's.
    weekly = prefs(102, digest_frequency="weekly", digest_hour=18)["next_digest_at"]

    moment.at("2026-11-23T11:00:00Z")
    tick()

    assert utc == "2026-11-24T08:00:00.000000Z"
    assert tokyo == "2026-11-23T23:00:00.000000Z"
    assert evening == "2026-11-23T11:00:00.000000Z"
    assert weekly == "2026-11-30T09:00:00.000000Z"
    assert _digests_to("user102@example.com") == []  # weekly now: it waits for next Monday
    moment.at("2026-11-30T09:00:00Z")
    tick()
    assert [m["Subject"] for m in _digests_to("user102@example.com")] == ["Your weekly summary: 1 notification"]


def test_what_the_user_already_read_is_left_out_and_an_empty_digest_is_never_sent(client, run_jobs, tick, moment,
                                                                                  mailing):
    moment.at("2026-11-23T10:00:00Z")
    _mention(client, run_jobs, who=102, subject="Plans")
    _mention(client, run_jobs, who=102, subject="Party")
    _mention(client, run_jobs, who=103, subject="Plans")
    me, other = Member(client, 102, []), Member(client, 103, [])
    for user, items in ((me, notifications_of(client, 102)[:1]), (other, notifications_of(client, 103))):
        for item in items:
            assert user.post(f"/api/tenant/notifications/{item['id']}/read").status_code == 200

    moment.at("2026-11-24T08:05:00Z")
    tick()

    [digest] = _digests_to("user102@example.com")
    assert digest["Subject"] == "Your daily summary: 1 notification"
    assert _digests_to("user103@example.com") == []
    assert other.get("/api/tenant/notifications/preferences").data["next_digest_at"] is None
    assert {n["email_status"] for n in notifications_of(client, 102)} == {"read", "digest"}


def test_the_digest_groups_by_discussion_and_thread(client, run_jobs, tick, moment, mailing, make_api):
    owner = make_api(user_id="101")
    created = owner.post("/api/tenant/threads", {"subject": "Stage plan", "participants": [{"user_id": "102"}]}).data
    owner.post(f"/api/tenant/threads/{created['id']}/messages", {"body": "Draft attached"})
    run_jobs()
    _mention(client, run_jobs, who=102, subject="Board party", author=103)
    moment.at("2026-11-23T10:01:00Z")
    owner.post(f"/api/tenant/threads/{created['id']}/messages", {"body": "Second draft"})
    run_jobs()

    moment.at("2026-11-24T08:05:00Z")
    tick()

    [digest] = _digests_to("user102@example.com")
    text = digest.get_body(("plain",)).get_content()
    sections = {part.split(" ==", 1)[0]: part for part in text.split("== ")[1:]}
    assert set(sections) == {"Stage plan", "Board party"}
    assert sections["Stage plan"].count("New message from User 101: Stage plan") == 2
    assert "Draft attached" in sections["Stage plan"] and "Second draft" in sections["Stage plan"]
    assert "You were mentioned in “Board party”" in sections["Board party"]


def test_no_request_or_schedule_path_scans_a_table(client, run_jobs, tick, moment, mailing, prefs, tenant_admin,
                                                   monkeypatch):
    import botocore.client

    from chalicelib.notifications.unsubscribe import token_for

    operations: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        operations.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    me = Member(client, 102, [])
    prefs(102, timezone="Europe/Paris")
    _mention(client, run_jobs)
    [item] = me.get("/api/tenant/notifications").data["items"]
    me.get("/api/tenant/notifications/unread-count")
    me.get("/api/tenant/notifications/preferences")
    tenant_admin.put("/api/tenant/notification-templates/digest", {"subject": "{{ subject }}"})
    moment.at("2026-11-24T08:05:00Z")
    tick()
    me.post(f"/api/tenant/notifications/{item['id']}/read")
    client.http.post(f"/u/{token_for('tenant-a', '102')}", body=b"List-Unsubscribe=One-Click",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert len(_digests_to("user102@example.com")) == 1
    assert "Query" in operations and "Scan" not in operations
