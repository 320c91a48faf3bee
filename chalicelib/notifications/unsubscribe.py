"""One-click unsubscribe (RFC 8058): a signed link per user that sets their digest frequency to `never`.

The link carries the tenant and user, signed with HMAC-SHA256 under SIGNING_SECRET: a forged or altered
link verifies as nothing and changes nothing. GET only shows a confirmation page (mail scanners fetch
links); the POST — from that page's button, or from the mail client's one-click — unsubscribes.
"""
from __future__ import annotations

import base64
import hmac
import json

from chalicelib import signing
from chalicelib.config import settings


def _mac(payload: bytes) -> str:
    return base64.urlsafe_b64encode(signing.digest(b"unsubscribe\x00" + payload)[:18]).decode().rstrip("=")


def token_for(tenant_id: str, user_id: str) -> str:
    payload = json.dumps([tenant_id, user_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _mac(payload)


def url_for(tenant_id: str, user_id: str) -> str:
    return f"{settings().public_base_url}/u/{token_for(tenant_id, user_id)}"


def verify(token: str) -> tuple[str, str] | None:
    """(tenant_id, user_id) of a genuine token; None for anything else."""
    if not token or len(token) > 1000 or token.count(".") != 1:
        return None
    encoded, signature = token.split(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        return None
    if not hmac.compare_digest(signature.encode(), _mac(payload).encode()):  # bytes: non-ASCII str would raise
        return None
    try:
        tenant_id, user_id = json.loads(payload)
    except (ValueError, TypeError):
        return None
    if not isinstance(tenant_id, str) or not isinstance(user_id, str):
        return None
    return tenant_id, user_id
