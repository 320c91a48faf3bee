"""Adding messages and participants: summary fields, internal notes, closed discussions, owner rules."""
from __future__ import annotations

THREADS = "/api/tenant/threads"


def test_adding_a_message_updates_count_activity_and_preview(api):
    discussion = api.post(THREADS, {"subject": "S"}).data
    response = api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "Please find the quote attached."})
    assert response.status_code == 201
    message, summary = response.data["message"], response.data["discussion"]
    assert message["author"] == "user-1" and message["is_internal"] is False
    assert summary["message_count"] == 1
    assert summary["last_message_preview"] == "Please find the quote attached."
    assert summary["last_activity_at"] == message["created_at"]


def test_internal_notes_are_stored_as_internal(api):
    discussion = api.post(THREADS, {"subject": "S"}).data
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "margin is thin", "is_internal": True})
    stored = api.get(f"{THREADS}/{discussion['id']}").data["messages"]
    assert [(m["body"], m["is_internal"]) for m in stored] == [("margin is thin", True)]


def test_long_previews_are_cut(api):
    discussion = api.post(THREADS, {"subject": "S"}).data
    summary = api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "word " * 100}).data["discussion"]
    assert len(summary["last_message_preview"]) == 160 and summary["last_message_preview"].endswith("…")


def test_a_closed_discussion_takes_no_messages(api):
    discussion = api.post(THREADS, {"subject": "S"}).data
    api.post(f"{THREADS}/{discussion['id']}/close")
    response = api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "late"})
    assert response.status_code == 409 and "closed" in response.data["error"]["message"]
    assert api.get(f"{THREADS}/{discussion['id']}").data["message_count"] == 0


def test_an_archived_discussion_still_takes_messages(api):
    discussion = api.post(THREADS, {"subject": "S"}).data
    api.post(f"{THREADS}/{discussion['id']}/archive")
    assert api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "still here"}).status_code == 201


def test_message_validation_names_the_field(api):
    discussion = api.post(THREADS, {"subject": "S"}).data
    path = f"{THREADS}/{discussion['id']}/messages"
    assert api.post(path, {}).data["error"]["field"] == "body"
    assert api.post(path, {"body": "   "}).data["error"]["field"] == "body"
    assert api.post(path, {"body": "x", "is_internal": 1}).data["error"]["field"] == "is_internal"
    assert api.post(path, {"body": "x" * 100_001}).data["error"]["field"] == "body"
    assert api.post(path, {"body": "x", "attachment_ids": "a"}).data["error"]["field"] == "attachment_ids"
    assert api.post(path, {"body": "x", "attachment_ids": ["missing"]}).data["error"]["field"] == "attachment_ids"
    assert api.post(f"{THREADS}/nope/messages", {"body": "x"}).status_code == 404
    assert api.get(f"{THREADS}/{discussion['id']}").data["message_count"] == 0


def test_multi_line_bodies_are_kept(api):
    discussion = api.post(THREADS, {"subject": "S"}).data
    api.post(f"{THREADS}/{discussion['id']}/messages", {"body": "line one\r\nline two"})
    assert api.get(f"{THREADS}/{discussion['id']}").data["messages"][0]["body"] == "line one\r\nline two"


def test_participants_can_be_added_and_removed(api):
    discussion = api.post(THREADS, {"subject": "S"}).data
    added = api.post(f"{THREADS}/{discussion['id']}/participants",
                     {"email": "client@example.com", "name": "Client", "role": "cc"})
    assert added.status_code == 201
    participant = added.data["added"][0]
    assert (participant["email"], participant["role"], participant["recipient_type"]) == \
        ("client@example.com", "cc", "external")
    several = api.post(f"{THREADS}/{discussion['id']}/participants",
                       {"participants": [{"user_id": "user-2"}, {"email": "other@example.com"}]})
    assert len(several.data["added"]) == 2
    removed = api.delete(f"{THREADS}/{discussion['id']}/participants/{participant['id']}")
    assert removed.status_code == 200
    assert "client@example.com" not in [p["email"] for p in removed.data["participants"]]
    assert api.get(f"{THREADS}?participant=client@example.com").data["items"] == []
    assert len(api.get(f"{THREADS}?participant=other@example.com").data["items"]) == 1


def test_participant_errors(api):
    discussion = api.post(THREADS, {"subject": "S", "participants": [{"email": "c@example.com"}]}).data
    path = f"{THREADS}/{discussion['id']}/participants"
    assert api.post(path, {"email": "c@example.com"}).status_code == 409
    assert api.post(path, {"email": "bad"}).data["error"]["field"] == "participants[0].email"
    assert api.post(path, {"participants": []}).status_code == 400
    owner = next(p for p in discussion["participants"] if p["role"] == "owner")
    response = api.delete(f"{path}/{owner['id']}")
    assert response.status_code == 409 and "owner" in response.data["error"]["message"]
    assert api.delete(f"{path}/unknown").status_code == 404
