"""Listing discussions: status, type, participant and context filters, newest activity first, cursor paging."""
from __future__ import annotations

from datetime import UTC
from urllib.parse import quote

from chalicelib import clock

THREADS = "/api/tenant/threads"


def _subjects(page):
    return [item["subject"] for item in page["items"]]


def _all_pages(api, path, limit=2):
    subjects, cursor, pages = [], None, 0
    while True:
        separator = "&" if "?" in path else "?"
        url = f"{path}{separator}limit={limit}" + (f"&cursor={quote(cursor)}" if cursor else "")
        page = api.get(url)
        assert page.status_code == 200, page.data
        subjects += _subjects(page.data)
        pages += 1
        cursor = page.data["next_cursor"]
        if not cursor:
            return subjects, pages


def test_newest_activity_comes_first_and_a_message_moves_a_discussion_to_the_top(api):
    ids = {name: api.post(THREADS, {"subject": name}).data["id"] for name in ("first", "second", "third")}
    assert _subjects(api.get(THREADS).data) == ["third", "second", "first"]
    api.post(f"{THREADS}/{ids['first']}/messages", {"body": "bump"})
    assert _subjects(api.get(THREADS).data) == ["first", "third", "second"]


def test_pagination_walks_every_discussion_exactly_once(api):
    for number in range(7):
        api.post(THREADS, {"subject": f"d{number}"})
    subjects, pages = _all_pages(api, THREADS, limit=3)
    assert subjects == [f"d{n}" for n in reversed(range(7))]
    assert pages >= 3


def test_archived_discussions_are_hidden_unless_asked_for(api):
    kept = api.post(THREADS, {"subject": "kept"}).data["id"]
    archived = api.post(THREADS, {"subject": "archived"}).data["id"]
    api.post(f"{THREADS}/{archived}/archive")
    assert _subjects(api.get(THREADS).data) == ["kept"]
    assert _subjects(api.get(f"{THREADS}?status=archived").data) == ["archived"]
    api.post(f"{THREADS}/{kept}/close")
    assert _subjects(api.get(f"{THREADS}?status=closed").data) == ["kept"]


def test_filter_by_discussion_type(api):
    api.post(THREADS, {"subject": "a quote", "discussion_type": "quote"})
    api.post(THREADS, {"subject": "an invoice", "discussion_type": "invoice"})
    assert _subjects(api.get(f"{THREADS}?discussion_type=invoice").data) == ["an invoice"]
    bad = api.get(f"{THREADS}?discussion_type=nope")
    assert bad.status_code == 400 and bad.data["error"]["field"] == "discussion_type"


def test_filter_by_participant_email_or_user_id_with_paging(api):
    for number in range(5):
        api.post(THREADS, {"subject": f"with client {number}", "participants": [{"email": "client@example.com"}]})
    api.post(THREADS, {"subject": "colleague", "participants": [{"user_id": "user-2"}]})
    subjects, _ = _all_pages(api, f"{THREADS}?participant={quote('Client@Example.com')}", limit=2)
    assert subjects == [f"with client {n}" for n in reversed(range(5))]
    assert _subjects(api.get(f"{THREADS}?participant=user-2").data) == ["colleague"]
    assert len(_subjects(api.get(f"{THREADS}?participant=user-1").data)) == 6


def test_participant_filter_follows_status_changes(api):
    discussion = api.post(THREADS, {"subject": "s", "participants": [{"email": "c@example.com"}]}).data["id"]
    api.post(f"{THREADS}/{discussion}/archive")
    assert _subjects(api.get(f"{THREADS}?participant=c@example.com").data) == []
    assert _subjects(api.get(f"{THREADS}?participant=c@example.com&status=archived").data) == ["s"]


def test_by_context_lists_the_discussions_linked_to_an_entity(api):
    api.post(THREADS, {"subject": "about P-1", "context_type": "project", "context_id": "P-1"})
    api.post(THREADS, {"subject": "also P-1", "context_type": "project", "context_id": "P-1",
                       "discussion_type": "crew"})
    api.post(THREADS, {"subject": "about P-2", "context_type": "project", "context_id": "P-2"})
    assert _subjects(api.get(f"{THREADS}/by-context/project/P-1").data) == ["also P-1", "about P-1"]
    unknown = api.get(f"{THREADS}/by-context/planet/P-1")
    assert unknown.status_code == 400 and unknown.data["error"]["field"] == "context_type"


def test_a_tampered_or_foreign_cursor_is_400(api, make_api):
    for number in range(3):
        api.post(THREADS, {"subject": f"d{number}"})
    cursor = api.get(f"{THREADS}?limit=1").data["next_cursor"]
    assert cursor
    tampered = cursor[:-2] + ("aa" if not cursor.endswith("aa") else "bb")
    assert api.get(f"{THREADS}?limit=1&cursor={quote(tampered)}").status_code == 400
    other_tenant = make_api(tenant_id="tenant-b").get(f"{THREADS}?limit=1&cursor={quote(cursor)}")
    assert other_tenant.status_code == 400
    archived_query = api.get(f"{THREADS}?limit=1&status=archived&cursor={quote(cursor)}")
    assert archived_query.status_code == 400
    non_ascii = api.get(f"{THREADS}?limit=1&cursor={quote(cursor.split('.')[0] + '.é')}")
    assert non_ascii.status_code == 400 and non_ascii.data["error"]["field"] == "cursor"


def test_limit_is_validated(api):
    for value in ("0", "101", "ten", "1_0", " 7", "\u0667", "00000000005"):
        response = api.get(f"{THREADS}?limit={value}")
        assert response.status_code == 400 and response.data["error"]["field"] == "limit"


def test_status_is_validated(api):
    response = api.get(f"{THREADS}?status=deleted")
    assert response.status_code == 400 and "active, archived, closed" in response.data["error"]["message"]


def test_activity_order_uses_the_injected_clock(api):
    from datetime import datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock.set_clock(lambda: start)
    old = api.post(THREADS, {"subject": "old"}).data
    clock.set_clock(lambda: start + timedelta(days=1))
    api.post(THREADS, {"subject": "new"})
    assert old["created_at"] == "2026-01-01T00:00:00.000000Z"
    assert _subjects(api.get(THREADS).data) == ["new", "old"]
