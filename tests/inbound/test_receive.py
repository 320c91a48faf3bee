"""Email in: replies land in the right discussion, trimmed; everything else is quarantined or ignored."""
from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from scripts.deliver_mail import deliver
from tests.corpus import fixture
from tests.outbound.conftest import REPLY_DOMAIN, SENDER
from tests.outbound.test_send import THREADS

CLEO = "cleo@client.example"
INBOUND = "/api/tenant/inbound/mail"
QUOTED = "\n\nOn Mon, 2 Mar 2026 at 10:00, Acme Events <hub@acme.example> wrote:\n> Hello, see the quote\n> thanks\n"


def _reply(to, sender=CLEO, body="Yes, the quote works for us." + QUOTED, headers=None, html=None):
    message = EmailMessage(policy=SMTP)
    message["From"] = f"Cleo Client <{sender}>"
    message["To"] = to
    message["Message-ID"] = f"<reply-{abs(hash((to, sender, body)))}@client.example>"
    headers = {"Subject": "Re: Quote 1042", **(headers or {})}
    for name, value in headers.items():
        message[name] = value
    if html:
        message.set_content(html, subtype="html")
    else:
        message.set_content(body, cte="quoted-printable")
    return message.as_bytes()


def _messages(api, discussion):
    return api.get(f"{THREADS}/{discussion['id']}").data["messages"]


def test_a_reply_to_the_reply_address_is_posted_trimmed(api, client, conversation, make_api):
    discussion, reply_to, ses_header = conversation
    result = deliver(client, _reply(reply_to, headers={"In-Reply-To": ses_header}), [reply_to])
    assert result[0]["status"] == "posted"
    posted = _messages(api, discussion)[-1]
    assert posted["body"] == "Yes, the quote works for us."
    assert (posted["author"], posted["author_type"], posted["is_internal"]) == (CLEO, "email", False)
    assert posted["email_message_id"].startswith("<reply-") and posted["email_in_reply_to"] == ses_header
    summary = api.get(f"{THREADS}/{discussion['id']}").data
    assert summary["message_count"] == 2 and summary["last_message_preview"] == "Yes, the quote works for us."
    assert make_api(user_id="user-2").get(f"{THREADS}/unread-count").data["unread_count"] == 1


def test_the_token_in_cc_alone_is_enough(api, client, conversation):
    discussion, reply_to, _ = conversation
    deliver(client, _reply("someone@else.example", headers={"Cc": reply_to}), [])
    assert _messages(api, discussion)[-1]["author"] == CLEO


def test_without_a_token_the_references_find_the_discussion(api, client, conversation):
    discussion, _, ses_header = conversation
    result = deliver(client, _reply(f"hub@{REPLY_DOMAIN}", headers={"References": f"<x@y> {ses_header}"}), [])
    assert result[0]["status"] == "posted" and _messages(api, discussion)[-1]["author"] == CLEO


def test_unmatched_mail_is_recorded_but_posted_nowhere_and_shown_to_no_tenant(api, client, conversation, make_api):
    discussion, _, _ = conversation
    result = deliver(client, _reply(f"reply+{'a' * 26}@{REPLY_DOMAIN}"), [])
    assert result[0]["status"] == "unmatched" and "no discussion" in result[0]["reason"]
    assert len(_messages(api, discussion)) == 1
    assert make_api(roles=["staff"]).get(INBOUND).data["items"] == []
    from chalicelib.mail.models import InboundRecord

    [record] = InboundRecord.query("_unmatched")  # kept for operators, with the raw mail's key
    assert record.outcome == "unmatched" and record.raw_s3_key.startswith("s3://") and record.expires_at > 0


def test_a_forged_sender_is_quarantined_and_staff_can_release_or_discard(api, client, conversation, make_api):
    discussion, reply_to, _ = conversation
    result = deliver(client, _reply(reply_to, sender="mallory@evil.example"), [reply_to])
    assert result[0]["status"] == "quarantined" and "not a participant" in result[0]["reason"]
    assert len(_messages(api, discussion)) == 1
    staff = make_api(roles=["staff"])
    listed = staff.get(f"{INBOUND}?outcome=quarantined").data["items"]
    assert [(i["sender"], i["discussion_id"], i["preview"]) for i in listed] == \
        [("mallory@evil.example", discussion["id"], "Yes, the quote works for us.")]
    assert make_api(tenant_id="tenant-b", roles=["staff"]).get(INBOUND).data["items"] == []
    assert make_api(roles=["member"]).get(INBOUND).status_code == 403
    released = staff.post(f"{INBOUND}/{listed[0]['id']}/release").data
    assert released["status"] == "posted" and _messages(api, discussion)[-1]["author"] == "mallory@evil.example"
    [record] = staff.get(f"{INBOUND}?outcome=posted").data["items"]
    assert (record["id"], record["released_by"], record["message_id"]) == \
        (listed[0]["id"], "user-1", released["message_id"])
    assert staff.get(f"{INBOUND}?outcome=quarantined").data["items"] == []
    assert staff.post(f"{INBOUND}/{listed[0]['id']}/release").status_code == 409  # posted already
    deliver(client, _reply(reply_to, sender="spam@evil.example", body="buy"), [reply_to])
    again = staff.get(f"{INBOUND}?outcome=quarantined").data["items"]
    assert staff.delete(f"{INBOUND}/{again[0]['id']}").status_code == 200
    assert staff.get(f"{INBOUND}?outcome=quarantined").data["items"] == []


def test_the_inbound_list_is_paged_and_checks_its_filter(api, client, conversation, make_api):
    _, reply_to, _ = conversation
    for n in range(3):
        deliver(client, _reply(reply_to, sender=f"stranger{n}@evil.example"), [reply_to])
    staff = make_api(roles=["staff"])
    first = staff.get(f"{INBOUND}?outcome=quarantined&limit=2").data
    second = staff.get(f"{INBOUND}?outcome=quarantined&limit=2&cursor={first['next_cursor']}").data
    senders = [i["sender"] for i in first["items"] + second["items"]]
    assert senders == ["stranger2@evil.example", "stranger1@evil.example", "stranger0@evil.example"]
    wrong = staff.get(f"{INBOUND}?outcome=lost")
    assert wrong.status_code == 400 and wrong.data["error"]["field"] == "outcome"
    foreign = staff.get(f"{INBOUND}?cursor={first['next_cursor']}")  # a cursor of another filter
    assert foreign.status_code == 400 and foreign.data["error"]["field"] == "cursor"


def test_ses_verdict_fail_is_quarantined(api, client, conversation):
    discussion, reply_to, _ = conversation
    result = deliver(client, _reply(reply_to), [reply_to], verdicts={"spam": "FAIL"})
    assert result[0]["status"] == "quarantined" and "spam" in result[0]["reason"]
    assert len(_messages(api, discussion)) == 1


@pytest.mark.parametrize("headers", [{"Auto-Submitted": "auto-replied"}, {"X-Autoreply": "yes"},
                                     {"Precedence": "bulk", "Return-Path": "<>"},
                                     {"Subject": "Automatic reply: Quote 1042", "Return-Path": "<>"}])
def test_auto_replies_never_become_messages_but_are_recorded(api, client, conversation, outbox, make_api, headers):
    discussion, reply_to, _ = conversation
    sent_before = len(outbox())
    result = deliver(client, _reply(reply_to, body="I am out of the office until Monday.", headers=headers),
                     [reply_to])
    assert result[0]["status"] == "automatic"
    assert len(_messages(api, discussion)) == 1 and len(outbox()) == sent_before
    [record] = make_api(roles=["staff"]).get(f"{INBOUND}?outcome=automatic").data["items"]
    assert record["preview"] == "I am out of the office until Monday." and record["discussion_id"] == discussion["id"]


def test_an_outlook_reply_asking_others_not_to_auto_reply_is_posted(api, client, conversation):
    discussion, reply_to, _ = conversation
    raw = _reply(reply_to, body="Approved, thanks.", headers={
        "X-Auto-Response-Suppress": "DR, RN, NRN, OOF, AutoReply", "X-MS-Has-Attach": "",
        "X-MS-TNEF-Correlator": "", "Thread-Topic": "Quote 1042"})
    assert deliver(client, raw, [reply_to])[0]["status"] == "posted"
    assert _messages(api, discussion)[-1]["body"] == "Approved, thanks."


def test_staff_can_release_a_mail_wrongly_taken_for_automatic(api, client, conversation, make_api):
    discussion, reply_to, _ = conversation
    raw = _reply(reply_to, body="Back from holiday: yes, go ahead." + QUOTED,
                 headers={"Auto-Submitted": "auto-generated"})
    assert deliver(client, raw, [reply_to])[0]["status"] == "automatic"
    staff = make_api(roles=["staff"])
    [record] = staff.get(f"{INBOUND}?outcome=automatic").data["items"]
    assert staff.post(f"{INBOUND}/{record['id']}/release").data["status"] == "posted"
    assert _messages(api, discussion)[-1]["body"] == "Back from holiday: yes, go ahead."


def test_a_bounce_report_is_not_a_reply(api, client, conversation, make_api):
    discussion, reply_to, _ = conversation
    raw = fixture("mail/sisimai/maildir_bsd/rfc3464-01.eml").read_bytes()
    result = deliver(client, raw, [reply_to])
    assert result[0]["status"] == "bounce" and "bounce" in (result[0]["reason"] or "")
    assert len(_messages(api, discussion)) == 1
    assert [r["outcome"] for r in make_api(roles=["staff"]).get(INBOUND).data["items"]] == ["bounce"]


def test_mail_from_our_own_address_is_ignored(api, client, conversation):
    discussion, reply_to, _ = conversation
    result = deliver(client, _reply(reply_to, sender=SENDER), [reply_to])
    assert result[0]["status"] == "automatic" and "loop" in result[0]["reason"]
    assert len(_messages(api, discussion)) == 1


def test_the_same_message_delivered_twice_is_stored_once(api, client, conversation, make_api):
    discussion, reply_to, _ = conversation
    raw = _reply(reply_to)
    assert deliver(client, raw, [reply_to])[0]["status"] == "posted"
    assert deliver(client, raw, [reply_to])[0]["status"] == "duplicate"
    assert len(_messages(api, discussion)) == 2
    records = make_api(roles=["staff"]).get(INBOUND).data["items"]
    assert [r["outcome"] for r in records] == ["duplicate", "posted"]
    assert records[0]["message_id"] == records[1]["message_id"] == _messages(api, discussion)[-1]["id"]


def test_a_reply_to_a_closed_discussion_is_quarantined(api, client, conversation):
    discussion, reply_to, _ = conversation
    api.post(f"{THREADS}/{discussion['id']}/close")
    assert deliver(client, _reply(reply_to), [reply_to])[0]["status"] == "quarantined"


def test_html_only_replies_become_text(api, client, conversation):
    discussion, reply_to, _ = conversation
    deliver(client, _reply(reply_to, html="<html><body><p>Looks <b>great</b>!</p><style>p{}</style></body></html>"),
            [reply_to])
    assert _messages(api, discussion)[-1]["body"] == "Looks great!"


def test_attachments_are_stored_and_executables_refused(api, client, conversation):
    discussion, reply_to, _ = conversation
    message = EmailMessage(policy=SMTP)
    message["From"], message["To"], message["Subject"] = CLEO, reply_to, "Re: Quote"
    message["Message-ID"] = "<with-files@client.example>"
    message.set_content("Signed copy attached.")
    message.add_attachment(b"%PDF-1.4 signed", maintype="application", subtype="pdf", filename="signed.pdf")
    message.add_attachment(b"MZ...", maintype="application", subtype="octet-stream", filename="virus.exe")
    deliver(client, message.as_bytes(), [reply_to])
    files = api.get(f"{THREADS}/{discussion['id']}/attachments").data["items"]
    assert [f["filename"] for f in files] == ["signed.pdf"]


def test_an_oversized_message_is_refused(api, client, conversation, monkeypatch, make_api):
    from chalicelib.mail import receive

    discussion, reply_to, _ = conversation
    monkeypatch.setattr(receive, "MAX_RAW_BYTES", 1000)
    assert deliver(client, _reply(reply_to, body="x" * 5000), [reply_to])[0]["status"] == "quarantined"
    [record] = make_api(roles=["staff"]).get(f"{INBOUND}?outcome=quarantined").data["items"]
    assert "larger than 1000 bytes" in record["reason"] and record["discussion_id"] == discussion["id"]
    assert len(_messages(api, discussion)) == 1


def test_a_real_thunderbird_reply_is_read(aws):
    from chalicelib.mail.inbound import parse_inbound

    raw = fixture("mail/mikel/plain_emails/raw_email_reply.eml").read_bytes()
    text = parse_inbound(raw).text
    assert text and not re.search(r"^>", text, re.MULTILINE)


def _dsn(to, failed, status):
    return (f"From: Mail Delivery System <MAILER-DAEMON@mx.client.example>\r\nTo: {to}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.client.example>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.client.example\r\n\r\n"
            f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: {status}\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--b--\r\n").encode()


def test_a_dsn_at_a_reply_address_feeds_bounce_tracking(api, client, conversation, make_api):
    discussion, reply_to, _ = conversation
    result = deliver(client, _dsn(reply_to, CLEO, "5.1.1"), [reply_to])
    assert result[0]["status"] == "bounce" and len(_messages(api, discussion)) == 1
    suppressed = make_api(roles=["admin"]).get("/api/tenant/suppressions").data["items"]
    assert [(s["email"], s["reason"]) for s in suppressed] == [(CLEO, "hard_bounce")]
    participant = next(p for p in api.get(f"{THREADS}/{discussion['id']}").data["participants"] if p["email"] == CLEO)
    assert participant["email_status"] == "hard_bounce"


def test_a_dsn_cannot_suppress_an_address_outside_the_discussion(api, client, conversation, make_api):
    _, reply_to, _ = conversation
    deliver(client, _dsn(reply_to, "ceo@other-company.example", "5.1.1"), [reply_to])
    assert make_api(roles=["admin"]).get("/api/tenant/suppressions").data["items"] == []


def test_staff_participants_are_notified_of_a_reply_once(api, client, conversation, make_api, run_jobs):
    discussion, reply_to, _ = conversation
    raw = _reply(reply_to)
    deliver(client, raw, [reply_to])
    deliver(client, raw, [reply_to])  # the same mail again: no second notification
    run_jobs()
    colleague = make_api(user_id="user-2")
    items = colleague.get("/api/tenant/notifications").data["items"]
    assert [(n["type"], n["discussion_id"], n["priority"]) for n in items] == \
        [("inbound_reply", discussion["id"], "normal")]
    assert items[0]["title"] == "Cleo Client replied: Quote 1042"
    assert colleague.get("/api/tenant/notifications/unread-count").data["unread_count"] == 1
    assert api.get("/api/tenant/notifications/unread-count").data["unread_count"] == 1   # the owner too
    read = colleague.post(f"/api/tenant/notifications/{items[0]['id']}/read").data
    assert read["unread_count"] == 0
    assert colleague.post(f"/api/tenant/notifications/{items[0]['id']}/read").data["unread_count"] == 0
    assert colleague.post("/api/tenant/notifications/unknown/read").status_code == 404
    assert make_api(tenant_id="tenant-b", user_id="user-2").get("/api/tenant/notifications").data["items"] == []


def test_a_reply_without_a_message_id_gets_one_on_the_tenants_reply_domain(api, client, conversation):
    discussion, reply_to, _ = conversation
    raw = b"\r\n".join(line for line in _reply(reply_to).split(b"\r\n") if not line.startswith(b"Message-ID:"))

    assert deliver(client, raw, [reply_to])[0]["status"] == "posted"

    minted = _messages(api, discussion)[-1]["email_message_id"]
    assert re.fullmatch(rf"<inbound\.[0-9a-f-]{{36}}@{re.escape(REPLY_DOMAIN)}>", minted), minted


def test_inbound_log_lines_never_carry_an_address_in_clear(api, client, conversation, caplog):
    discussion, reply_to, _ = conversation
    caplog.set_level("INFO", logger="chalicelib")

    deliver(client, _reply(reply_to, sender="mallory@evil.example"), [reply_to])  # quarantined: not a participant
    deliver(client, _reply("nobody@nowhere.example", sender="stranger@else.example"), [])  # unmatched

    logged = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("chalicelib"))
    assert "m***@evil.example" in logged
    assert "mallory@" not in logged and "stranger@" not in logged and "cleo@" not in logged
