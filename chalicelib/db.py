"""DynamoDB plumbing shared by every feature: table naming, the connection, transactions, sealed page cursors."""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings
from chalicelib.errors import ValidationError

if TYPE_CHECKING:
    from pynamodb.attributes import Attribute
    from pynamodb.connection import Connection
    from pynamodb.expressions.update import Action
    from pynamodb.transactions import TransactWrite


def table_name(short_name: str) -> str:
    return settings().table_name(short_name)


def table_meta(short_name: str) -> Any:  # PynamoDB types a Model's Meta as a protocol; this class satisfies it
    """A PynamoDB `Meta` for one of our tables: stage-prefixed name, region, on-demand billing."""
    return type("Meta", (), {"table_name": table_name(short_name), "region": settings().region,
                             "billing_mode": "PAY_PER_REQUEST"})


@functools.lru_cache(maxsize=1)
def connection() -> Connection:
    from pynamodb.connection import Connection

    # One connection per warm container; PynamoDB honours AWS_ENDPOINT_URL(_DYNAMODB) for moto.
    return Connection(region=settings().region)


def set_or_remove(attribute: Attribute, value: Any) -> Action:
    """SET the attribute to `value`, or REMOVE it when there is none (None, "" or an empty list)."""
    return attribute.remove() if value in (None, "", []) else attribute.set(value)


def transaction(client_request_token: str | None = None) -> TransactWrite:
    from pynamodb.transactions import TransactWrite

    return TransactWrite(connection=connection(), client_request_token=client_request_token)


CURSOR_NONCE_BYTES = 12
MAX_CURSOR_LENGTH = 4096


def _cursor_key() -> bytes:
    return hashlib.sha256(b"cursor\x00" + settings().cursor_secret.encode()).digest()


def encode_cursor(last_evaluated_key: dict[str, Any] | None, scope: str) -> str | None:
    """An opaque page cursor, sealed with AES-GCM and bound to `scope` (tenant and query): it can be neither read
    nor edited nor reused on another list. Sealed, not just signed: a list that skips what its caller may not see
    can stop on such an item, and the cursor must not name it."""
    if not last_evaluated_key:
        return None
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(CURSOR_NONCE_BYTES)
    payload = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    sealed = AESGCM(_cursor_key()).encrypt(nonce, payload, scope.encode("utf-8", "surrogatepass"))
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def decode_cursor(cursor: str | None, scope: str, field: str = "cursor") -> dict[str, Any] | None:
    """The position a cursor names; 400 on `field` if it was altered, is foreign to this query or is garbage."""
    if not cursor:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key: Any = None
    if len(cursor) <= MAX_CURSOR_LENGTH and cursor.isascii():
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            if len(raw) > CURSOR_NONCE_BYTES:
                key = json.loads(AESGCM(_cursor_key()).decrypt(raw[:CURSOR_NONCE_BYTES], raw[CURSOR_NONCE_BYTES:],
                                                                scope.encode("utf-8", "surrogatepass")))
        except (InvalidTag, binascii.Error, ValueError):
            key = None
    if not isinstance(key, dict):
        raise ValidationError("cursor is invalid or belongs to another query", field=field)
    return key


def parse_limit(raw: str | None, default: int = 25, maximum: int = 100, field: str = "limit") -> int:
    if raw is None:  # absent; present but empty is no integer (400), as the document says
        return default
    # ASCII digits only: int() would also take "1_0", " 7 " and other scripts' digits.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
        raise ValidationError(f"{field} must be an integer between 1 and {maximum}", field=field)
    value = int(raw)
    if not 1 <= value <= maximum:
        raise ValidationError(f"{field} must be an integer between 1 and {maximum}", field=field)
    return value
