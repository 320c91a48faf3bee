"""Lifecycle (active → archived → closed, reopen) and the O(1) counters: unread-count and category-counts."""
from __future__ import annotations

import pytest

THREADS = "/api/tenant/threads"


def _unread(api):
    return api.get(f"{THREADS}/unread-count").data["unread_count"]


def _counts(api, status="active"):
    return api.get(f"{THREADS}/category-counts?status={status}").data


@pytest.mark.parametrize("start, action, expected", [
    ("active", "archive", "archived"), ("active", "close", "closed"),
    ("archived", "reopen", "active"), ("archived", "close", "closed"), ("closed", "reopen", "active"),
])
def test_allowed_transitions(api, start, action, expected):
    discussion = api.post(THREADS, {"subject": "S"}).data["id"]
    if start == "archived":
        api.post(f"{THREADS}/{discussion}/archive")
    if start == "closed":
        api.post(f"{THREADS}/{discussion}/close")
    response = api.post(f"{THREADS}/{discussion}/{action}")
    assert response.status_code == 200 and response.data["status"] == expected


@pytest.mark.parametrize("start, action", [("active", "reopen"), ("archived", "archive"), ("closed", "archive"),
                                           ("closed", "close")])
def test_refused_transitions_are_409_and_change_nothing(api, start, action):
    discussion = api.post(THREADS, {"subject": "S"}).data["id"]
    if start != "active":
        api.post(f"{THREADS}/{discussion}/{'archive' if start == 'archived' else 'close'}")
    response = api.post(f"{THREADS}/{discussion}/{action}")
    assert response.status_code == 409 and response.data["error"]["code"] == "conflict"
    assert api.get(f"{THREADS}/{discussion}").data["status"] == start


def test_category_counts_follow_create_and_every_status_change(api):
    quote = api.post(THREADS, {"subject": "q", "discussion_type": "quote"}).data["id"]
    api.post(THREADS, {"subject": "q2", "discussion_type": "quote"})
    api.post(THREADS, {"subject": "i", "discussion_type": "invoice"})
    counts = _counts(api)
    assert counts["counts"]["quote"] == 2 and counts["counts"]["invoice"] == 1 and counts["total"] == 3
    assert set(counts["counts"]) == {"quote", "invoice", "document", "freelancer", "project", "general", "client",
                                     "crew", "equipment", "logistics", "venue", "change", "issue"}
    api.post(f"{THREADS}/{quote}/archive")
    assert _counts(api)["counts"]["quote"] == 1
    assert _counts(api, "archived")["counts"]["quote"] == 1
    api.post(f"{THREADS}/{quote}/close")
    assert _counts(api, "archived")["total"] == 0 and _counts(api, "closed")["counts"]["quote"] == 1
    api.post(f"{THREADS}/{quote}/reopen")
    assert _counts(api)["counts"]["quote"] == 2 and _counts(api, "closed")["total"] == 0


def test_unread_count_across_messages_reads_and_lifecycle(api, make_api):
    colleague = make_api(user_id="user-2")
    first = api.post(THREADS, {"subject": "one", "participants": [{"user_id": "user-2"}]}).data["id"]
    second = api.post(THREADS, {"subject": "two", "initial_message": "hi",
                                "participants": [{"user_id": "user-2"}]}).data["id"]
    assert _unread(colleague) == 1          # only the discussion with a message
    assert _unread(api) == 0                # the author has read what they wrote
    api.post(f"{THREADS}/{first}/messages", {"body": "news"})
    api.post(f"{THREADS}/{first}/messages", {"body": "more news"})
    assert _unread(colleague) == 2          # per discussion, not per message
    colleague.post(f"{THREADS}/{first}/read")
    assert _unread(colleague) == 1
    colleague.post(f"{THREADS}/{second}/messages", {"body": "reply"})
    assert _unread(colleague) == 0 and _unread(api) == 1
    api.post(f"{THREADS}/{second}/archive")
    assert _unread(api) == 0                # archived discussions leave the unread count
    api.post(f"{THREADS}/{second}/reopen")
    assert _unread(api) == 1
    api.post(f"{THREADS}/{second}/close")
    assert _unread(api) == 0
    api.post(f"{THREADS}/{second}/reopen")
    api.post(f"{THREADS}/{second}/read")
    assert _unread(api) == 0
    listed = {item["subject"]: item["read_state"]["unread"] for item in colleague.get(THREADS).data["items"]}
    assert listed == {"one": False, "two": False}  # the colleague wrote the latest message of "two"


def test_a_colleague_added_later_sees_the_conversation_as_unread_and_removal_clears_it(api, make_api):
    discussion = api.post(THREADS, {"subject": "s", "initial_message": "hello"}).data["id"]
    added = api.post(f"{THREADS}/{discussion}/participants", {"user_id": "user-3"}).data["added"][0]
    assert _unread(make_api(user_id="user-3")) == 1
    api.delete(f"{THREADS}/{discussion}/participants/{added['id']}")
    assert _unread(make_api(user_id="user-3")) == 0


def test_only_participants_can_mark_read(api, make_api):
    discussion = api.post(THREADS, {"subject": "s"}).data["id"]
    response = make_api(user_id="stranger").post(f"{THREADS}/{discussion}/read")
    assert response.status_code == 409


def test_counters_match_the_data_after_a_mixed_history(api, make_api):
    """The counters equal a recount of the stored discussions after many kinds of change."""
    colleague = make_api(user_id="user-2")
    ids = [api.post(THREADS, {"subject": f"d{n}", "discussion_type": ("quote", "crew")[n % 2],
                              "participants": [{"user_id": "user-2"}]}).data["id"] for n in range(6)]
    for n, discussion in enumerate(ids):
        api.post(f"{THREADS}/{discussion}/messages", {"body": "x"})
        if n % 3 == 0:
            api.post(f"{THREADS}/{discussion}/archive")
        if n % 3 == 1:
            colleague.post(f"{THREADS}/{discussion}/read")
    active = api.get(f"{THREADS}?limit=100").data["items"]
    recount = {"quote": 0, "crew": 0}
    for item in active:
        recount[item["discussion_type"]] += 1
    counts = _counts(api)["counts"]
    assert (counts["quote"], counts["crew"]) == (recount["quote"], recount["crew"])
    unread_recount = sum(1 for item in colleague.get(f"{THREADS}?limit=100").data["items"]
                         if item["read_state"]["unread"])
    assert _unread(colleague) == unread_recount == 2


def test_marking_read_writes_only_when_something_was_unread(api, make_api):
    """Issue 22: marking an unread discussion read is its read and one transaction (the read position with the
    caller's unread counter); marking one already read — what a client does on every open — is the read alone, moves
    no version and answers the same discussion."""
    from bench.calls import counting

    colleague = make_api(user_id="user-2")
    discussion = api.post(THREADS, {"subject": "s", "initial_message": "hi",
                                    "participants": [{"user_id": "user-2"}]}).data["id"]

    def mark() -> tuple[dict, dict[str, int]]:
        with counting() as counter:
            response = colleague.post(f"{THREADS}/{discussion}/read")
        assert response.status_code == 200, response.data
        return response.data, {name: count for name, count in counter.by_operation().items()
                               if name.startswith("dynamodb.")}

    first, calls = mark()
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1}
    assert first["read_state"] == {"is_participant": True, "unread": False, "unread_messages": 0}
    assert _unread(colleague) == 0
    again, calls = mark()
    assert calls == {"dynamodb.GetItem": 1}
    assert again == first
    api.post(f"{THREADS}/{discussion}/messages", {"body": "news"})
    assert _unread(colleague) == 1
    _, calls = mark()
    assert calls == {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1} and _unread(colleague) == 0
