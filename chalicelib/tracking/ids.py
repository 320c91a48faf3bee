"""The id of one tracked copy (a message to one recipient): the key of its tracking record, its pixel and links."""
from __future__ import annotations

import hashlib
import re

from chalicelib import signing

TRACKING_ID = re.compile(r"^[0-9a-f]{32}$")

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
