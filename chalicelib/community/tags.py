"""The tag index: each tag of a thread is an item of community-thread-tags, written in the thread's own transactions.

A tag item mirrors what a `?Tag=` page needs to choose threads before reading them: the activity sort key, the
location, the group, whether the thread is Private and who may read it then, and the subject. Every write that
changes any of these — create, edit, reply (activity), delete — puts or deletes the thread's tag items in the same
transaction as the thread, under a condition that the thread is still as it was read (`guard`): the index can never
disagree with the thread. A thread has at most 20 tags (schemas.MAX_TAGS), so the largest such transaction, an edit
replacing every tag, is 44 items of DynamoDB's 100.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.community import keys
from chalicelib.community.models import CommunityThread, CommunityThreadTag
from chalicelib.transactions import Tx


@dataclass(frozen=True)
class Mirror:
    """What the tag items of a thread carry, besides the tag: equal mirrors need no write."""
    tags: frozenset[str]
    activity_key: str
    business_id: int
    group_id: int | None
    private: bool
    readers: frozenset[int]
    subject: str

    @classmethod
    def of(cls, thread: CommunityThread) -> Mirror:
        private = bool(thread.private)
        return cls(frozenset(thread.tag_set or ()), thread.activity_key, int(thread.business_id),
                   int(thread.group_id) if thread.group_id is not None else None, private,
                   frozenset(thread.audience()) if private else frozenset(), thread.subject)


def guard(thread: CommunityThread, *, activity: bool = False) -> Any:
    """The condition on the thread's own write: it exists and no edit (and, with `activity`, no reply) came since
    it was read. A refusal means: read again and recompute (db.retry_on_conflict)."""
    revision = (CommunityThread.revision == int(thread.revision) if thread.revision is not None
                else CommunityThread.revision.does_not_exist())
    condition = CommunityThread.thread_id.exists() & revision
    return condition & (CommunityThread.activity_key == thread.activity_key) if activity else condition


def next_revision(thread: CommunityThread) -> Any:
    return CommunityThread.revision.set(int(thread.revision or 0) + 1)


def write(tx: Tx, tenant_id: str, thread_id: int, before: Mirror | None, after: Mirror | None) -> None:
    """Into `tx`: delete the items of the tags `before` had and `after` has not; put every item of `after` when
    anything they mirror changed (a new thread: `before` None; a deleted one: `after` None)."""
    thread_key = keys.thread_key(tenant_id, thread_id)
    gone = (before.tags if before else frozenset()) - (after.tags if after else frozenset())
    for tag in sorted(gone):
        tx.delete("tag", CommunityThreadTag(thread_key, tag))
    if after is None or after == before:
        return
    for tag in sorted(after.tags):
        tx.save("tag", CommunityThreadTag(
            thread_key, tag, tag_key=keys.tag_key(tenant_id, tag), activity_key=after.activity_key,
            thread_id=thread_id, business_id=after.business_id, group_id=after.group_id, private=after.private,
            readers=set(after.readers) or None, subject=after.subject))

