"""DynamoDB plumbing shared by every feature: table naming, the connection, transactions, signed cursors."""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings
from chalicelib.errors import ValidationError

if TYPE_CHECKING:
    from pynamodb.connection import Connection
    from pynamodb.transactions import TransactWrite


def table_name(short_name: str) -> str:
    return settings().table_name(short_name)


def table_meta(short_name: str) -> type:
    """A PynamoDB `Meta` for one of our tables: stage-prefixed name, region, on-demand billing."""
    return type("Meta", (), {"table_name": table_name(short_name), "region": settings().region,
                             "billing_mode": "PAY_PER_REQUEST"})


@functools.lru_cache(maxsize=1)
def connection() -> Connection:
    from pynamodb.connection import Connection

    # One connection per warm container; PynamoDB honours AWS_ENDPOINT_URL(_DYNAMODB) for moto.
    return Connection(region=settings().region)


def transaction(client_request_token: str | None = None) -> TransactWrite:
    from pynamodb.transactions import TransactWrite

    return TransactWrite(connection=connection(), client_request_token=client_request_token)


def _cursor_signature(payload: bytes, scope: str) -> str:
    key = settings().cursor_secret.encode()
    return hmac.new(key, scope.encode() + b"\x00" + payload, hashlib.sha256).hexdigest()[:32]


def encode_cursor(last_evaluated_key: dict[str, Any] | None, scope: str) -> str | None:
    """An opaque, signed page cursor bound to `scope` (tenant and query): it cannot be edited or reused elsewhere."""
    if not last_evaluated_key:
        return None
    payload = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    token = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{token}.{_cursor_signature(payload, scope)}"


def decode_cursor(cursor: str | None, scope: str, field: str = "cursor") -> dict[str, Any] | None:
    if not cursor:
        return None
    token, _, signature = cursor.partition(".")
    try:
        payload = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        # Bytes, not str: compare_digest raises TypeError on non-ASCII text (a hostile cursor).
        valid = hmac.compare_digest(signature.encode(), _cursor_signature(payload, scope).encode())
        key = json.loads(payload) if valid else None
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, dict):
        raise ValidationError("cursor is invalid or belongs to another query", field=field)
    return key


def parse_limit(raw: str | None, default: int = 25, maximum: int = 100, field: str = "limit") -> int:
    if raw is None or raw == "":
        return default
    # ASCII digits only: int() would also take "1_0", " 7 " and other scripts' digits.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
        raise ValidationError(f"{field} must be an integer between 1 and {maximum}", field=field)
    value = int(raw)
    if not 1 <= value <= maximum:
        raise ValidationError(f"{field} must be an integer between 1 and {maximum}", field=field)
    return value
