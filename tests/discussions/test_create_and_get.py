"""Creating a discussion and reading it back: the seed's fields, defaults, and every validation error."""
from __future__ import annotations

import pytest

THREADS = "/api/tenant/threads"


def test_create_returns_the_discussion_with_the_creator_as_owner(api):
    response = api.post(THREADS, {
        "subject": "  Quote 1042 for the spring gala  ", "discussion_type": "quote",
        "context_type": "quote", "context_id": "Q-1042",
        "participants": [{"email": "Client@Example.com", "name": "Cleo Client", "recipient_type": "client_contact"},
                         {"user_id": "user-2", "role": "cc"},
                         {"email": "crew@freelance.example", "freelancer_node_id": "node-7", "role": "bcc"}],
    })
    assert response.status_code == 201
    discussion = response.data
    assert discussion["subject"] == "Quote 1042 for the spring gala"
    assert (discussion["discussion_type"], discussion["status"]) == ("quote", "active")
    assert (discussion["context_type"], discussion["context_id"]) == ("quote", "Q-1042")
    assert discussion["email_thread_id"] == f"<thread.{discussion['id']}@reply.discussionhub.local>"
    assert discussion["message_count"] == 0 and discussion["last_message_preview"] is None
    assert discussion["created_by"] == "user-1"
    roles = {(p["user_id"] or p["email"]): p for p in discussion["participants"]}
    assert roles["user-1"]["role"] == "owner"
    assert roles["client@example.com"]["recipient_type"] == "client_contact"
    assert roles["user-2"]["role"] == "cc" and roles["user-2"]["recipient_type"] is None
    assert roles["crew@freelance.example"] == {**roles["crew@freelance.example"], "role": "bcc",
                                               "recipient_type": "freelancer", "freelancer_node_id": "node-7",
                                               "is_external_freelancer": True}


def test_defaults_to_general_and_an_initial_message_sets_the_summary_at_once(api):
    response = api.post(THREADS, {"subject": "Hello", "initial_message": "First   words\nof the thread"})
    discussion = response.data
    assert discussion["discussion_type"] == "general"
    assert discussion["message_count"] == 1
    assert discussion["last_message_preview"] == "First words of the thread"
    assert discussion["last_activity_at"] == discussion["messages"][0]["created_at"]
    assert discussion["messages"][0]["is_internal"] is False


def test_an_initial_message_can_be_an_internal_note(api):
    response = api.post(THREADS, {"subject": "Hello", "initial_message": {"body": "staff only", "is_internal": True}})
    assert response.data["messages"][0]["is_internal"] is True


def test_get_returns_participants_messages_and_the_callers_read_state(api, make_api):
    created = api.post(THREADS, {"subject": "S", "initial_message": "one",
                                 "participants": [{"user_id": "user-2"}]}).data
    mine = api.get(f"{THREADS}/{created['id']}").data
    assert [m["body"] for m in mine["messages"]] == ["one"]
    assert mine["read_state"] == {"is_participant": True, "unread": False, "unread_messages": 0}
    colleague = make_api(user_id="user-2").get(f"{THREADS}/{created['id']}").data
    assert colleague["read_state"] == {"is_participant": True, "unread": True, "unread_messages": 1}
    outsider = make_api(user_id="user-9").get(f"{THREADS}/{created['id']}").data
    assert outsider["read_state"]["is_participant"] is False


def test_messages_of_a_discussion_are_paginated(api):
    discussion = api.post(THREADS, {"subject": "Long"}).data
    for number in range(7):
        api.post(f"{THREADS}/{discussion['id']}/messages", {"body": f"message {number}"})
    seen, cursor = [], None
    while True:
        path = f"{THREADS}/{discussion['id']}?messages_limit=3" + (f"&messages_cursor={cursor}" if cursor else "")
        page = api.get(path).data
        seen += [m["body"] for m in page["messages"]]
        cursor = page["messages_next_cursor"]
        if not cursor:
            break
    assert seen == [f"message {n}" for n in range(7)]
    newest = api.get(f"{THREADS}/{discussion['id']}?messages_limit=2&messages_order=desc").data
    assert [m["body"] for m in newest["messages"]] == ["message 6", "message 5"]


def test_unknown_discussion_is_404(api):
    response = api.get(f"{THREADS}/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.data == {"error": {"code": "not_found", "message": "discussion not found"}}


@pytest.mark.parametrize("body, field, words", [
    ({}, "subject", "required"),
    ({"subject": "   "}, "subject", "must not be empty"),
    ({"subject": "x" * 999}, "subject", "at most 998"),
    ({"subject": "Hi\r\nBcc: victim@example.com"}, "subject", "CR/LF"),
    ({"subject": 42}, "subject", "must be a string"),
    ({"subject": "S", "discussion_type": "gossip"}, "discussion_type", "quote, invoice, document, freelancer"),
    ({"subject": "S", "context_type": "quote"}, "context_id", "go together"),
    ({"subject": "S", "context_id": "Q-1"}, "context_type", "go together"),
    ({"subject": "S", "context_type": "planet", "context_id": "x"}, "context_type", "quote, invoice, project, client"),
    ({"subject": "S", "participants": [{"email": "not-an-address"}]}, "participants[0].email", "valid email"),
    ({"subject": "S", "participants": [{"email": "a@b.com\r\nBcc: x@y.com"}]}, "participants[0].email", "valid"),
    ({"subject": "S", "participants": [{"name": "Nobody"}]}, "participants[0].email", "user_id"),
    ({"subject": "S", "participants": [{"email": "a@b.com", "role": "owner"}]}, "participants[0].role",
     "participant, cc, bcc"),
    ({"subject": "S", "participants": [{"email": "a@b.com", "name": "Evil\nName"}]}, "participants[0].name", "CR/LF"),
    ({"subject": "S", "participants": "a@b.com"}, "participants", "must be a list"),
    ({"subject": "S", "initial_message": 7}, "initial_message", "string or an object"),
    ({"subject": "S", "initial_message": {"body": "x", "is_internal": "yes"}}, "initial_message.is_internal",
     "true or false"),
    ({"subject": "S", "subjet": "typo"}, "subjet", "unknown field"),
])
def test_invalid_create_is_400_naming_the_field(api, body, field, words):
    response = api.post("/api/tenant/threads", body)
    assert response.status_code == 400
    assert response.data["error"]["code"] == "validation_error"
    assert response.data["error"]["field"] == field
    assert words in response.data["error"]["message"]
    assert api.get(THREADS).data["items"] == []


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "\"text\"", "\xff\xfe"])
def test_malformed_json_is_400(api, raw):
    response = api.post(THREADS, raw=raw)
    assert response.status_code == 400
    assert response.data["error"]["field"] == "body"


def test_duplicate_participant_is_rejected(api):
    response = api.post(THREADS, {"subject": "S", "participants": [{"email": "a@b.com"}, {"email": "A@b.com"}]})
    assert response.status_code == 409
    assert "already a participant" in response.data["error"]["message"]


def test_too_many_participants_is_400(api):
    people = [{"email": f"person{n}@example.com"} for n in range(40)]
    response = api.post(THREADS, {"subject": "S", "participants": people})
    assert response.status_code == 400 and response.data["error"]["field"] == "participants"


def test_a_body_over_the_size_cap_is_413(api, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("MAX_REQUEST_BYTES", "1000")
    config.settings.cache_clear()
    try:
        response = api.post(THREADS, {"subject": "S", "initial_message": "x" * 2000})
    finally:
        config.settings.cache_clear()
    assert response.status_code == 413
