"""The id of one tracked copy (a message to one recipient): the key of its tracking record, its pixel and links."""
from __future__ import annotations

import re

from chalicelib import signing

TRACKING_ID = re.compile(r"^[0-9a-f]{32}$")


def tracking_id(tenant_id: str, discussion_id: str, message_id: str, recipient: str) -> str:
    """128 bits derived from a secret: unguessable, and the same for a retry, so a copy is claimed once."""
    return signing.digest_of("pixel", tenant_id, discussion_id, message_id, recipient.lower())[:16].hex()
