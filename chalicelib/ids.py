"""Identifiers: random UUIDs for records, time-ordered ids where the order of creation matters."""
from __future__ import annotations

import secrets
import uuid

from chalicelib import clock


def new_id() -> str:
    return str(uuid.uuid4())


def new_sortable_id() -> str:
    """48 bits of milliseconds then 80 random bits, as hex: sorts by creation time, never collides in practice."""
    millis = int(clock.now().timestamp() * 1000)
    return f"{millis:012x}{secrets.token_hex(10)}"


def new_short_id() -> str:
    return secrets.token_hex(6)


def sortable_id_for(moment_iso: str, key: str) -> str:
    """A time-ordered id that is the same for the same moment and key: for notifications of retried events."""
    import hashlib
    from datetime import datetime

    millis = int(datetime.fromisoformat(moment_iso.replace("Z", "+00:00")).timestamp() * 1000)
    return f"{millis:012x}{hashlib.sha256(key.encode()).hexdigest()[:20]}"
