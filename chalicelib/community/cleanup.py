"""Job: what a deleted thread, reply or group leaves behind (replies, likes, follows, memberships), a page per run.

A delete request removes the record itself in one transaction, with the job record, and answers at once; the
leftovers of any size go here, so no request does work that grows with the board. Every step is idempotent.
"""
from __future__ import annotations

from typing import Any

from chalicelib.community import keys
from chalicelib.community.models import CommunityGroupMember, CommunityMessage, CommunityReaction

REPLIES_PER_RUN = 25
ITEMS_PER_QUERY = 100


def thread_payload(tenant_id: str, thread_id: int) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "thread_id": thread_id}


def reply_payload(tenant_id: str, message_id: int) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "message_id": message_id}


def group_payload(tenant_id: str, group_id: int) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "group_id": group_id}


def run(payload: dict[str, Any]) -> dict[str, Any] | None:
    """One run; returns the continuation payload, or None when nothing is left."""
    tenant_id = payload["tenant_id"]
    if payload.get("group_id") is not None:
        return payload if _members(tenant_id, int(payload["group_id"])) else None
    if payload.get("message_id") is not None:
        return payload if _reactions(tenant_id, "message", int(payload["message_id"])) else None
    return payload if _thread(tenant_id, int(payload["thread_id"])) else None


def _reactions(tenant_id: str, kind: str, target_id: int) -> bool:
    """Delete a page of a thread's or reply's likes and follows; True if more may remain."""
    page = list(CommunityReaction.query(keys.target_key(tenant_id, kind, target_id), limit=ITEMS_PER_QUERY))
    with CommunityReaction.batch_write() as batch:
        for reaction in page:
            batch.delete(reaction)
    return len(page) == ITEMS_PER_QUERY


def _thread(tenant_id: str, thread_id: int) -> bool:
    replies = list(CommunityMessage.by_thread.query(keys.thread_key(tenant_id, thread_id), limit=REPLIES_PER_RUN))
    # A reply goes once its reactions are gone, so a rerun always finds what is left of it.
    done = [reply for reply in replies if not _reactions(tenant_id, "message", int(reply.message_id))]
    with CommunityMessage.batch_write() as batch:
        for reply in done:
            batch.delete(reply)
    if replies:
        return True
    return _reactions(tenant_id, "thread", thread_id)


def _members(tenant_id: str, group_id: int) -> bool:
    page = list(CommunityGroupMember.query(keys.group_key(tenant_id, group_id), limit=ITEMS_PER_QUERY))
    with CommunityGroupMember.batch_write() as batch:
        for member in page:
            batch.delete(member)
    return len(page) == ITEMS_PER_QUERY
