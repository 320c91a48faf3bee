"""Community board test set-up: members with integer user ids and roles, and a runner for queued jobs."""
from __future__ import annotations

import json

import pytest

from chalicelib.auth import issue_local_token
from tests.conftest import JWT_SECRET

THREADS = "/api/community/communitythreads"
MESSAGES = "/api/community/communitymessages"
GROUPS = "/api/community/communitygroups"
MEMBER_ROLES = ["CommunityThread-Create", "CommunityThread-Read", "CommunityThread-Update",
                "CommunityThread-Delete", "CommunityMessage-Create", "CommunityMessage-Read",
                "CommunityMessage-Update", "CommunityMessage-Delete", "CommunityGroup-Read"]


class Member:
    """One signed-in user of the board: JSON calls through chalice.test.Client."""

    def __init__(self, client, user_id: int | str, roles: list[str], tenant_id: str = "tenant-a",
                 email: str | None = None, claims: dict | None = None) -> None:
        self.client = client
        self.user_id = user_id
        token = issue_local_token(tenant_id, str(user_id), roles, JWT_SECRET, email=email, extra=claims)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None, raw: bytes | None = None):
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        response = self.client.http.request(method, path, headers=self.headers, body=payload)
        response.data = json.loads(response.body) if response.body else None
        return response

    def get(self, path: str):
        return self.call("GET", path)

    def post(self, path: str, body: object = None, raw: bytes | None = None):
        return self.call("POST", path, body if body is not None else {}, raw)

    def put(self, path: str, body: object):
        return self.call("PUT", path, body)

    def delete(self, path: str):
        return self.call("DELETE", path)

    def new_thread(self, **fields) -> int:
        body = {"BusinessId": 1, "UserId": self.user_id, "Subject": "Hello", "Message": "First post", **fields}
        response = self.post(THREADS, body)
        assert response.status_code == 200, response.data
        return response.data["Value"]["Id"]

    def reply(self, thread_id: int, message: str = "A reply", **fields) -> int:
        response = self.post(MESSAGES, {"CommunityThreadId": thread_id, "UserId": self.user_id, "Message": message,
                                        **fields})
        assert response.status_code == 200, response.data
        return response.data["Value"]["Id"]


@pytest.fixture
def member(client):
    def make(user_id: int | str, roles: list[str] | None = None, **kwargs) -> Member:
        return Member(client, user_id, MEMBER_ROLES if roles is None else roles, **kwargs)

    return make


@pytest.fixture
def admin(client) -> Member:
    return Member(client, 1, ["admin"], email="admin@example.com")


def notifications_of(client, user_id: int, tenant_id: str = "tenant-a") -> list[dict]:
    token = issue_local_token(tenant_id, str(user_id), [], JWT_SECRET)
    response = client.http.get("/api/tenant/notifications?limit=100", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.body
    return json.loads(response.body)["items"]
