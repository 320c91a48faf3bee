"""Threading anchors of outbound mail: our own Message-IDs, SES's rewritten ones, reply keys and subjects.

Three independent anchors bring a reply home (NOTES.md): the reply address `reply+KEY@domain`,
our ids in References, and the SES Message-ID the recipient really saw.
"""
from __future__ import annotations

import base64
import re

from chalicelib import signing
from chalicelib.config import settings

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def reply_key(tenant_id: str, discussion_id: str, recipient: str) -> str:
    """130 bits, lower-case base32: unguessable, stable per recipient, fits an address's local part."""
    digest = signing.digest_of("reply", tenant_id, discussion_id, recipient.lower())
    return base64.b32encode(digest[:17]).decode().lower()[:26]


def reply_address(key: str, domain: str) -> str:
    return f"reply+{key}@{domain}"


def our_message_id(message_id: str, domain: str) -> str:
    return f"<msg.{message_id}@{domain}>"


def ses_message_id_header(ses_message_id: str) -> str:
    return f"<{ses_message_id}@{settings().ses_message_id_domain}>"


def index_key(header_id: str) -> str:
    """The message-id index key: lower-cased, without angle brackets or surrounding space."""
    return header_id.strip().strip("<>").strip().lower()


def subject_for(subject: str, is_reply: bool) -> str:
    base = _REPLY_PREFIX.sub("", subject).strip() or subject.strip()
    return f"Re: {base}" if is_reply else base
