"""The board's page cursors: sealed (AES-GCM), so a cursor tells its holder nothing, not even which item it points at.

A list page may have to stop on a thread the caller cannot see (see threads.list_page); a signed but readable
cursor would show that thread's id and time. Sealing also binds the cursor to its query (`scope`, the tenant
and the filters), so it cannot be replayed on another list or by another tenant.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from typing import Any

from chalicelib.community.envelope import FieldError, invalid
from chalicelib.config import settings

_NONCE = 12
MAX_LENGTH = 4096


def _key() -> bytes:
    return hashlib.sha256(b"community-cursor\x00" + settings().cursor_secret.encode()).digest()


def _scope(scope: str) -> bytes:
    return scope.encode("utf-8", "surrogatepass")


def encode(last_evaluated_key: dict[str, Any] | None, scope: str) -> str | None:
    if not last_evaluated_key:
        return None
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE)
    payload = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    sealed = AESGCM(_key()).encrypt(nonce, payload, _scope(scope))
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def decode(cursor: str | None, scope: str) -> dict[str, Any] | None:
    """The position a cursor names; 400 on `Cursor` if it was altered, is foreign to this query or is garbage."""
    if not cursor:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key: Any = None
    if len(cursor) <= MAX_LENGTH and cursor.isascii():
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            if len(raw) > _NONCE:
                key = json.loads(AESGCM(_key()).decrypt(raw[:_NONCE], raw[_NONCE:], _scope(scope)))
        except (InvalidTag, binascii.Error, ValueError):
            key = None
    if not isinstance(key, dict):
        shown = cursor if len(cursor) <= 100 else cursor[:100] + "…"
        raise invalid([FieldError("Cursor", "is invalid or belongs to another query", shown)])
    return key
