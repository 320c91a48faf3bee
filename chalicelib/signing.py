"""The one keyed hash of the service: reply keys, tracking ids and unsubscribe links are HMAC-SHA256 under
SIGNING_SECRET. Each use starts its message with its own purpose, so a value made for one can never pass for
another."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from chalicelib.config import settings


def digest(message: bytes) -> bytes:
    return hmac.new(settings().signing_secret.encode(), message, hashlib.sha256).digest()


def digest_of(purpose: str, *parts: str) -> bytes:
    """The digest of `purpose|part|part…` (the parts must not contain `|` ambiguously: ids and addresses)."""
    return digest("|".join((purpose, *parts)).encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _tag(purpose: str, payload: bytes) -> str:
    return _b64(digest(purpose.encode() + b"\x00" + payload)[:18])


def sign_token(purpose: str, values: list[Any]) -> str:
    """A URL-safe token carrying `values` (JSON), readable by anyone, changeable by no one without the secret."""
    payload = json.dumps(values, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_tag(purpose, payload)}"


def verify_token(purpose: str, token: str, max_length: int = 2000) -> list[Any] | None:
    """The values of a genuine token made for `purpose`; None for anything forged, altered, foreign or garbage."""
    if not token or len(token) > max_length or not token.isascii() or token.count(".") != 1:
        return None
    encoded, tag = token.split(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        return None
    if not hmac.compare_digest(tag.encode(), _tag(purpose, payload).encode()):
        return None
    try:
        values = json.loads(payload)
    except ValueError:
        return None
    return values if isinstance(values, list) else None
