"""Ids, composite keys and timestamps of the community board, in one place."""
from __future__ import annotations

import secrets

MIN_ID = 10**8
MAX_ID = 2**53 - 1


def new_id() -> int:
    """A random id from 10**8 to 2**53-1 (exact in JavaScript); creation is conditional, so a clash retries."""
    return MIN_ID + secrets.randbelow(MAX_ID - MIN_ID)


def group_key(tenant_id: str, group_id: int) -> str:
    return f"{tenant_id}#{group_id}"


def user_key(tenant_id: str, user_id: int) -> str:
    return f"{tenant_id}#{user_id}"


def business_key(tenant_id: str, business_id: int) -> str:
    return f"{tenant_id}#{business_id}"


def thread_key(tenant_id: str, thread_id: int) -> str:
    return f"{tenant_id}#{thread_id}"


def tag_key(tenant_id: str, tag: str) -> str:
    """A tag's partition of the tag index; tenant ids never contain `#` (chalicelib/auth.py), tags may."""
    return f"{tenant_id}#{tag}"


def target_key(tenant_id: str, kind: str, target_id: int) -> str:
    """The reaction partition of a thread or a reply: kind is `thread` or `message`."""
    return f"{tenant_id}#{kind}#{target_id}"


def activity_key(moment: str, thread_id: int) -> str:
    return f"{moment}#{thread_id:016d}"


def public_time(moment: str | None) -> str | None:
    """The API's timestamp format, as in the seed: 2025-01-15T10:30:00Z (stored values keep microseconds)."""
    return f"{moment[:19]}Z" if moment else None
