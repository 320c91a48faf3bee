"""Replies on a thread (the `communitymessages`): post, read, list oldest first, edit, delete."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chalicelib import clock, db, ids, jobs
from chalicelib.community import cleanup, keys, tags
from chalicelib.community.access import Viewer
from chalicelib.community.envelope import CommunityError, conflict, forbidden, not_found
from chalicelib.community.mentions import mentioned_ids
from chalicelib.community.models import CommunityMessage, CommunityThread
from chalicelib.community.threads import keep, reaction_keys, reaction_state, remember
from chalicelib.community.threads import load as load_thread
from chalicelib.db import VersionConflict, decode_cursor, encode_cursor, retry_on_conflict
from chalicelib.transactions import Tx

if TYPE_CHECKING:
    from chalicelib.community.schemas import CommunityMessageCreate, CommunityMessageUpdate

ENTITY = "CommunityMessage"
def create(viewer: Viewer, data: CommunityMessageCreate) -> CommunityMessage:
    """A reply from a checked body (chalicelib/community/schemas.py); the route checked the role.

    It moves the thread's activity and, in the same transaction, every tag item of the thread (tags.py); an edit of
    the thread since it was read makes it read again. Replies do not move the thread's revision, so concurrent
    replies do not wait on each other."""
    values = data.values()
    viewer.acting_as(values["UserId"])
    return retry_on_conflict(lambda: _post(viewer, values))


def _post(viewer: Viewer, values: dict[str, Any]) -> CommunityMessage:
    thread_id = values["CommunityThreadId"]
    try:
        thread = load_thread(viewer, thread_id)
    except CommunityError as error:
        if error.status == 404:
            raise not_found("CommunityThread", "CommunityThreadId", thread_id) from None
        raise
    if not viewer.contributes(thread):
        raise forbidden("only members of this conversation's group can reply", "CommunityThreadId")
    tenant_id = viewer.tenant_id
    for _ in range(3):
        now = clock.now_iso()
        reply = CommunityMessage(
            tenant_id, keys.new_id(), thread_id=thread_id, thread_key=keys.thread_key(tenant_id, thread_id),
            user_id=values["UserId"], coworker_id=values["CoworkerId"], message=values["Message"],
            guests=values["Guests"] or None, mentions=mentioned_ids(values["Message"]) or None,
            created_at=now, updated_at=now, updated_by=viewer.name, **thread_scope(viewer, thread))
        reply.created_key = f"{now}#{int(reply.message_id):016d}"
        job = jobs.new_job("community.notify", {
            "tenant_id": tenant_id, "thread_id": thread_id, "message_id": int(reply.message_id),
            "actor": int(reply.user_id), "event_key": ids.new_sortable_id(), "stage": "mentions", "only": None})
        tx = Tx()
        tx.save("reply", reply, condition=CommunityMessage.message_id.does_not_exist())
        activity_key = keys.activity_key(now, thread_id)
        tx.update("thread", CommunityThread(tenant_id, thread_id), [
            CommunityThread.reply_count.add(1), CommunityThread.last_activity_at.set(now),
            CommunityThread.activity_key.set(activity_key)], condition=tags.guard(thread))
        before = tags.Mirror.of(thread)
        tags.write(tx, tenant_id, thread_id, before, replace(before, activity_key=activity_key))
        tx.save("job", job)
        remember(tx, viewer, int(reply.user_id))
        refused = tx.commit().refused
        if "thread" in refused:  # gone (the next attempt answers 404) or edited since read
            raise VersionConflict(f"thread {thread_id}")
        if not refused:
            jobs.dispatch(job)
            return reply
    raise conflict("could not allocate an id; try again", "Id")


def thread_scope(viewer: Viewer, thread: CommunityThread) -> dict[str, Any]:
    """What a reply keeps of its thread for its likes: the location, the group and whether the group is Private (as
    the viewer's check just read it; an administrator's check reads no group: then as the thread last saw it)."""
    group_id = int(thread.group_id) if thread.group_id is not None else None
    group = None if group_id is None or viewer.is_admin else viewer.group(group_id)
    private = group.access_level == "Private" if group is not None else thread.group_private
    return {"thread_business_id": int(thread.business_id), "thread_group_id": group_id,
            "thread_group_private": private if group_id is not None else None}


def load(viewer: Viewer, message_id: int) -> tuple[CommunityMessage, CommunityThread]:
    try:
        reply = CommunityMessage.get(viewer.tenant_id, message_id)
    except CommunityMessage.DoesNotExist:
        raise not_found(ENTITY, attempted=message_id) from None
    return reply, _thread_of(viewer, reply)


def _thread_of(viewer: Viewer, reply: CommunityMessage) -> CommunityThread:
    """The reply's thread, if the viewer may see it; 404 naming the reply otherwise."""
    try:
        return load_thread(viewer, int(reply.thread_id))
    except CommunityError as error:
        if error.status == 404:
            raise not_found(ENTITY, attempted=int(reply.message_id)) from None
        raise


def get(viewer: Viewer, message_id: int) -> dict[str, Any]:
    """The reply and whether the viewer likes it, read in one BatchGetItem; then its thread (and group)."""
    wanted = reaction_keys(viewer, "message", message_id)
    reply, *reactions = db.get_many(CommunityMessage(viewer.tenant_id, message_id), *wanted)
    if reply is None:
        raise not_found(ENTITY, attempted=message_id)
    _thread_of(viewer, reply)
    return {**as_json(reply), **reaction_state("message", reactions)}


def _only_author(viewer: Viewer, reply: CommunityMessage, action: str) -> None:
    if not viewer.is_admin and viewer.member_id != int(reply.user_id):
        raise forbidden(f"only the author or an administrator can {action} this message", "Id")


def update(viewer: Viewer, message_id: int, data: CommunityMessageUpdate) -> CommunityMessage:
    reply, thread = load(viewer, message_id)
    _only_author(viewer, reply, "change")
    values = data.values()
    keep({"UserId": int(reply.user_id), "CommunityThreadId": int(reply.thread_id)}, values)
    now = clock.now_iso()
    actions = [CommunityMessage.updated_at.set(now), CommunityMessage.updated_by.set(viewer.name)]
    before = {*(reply.mentions or []), *(reply.guests or [])}
    mentions = list(reply.mentions or [])
    if "Message" in values:
        mentions = mentioned_ids(values["Message"])
        actions += [CommunityMessage.message.set(values["Message"]),
                    CommunityMessage.mentions.set(mentions) if mentions else CommunityMessage.mentions.remove()]
    guests = list(reply.guests or [])
    if "Guests" in values:
        guests = values["Guests"] or []
        actions.append(CommunityMessage.guests.set(guests) if guests else CommunityMessage.guests.remove())
    if "CoworkerId" in values:
        actions.append(CommunityMessage.coworker_id.set(values["CoworkerId"]) if values["CoworkerId"]
                       else CommunityMessage.coworker_id.remove())
    tx = Tx()
    tx.update("reply", CommunityMessage(viewer.tenant_id, message_id), actions,
              condition=CommunityMessage.message_id.exists())
    newly = [user for user in dict.fromkeys([*mentions, *guests]) if user not in before and user != reply.user_id]
    job = None
    if newly:
        job = jobs.new_job("community.notify", {
            "tenant_id": viewer.tenant_id, "thread_id": int(thread.thread_id), "message_id": message_id,
            "actor": int(reply.user_id), "event_key": ids.new_sortable_id(), "stage": "mentions", "only": newly})
        tx.save("job", job)
    if "reply" in tx.commit().refused:
        raise not_found(ENTITY, attempted=message_id)
    if job is not None:
        jobs.dispatch(job)
    return CommunityMessage.get(viewer.tenant_id, message_id)


def delete(viewer: Viewer, message_id: int) -> CommunityMessage:
    """The reply goes at once; its likes follow in the `community.purge` job."""
    reply, thread = load(viewer, message_id)
    _only_author(viewer, reply, "delete")
    job = jobs.new_job("community.purge", cleanup.reply_payload(viewer.tenant_id, message_id))
    tx = Tx()
    tx.delete("reply", CommunityMessage(viewer.tenant_id, message_id), condition=CommunityMessage.message_id.exists())
    tx.update("thread", CommunityThread(viewer.tenant_id, int(thread.thread_id)),
              [CommunityThread.reply_count.add(-1)], condition=CommunityThread.thread_id.exists())
    tx.save("job", job)
    refused = tx.commit().refused
    if "reply" in refused:
        raise not_found(ENTITY, attempted=message_id)
    if "thread" in refused:  # the thread is being purged; the reply goes with it
        tx = Tx()
        tx.delete("reply", CommunityMessage(viewer.tenant_id, message_id))
        tx.save("job", job)
        tx.commit()
    jobs.dispatch(job)
    return reply


def list_page(viewer: Viewer, thread_id: int, limit: int,
              cursor: str | None) -> tuple[list[CommunityMessage], str | None]:
    """A thread's replies, oldest first: one Query, after one GetItem for the thread's visibility."""
    try:
        load_thread(viewer, thread_id)
    except CommunityError as error:
        if error.status == 404:
            raise not_found("CommunityThread", "CommunityThreadId", thread_id) from None
        raise
    scope = f"{viewer.tenant_id}|replies|{thread_id}"
    results = CommunityMessage.by_thread.query(keys.thread_key(viewer.tenant_id, thread_id), limit=limit,
                                               last_evaluated_key=decode_cursor(cursor, scope, field="Cursor"))
    items = list(results)
    return items, encode_cursor(results.last_evaluated_key, scope)


def as_json(reply: CommunityMessage) -> dict[str, Any]:
    return {
        "Id": int(reply.message_id), "CommunityThreadId": int(reply.thread_id), "UserId": int(reply.user_id),
        "CoworkerId": int(reply.coworker_id) if reply.coworker_id is not None else None, "Message": reply.message,
        "Guests": [int(g) for g in reply.guests or []], "Mentions": [int(m) for m in reply.mentions or []],
        "LikeCount": int(reply.like_count or 0), "CreatedOn": keys.public_time(reply.created_at),
        "UpdatedOn": keys.public_time(reply.updated_at), "UpdatedBy": reply.updated_by,
    }
