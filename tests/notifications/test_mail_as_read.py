"""Notification and digest mail as clients read it: raw bytes, literal list headers, links a person can open."""
from __future__ import annotations

import re

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests import rawmail
from tests.notifications.test_digest import _mention


def _raw_to(address: str) -> list[bytes]:
    return [m.raw_data.encode() for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
            if list(m.destinations)[0] == address]


def _digest(client, run_jobs, tick, moment, make_api) -> bytes:
    owner = make_api(user_id="101")
    created = owner.post("/api/tenant/threads", {"subject": "Stage plan", "participants": [{"user_id": "102"}]}).data
    owner.post(f"/api/tenant/threads/{created['id']}/messages", {"body": "Draft attached"})
    run_jobs()
    _mention(client, run_jobs, who=102, subject="Board party", author=103)
    moment.at("2026-11-24T08:05:00Z")
    tick()
    [raw] = _raw_to("user102@example.com")
    return raw, created["id"]


def test_the_digest_headers_are_literal_whole_and_one_click_ready(client, run_jobs, tick, moment, mailing, make_api):
    raw, _ = _digest(client, run_jobs, tick, moment, make_api)

    assert rawmail.long_lines(raw) == []
    message_id = rawmail.header(raw, "Message-ID")
    assert re.fullmatch(r"<digest\.daily-2026-11-24\.[0-9a-f]{16}@reply\.acme\.example>", message_id), message_id
    unsubscribe = rawmail.header(raw, "List-Unsubscribe")
    assert re.fullmatch(r"<http://127\.0\.0\.1:8000/u/[^<>\s]+>", unsubscribe), unsubscribe
    assert rawmail.header(raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert rawmail.header(raw, "List-Id") == "<notifications.reply.acme.example>"
    assert rawmail.header(raw, "Auto-Submitted") == "auto-generated"
    assert re.fullmatch(r"Tue, 24 Nov 2026 08:05:00 \+0000", rawmail.header(raw, "Date"))
    path = unsubscribe.strip("<>").removeprefix("http://127.0.0.1:8000")
    assert client.http.post(path, body=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 200


def test_digest_links_open_the_app_not_the_json_api(client, run_jobs, tick, moment, mailing, make_api):
    raw, discussion_id = _digest(client, run_jobs, tick, moment, make_api)

    text = re.sub(rb"=\r\n", b"", raw).decode("ascii")
    assert f"http://localhost:3000/discussions/{discussion_id}" in text
    assert "/api/tenant/threads" not in text
