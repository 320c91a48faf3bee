"""Fixtures for sending: a tenant with email integration on, a verified sender, and moto's sent mail."""
from __future__ import annotations

import email
from email import policy

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

SENDER = "hub@acme.example"
REPLY_DOMAIN = "reply.acme.example"
THREADS = "/api/tenant/threads"


@pytest.fixture
def admin(make_api):
    return make_api(roles=["admin"])


@pytest.fixture
def enabled(admin):
    # The tenant registers its domain; moto's SES verifies it at once (real SES waits for the DKIM records).
    assert admin.post("/api/tenant/identities", {"identity": "acme.example"}).status_code == 201
    response = admin.call("PUT", "/api/tenant/settings/communication", {
        "email_integration_enabled": True, "email_reply_domain": REPLY_DOMAIN, "from_address": SENDER,
        "from_name": "Acme Events", "email_signature": "Acme Events\nhttps://acme.example"})
    assert response.status_code == 200, response.data
    return response.data


def sent_messages():
    """Every raw message moto's SES accepted, parsed, with its SES id and destinations."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    result = []
    for message in backend.sent_messages:
        parsed = email.message_from_string(message.raw_data, policy=policy.default)
        # moto appends the To/Cc header addresses to the Destinations it was given; real SES delivers to
        # Destinations only, so the first entry is the one recipient this copy went to.
        result.append((message.id, list(message.destinations)[:1], parsed))
    return result


@pytest.fixture
def outbox():
    return sent_messages


@pytest.fixture
def send(api, run_jobs):
    """`POST /api/tenant/threads/{id}/send` as a client calls it (202: queued), then every job it queued, as SQS and
    the jobs Lambda would run them. Returns the 202 answer."""
    def run(discussion_id: str, body: dict | None = None, skip_delays: bool = False) -> dict:
        response = api.post(f"{THREADS}/{discussion_id}/send", body or {})
        assert response.status_code == 202, response.data
        run_jobs(skip_delays=skip_delays)
        return response.data

    return run


def copies(api, discussion_id: str, message_id: str | None = None) -> dict[str, dict]:
    """Each recipient's copy as the tracking API shows it (state, SES Message-ID, …), by recipient address."""
    query = f"?message_id={message_id}" if message_id else ""
    answer = api.get(f"{THREADS}/{discussion_id}/tracking{query}").data
    return {copy["recipient_email"]: copy for copy in answer["recipients"]}
