"""The one keyed hash of the service: reply keys, tracking ids and unsubscribe links are HMAC-SHA256 under
SIGNING_SECRET. Each use starts its message with its own purpose, so a value made for one can never pass for
another."""
from __future__ import annotations

import hashlib
import hmac

from chalicelib.config import settings


def digest(message: bytes) -> bytes:
    return hmac.new(settings().signing_secret.encode(), message, hashlib.sha256).digest()


def digest_of(purpose: str, *parts: str) -> bytes:
    """The digest of `purpose|part|part…` (the parts must not contain `|` ambiguously: ids and addresses)."""
    return digest("|".join((purpose, *parts)).encode())
