"""One-click unsubscribe (RFC 8058): a signed link per user that sets their digest frequency to `never`.

The link carries the tenant and user, signed with HMAC-SHA256 under SIGNING_SECRET: a forged or altered
link verifies as nothing and changes nothing. GET only shows a confirmation page (mail scanners fetch
links); the POST — from that page's button, or from the mail client's one-click — unsubscribes.
"""
from __future__ import annotations

from chalicelib import signing
from chalicelib.config import settings


def token_for(tenant_id: str, user_id: str) -> str:
    return signing.sign_token("unsubscribe", [tenant_id, user_id])


def url_for(tenant_id: str, user_id: str) -> str:
    return f"{settings().public_base_url}/u/{token_for(tenant_id, user_id)}"


def verify(token: str) -> tuple[str, str] | None:
    """(tenant_id, user_id) of a genuine token; None for anything else."""
    values = signing.verify_token("unsubscribe", token, max_length=1000)
    if values is None or len(values) != 2 or not all(isinstance(value, str) for value in values):
        return None
    return values[0], values[1]
