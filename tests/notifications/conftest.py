"""Notification test set-up: a tenant that can email, users with addresses and preferences, a movable clock."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib import clock
from tests.community.conftest import Member

SENDER = "hub@acme.example"


class Clock:
    """The service's clock, fixed (2026-11-23 10:00 UTC, a Monday) and moved only by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
        clock.set_clock(lambda: self.now)

    def at(self, text: str) -> None:
        self.now = datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def moment():
    """Every notification test runs on the fixed clock from its first write to its last: nothing is stamped with
    the real date, so no test depends on the day it runs (a fixed clock set half-way, behind real time, would
    put later writes before earlier ones)."""
    moving = Clock()
    yield moving
    clock.reset_clock()


@pytest.fixture
def tenant_admin(client) -> Member:
    return Member(client, 1, ["admin"], email="admin@acme.example")


@pytest.fixture
def mailing(tenant_admin):
    """Email integration on, a verified sender, and addresses for users 101–105."""
    assert tenant_admin.post("/api/tenant/identities", {"identity": "acme.example"}).status_code == 201
    response = tenant_admin.put("/api/tenant/settings/communication", {
        "email_integration_enabled": True, "email_reply_domain": "reply.acme.example", "from_address": SENDER,
        "from_name": "Acme"})
    assert response.status_code == 200, response.data
    for user in range(101, 106):
        assert tenant_admin.put(f"/api/tenant/users/{user}", {"email": f"user{user}@example.com",
                                                             "name": f"User {user}"}).status_code == 200


@pytest.fixture
def prefs(client):
    """Set a user's own preferences through the API."""
    def set_for(user_id: int, **body) -> dict:
        response = Member(client, user_id, []).put("/api/tenant/notifications/preferences", body)
        assert response.status_code == 200, response.data
        return response.data

    return set_for


@pytest.fixture
def tick(client, run_jobs):
    """The hourly schedule, then every job it queued."""
    def run() -> list[str]:
        event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])
        assert client.lambda_.invoke("digest_tick", event).payload == {"shards": 16}
        return run_jobs()

    return run
