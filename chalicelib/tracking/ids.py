"""The id of one tracked copy (a message to one recipient): the key of its tracking record, its pixel and links.

The pixel and the click links of a copy carry, besides its id, what recording a hit in one DynamoDB call needs
without reading anything first (chalicelib/tracking/service.py): the key of the message's counters (discussion key
and message id) and, for a click, the link it stands for. Signed (chalicelib/signing.py, HMAC-SHA256 under
SIGNING_SECRET, the copy's id and the link's index bound in the purpose): readable by anyone, changed by no one.

    pixel  /t/o/{id}.{signed [discussion_key, message_id]}.gif
    click  /t/c/{id}-{index}.{signed [discussion_key, message_id, url]}

Links in mail sent before 2026-12-03 carry the id alone (`/t/o/{id}.gif`, `/t/c/{id}-{index}`) and keep working, at
the cost of a read of the copy; so does a click link whose token would pass MAX_CLICK_TOKEN (a link of about 1,000
characters or more).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from chalicelib import signing

TRACKING_ID = re.compile(r"^[0-9a-f]{32}$")
_PLAIN_CLICK = re.compile(r"^([0-9a-f]{32})-([0-9]{1,4})$")  # ASCII digits: str.isdigit() also takes '²'
# Longer click tokens fall back to the id alone: the whole link stays under 2,000 characters, which every mail client,
# proxy and API Gateway take.
MAX_CLICK_TOKEN = 1500
MAX_PIXEL_NAME = 600

# Counter items per message (its statistics) and per tenant and day (its reputation) that a copy's counts are spread
# over, so that concurrent deliveries rarely meet in one item (docs/email.md, "Hot items").
COUNTER_SHARDS = 16


def tracking_id(tenant_id: str, discussion_id: str, message_id: str, recipient: str) -> str:
    """128 bits derived from a secret: unguessable, and the same for a retry, so a copy is claimed once."""
    return signing.digest_of("pixel", tenant_id, discussion_id, message_id, recipient.lower())[:16].hex()


def copy_shard(pixel_id: str) -> str:
    """The counter shard of a copy ("00" to "15"): a stable hash of its tracking pixel id, so every count of one copy
    lands in the same item and the copies of a message, or of a tenant's day, spread evenly over COUNTER_SHARDS."""
    return f"{int.from_bytes(hashlib.sha256(pixel_id.encode()).digest()[:4], 'big') % COUNTER_SHARDS:02d}"


@dataclass(frozen=True)
class Hit:
    """What a pixel or click link names: the copy, the key of its message's counters (None: a link that carries the
    id alone) and, for a click, the index of the link and the link itself (None: id alone)."""
    copy_id: str
    message: tuple[str, str] | None = None   # (discussion_key, message_id)
    index: int = -1
    url: str | None = None


def pixel_name(copy_id: str, discussion_key: str, message_id: str) -> str:
    """The copy's pixel file name without `.gif` (the id alone past MAX_PIXEL_NAME: a tenant id of hundreds of
    characters)."""
    name = f"{copy_id}.{signing.sign_token(f'open|{copy_id}', [discussion_key, message_id])}"
    return name if len(name) <= MAX_PIXEL_NAME else copy_id


def click_token(copy_id: str, discussion_key: str, message_id: str, index: int, url: str) -> str:
    plain = f"{copy_id}-{index}"
    token = f"{plain}.{signing.sign_token(f'click|{plain}', [discussion_key, message_id, url])}"
    return token if len(token) <= MAX_CLICK_TOKEN else plain


def _message(values: list | None, count: int) -> list[str] | None:
    if values is None or len(values) != count or not all(isinstance(value, str) and value for value in values):
        return None
    return values


def read_pixel(name: str) -> Hit | None:
    """The hit a pixel file name (without `.gif`) stands for; None for anything we did not make."""
    if not name or len(name) > MAX_PIXEL_NAME:
        return None
    copy_id, dot, signed = name.partition(".")
    copy_id = copy_id.lower()
    if not TRACKING_ID.match(copy_id):
        return None
    if not dot:
        return Hit(copy_id)
    values = _message(signing.verify_token(f"open|{copy_id}", signed, max_length=MAX_PIXEL_NAME), 2)
    return Hit(copy_id, (values[0], values[1])) if values else None


def read_click(token: str) -> Hit | None:
    """The hit a click token stands for; None for anything we did not make (no redirect)."""
    if not token or len(token) > MAX_CLICK_TOKEN:
        return None
    plain, dot, signed = token.partition(".")
    matched = _PLAIN_CLICK.match(plain.lower())
    if not matched:
        return None
    copy_id, index = matched.group(1), int(matched.group(2))
    if not dot:
        return Hit(copy_id, index=index)
    values = _message(signing.verify_token(f"click|{plain.lower()}", signed, max_length=MAX_CLICK_TOKEN), 3)
    return Hit(copy_id, (values[0], values[1]), index, values[2]) if values else None
