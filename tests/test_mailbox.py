"""The local mailbox page (scripts/mailbox, `make run` only): mail as each recipient sees it, and their buttons.

In-process: the page reads moto's SES over HTTP (`/moto-api/data.json` of a moto server on loopback) and acts
through the app's own handlers, as it does on `make run`. The browser test (tests/test_browser.py) drives it in
Chromium.
"""
from __future__ import annotations

import re
import urllib.parse

import pytest
from werkzeug.test import Client as WsgiClient

from scripts.local_stack import Ports
from scripts.mailbox.server import MailboxApp
from scripts.mailbox.store import Mail, conversations
from tests.outbound.conftest import admin, copies, enabled, send  # noqa: F401
from tests.outbound.test_send import THREADS

CASEY = "casey@client.example"
SES_DOMAIN = "email.amazonses.com"


@pytest.fixture(autouse=True)
def only_this_test_s_objects():
    """moto's data.json lists every model object made in the process (it serialises each of them); each test here
    restores AWS's state but cannot untrack the objects of the tests before it (on `make run` there are none)."""
    from moto.core.model_instances import model_data

    for models in model_data.values():
        for model in models.values():
            model.instances_tracked.clear()


@pytest.fixture
def emailed(api, enabled, send):  # noqa: F811 - imported fixtures
    created = api.post(THREADS, {"subject": "Quote 1042 for the spring event",
                                 "initial_message": "Hello! Terms: https://example.com/terms",
                                 "participants": [{"email": CASEY, "name": "Casey Client"}]}).data
    send(created["id"])
    sent = copies(api, created["id"])[CASEY]
    assert sent["state"] == "sent"
    return created, sent


@pytest.fixture
def mailbox(aws_server):
    port = int(aws_server.rsplit(":", 1)[1])
    app = MailboxApp(Ports(api=8000, moto=port, mailbox=8025), "a-token", SES_DOMAIN)
    return app, WsgiClient(app)


def _ses_id(sent: dict) -> str:
    return sent["email_message_id"].strip("<>").split("@")[0]


def test_each_recipient_has_a_mailbox_with_the_email_as_delivered(emailed, mailbox):
    created, sent = emailed
    app, browser = mailbox

    index = browser.get("/").text
    page = browser.get(f"/mail/{_ses_id(sent)}").text

    assert f'href="/box/{urllib.parse.quote(CASEY)}"' in index
    assert "Quote 1042 for the spring event" in page and "Casey Client &lt;casey@client.example&gt;" in page
    # SES gives the copy its own Message-ID and Date; the mailbox shows it as the recipient gets it.
    assert f"<td>&lt;{_ses_id(sent)}@{SES_DOMAIN}&gt;</td>" in page
    assert re.search(r"<th>Date</th><td>\w{3}, \d+ \w{3} \d{4} ", page)
    # The discussion panel names the discussion from the thread id in References.
    assert f'data-discussion="{created["id"]}"' in page


def test_the_html_is_framed_without_scripts_and_remote_images_wait_for_a_click(emailed, mailbox):
    _, sent = emailed
    _, browser = mailbox

    blocked = browser.get(f"/mail/{_ses_id(sent)}/html")
    shown = browser.get(f"/mail/{_ses_id(sent)}/html?images=1")

    assert "/t/o/" in blocked.text  # the pixel is in the HTML…
    assert "img-src data: ;" in blocked.headers["Content-Security-Policy"]  # …and the browser may not load it
    assert "img-src data: http: https:;" in shown.headers["Content-Security-Policy"]
    for response in (blocked, shown):
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy and "allow-scripts" not in policy


def test_a_reply_written_on_the_page_lands_in_the_discussion_threaded_by_the_id_the_recipient_saw(
        api, emailed, mailbox):
    created, sent = emailed
    app, browser = mailbox
    delivered_id = f"<{_ses_id(sent)}@{SES_DOMAIN}>"

    response = browser.post(f"/mail/{_ses_id(sent)}/reply", data={"text": "Works for us. See you Tuesday!"})

    assert response.status_code == 303
    assert "the inbound handler answered: posted" in urllib.parse.unquote_plus(response.headers["Location"])
    [reply] = app.sent
    head, _ = reply.raw.split(b"\r\n\r\n", 1)
    fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
    # What a client writes, on the wire: ids whole (not RFC 2047-encoded), the thread id first.
    assert fields["In-Reply-To"] == delivered_id
    references = fields["References"].split(" ")
    assert references[0] == created["email_thread_id"] and references[-1] == delivered_id
    assert fields["From"] == "Casey Client <casey@client.example>"
    assert re.fullmatch(r"reply\+[a-z2-7]{26}@reply\.acme\.example", fields["To"])
    assert "\n> Hello! Terms:" in reply.text and " wrote:\n" in reply.text
    discussion = api.get(f"{THREADS}/{created['id']}").data
    assert [(m["author"], m["body"]) for m in discussion["messages"]][-1] == (CASEY, "Works for us. See you Tuesday!")
    # The recipient's mailbox threads the reply with the email it answers.
    [thread] = conversations([m for m in app.mails() if m.mailbox == CASEY])
    assert [m.sent_here for m in thread.mails] == [False, True]


def test_a_bounce_reported_from_the_page_goes_through_the_ses_event_handler(api, emailed, mailbox):
    created, sent = emailed
    _, browser = mailbox

    response = browser.post(f"/mail/{_ses_id(sent)}/report", data={"kind": "bounce"})

    assert response.status_code == 303
    stats = api.get(f"{THREADS}/{created['id']}/tracking").data
    assert stats["bounced"] == 1 and stats["recipients"][0]["bounce_type"] == "hard"


def test_another_site_cannot_press_the_buttons(emailed, mailbox):
    _, sent = emailed
    app, browser = mailbox

    response = browser.post(f"/mail/{_ses_id(sent)}/reply", data={"text": "hi"},
                            headers={"Origin": "https://evil.example"})

    assert response.status_code == 403 and app.sent == []


def _mail(key: str, headers: str) -> Mail:
    raw = f"From: a@example.com\r\nSubject: s\r\n{headers}\r\n\r\nbody\r\n".encode()
    return Mail(key=key, mailbox="b@example.com", raw=raw, delivered=raw)


def test_conversations_follow_the_headers_as_a_client_threads_them():
    first = _mail("1", "Message-ID: <one@x>\r\nReferences: <thread.d1@r>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000")
    answer = _mail("2", "Message-ID: <two@x>\r\nIn-Reply-To: <one@x>\r\nDate: Mon, 30 Nov 2026 11:00:00 +0000")
    only_references = _mail("3", "Message-ID: <three@x>\r\nReferences: <thread.d1@r>\r\n"
                                 "Date: Mon, 30 Nov 2026 12:00:00 +0000")
    other = _mail("4", "Message-ID: <four@x>\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000")

    threads = conversations([other, only_references, answer, first])

    assert [[m.key for m in thread.mails] for thread in threads] == [["1", "2", "3"], ["4"]]
