"""Tenant isolation: tenant B's token on tenant A's discussion gets 404 on every route and changes nothing."""
from __future__ import annotations

import base64

import pytest

THREADS = "/api/tenant/threads"


@pytest.fixture
def owned(api):
    """A discussion of tenant A with a message, a participant and an attachment."""
    discussion = api.post(THREADS, {"subject": "secret", "initial_message": "confidential", "context_type": "client",
                                    "context_id": "C-1", "participants": [{"email": "c@example.com"}]}).data
    api.post(f"{THREADS}/{discussion['id']}/attachments", {
        "filename": "q.pdf", "content_type": "application/pdf",
        "content_base64": base64.b64encode(b"%PDF-1.4 quote").decode()})
    return api.get(f"{THREADS}/{discussion['id']}").data


def _routes(discussion):
    did = discussion["id"]
    participant = next(p["id"] for p in discussion["participants"] if p["email"] == "c@example.com")
    return [
        ("GET", f"{THREADS}/{did}", None),
        ("POST", f"{THREADS}/{did}/messages", {"body": "intrusion"}),
        ("POST", f"{THREADS}/{did}/participants", {"email": "spy@example.com"}),
        ("DELETE", f"{THREADS}/{did}/participants/{participant}", None),
        ("POST", f"{THREADS}/{did}/attachments", {"filename": "x.pdf", "content_type": "application/pdf",
                                                   "content_base64": base64.b64encode(b"x").decode()}),
        ("GET", f"{THREADS}/{did}/attachments", None),
        ("POST", f"{THREADS}/{did}/archive", None),
        ("POST", f"{THREADS}/{did}/close", None),
        ("POST", f"{THREADS}/{did}/reopen", None),
        ("POST", f"{THREADS}/{did}/read", None),
    ]


def test_another_tenant_gets_404_everywhere_and_nothing_changes(api, make_api, owned):
    intruder = make_api(tenant_id="tenant-b", user_id="user-1", roles=["admin"])
    for method, path, body in _routes(owned):
        response = intruder.call(method, path, body)
        assert response.status_code == 404, (method, path, response.data)
        assert response.data["error"]["code"] == "not_found"
    after = api.get(f"{THREADS}/{owned['id']}").data
    assert after == owned


def test_another_tenant_sees_nothing_in_lists_and_counts(api, make_api, owned):
    intruder = make_api(tenant_id="tenant-b", user_id="user-1")
    assert intruder.get(THREADS).data["items"] == []
    assert intruder.get(f"{THREADS}?participant=c@example.com").data["items"] == []
    assert intruder.get(f"{THREADS}/by-context/client/C-1").data["items"] == []
    assert intruder.get(f"{THREADS}/category-counts").data["total"] == 0
    assert intruder.get(f"{THREADS}/unread-count").data["unread_count"] == 0
    assert api.get(f"{THREADS}/category-counts").data["total"] == 1
