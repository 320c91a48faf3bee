"""Community threads: create, read, list, update, delete — each a few DynamoDB calls, whatever the board's size."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import clock, db, ids, jobs
from chalicelib.community import cleanup, keys, tags
from chalicelib.community.access import Viewer
from chalicelib.community.envelope import CommunityError, FieldError, conflict, forbidden, invalid, not_found
from chalicelib.community.mentions import mentioned_ids
from chalicelib.community.models import CommunityGroup, CommunityReaction, CommunityThread, CommunityThreadTag
from chalicelib.db import VersionConflict, decode_cursor, encode_cursor, retry_on_conflict
from chalicelib.transactions import Tx

if TYPE_CHECKING:
    from chalicelib.community.schemas import CommunityThreadCreate, CommunityThreadUpdate

ENTITY = "CommunityThread"
LIST_BUDGET = 400  # items a list request may examine to fill one page of visible threads
QUERY_CHUNK = 100  # items per Query after the first: at most 1 + LIST_BUDGET / QUERY_CHUNK Queries a page
TAG_PAGE_ITEMS = 100  # tag items the one Query of a `?Tag=` page reads, at least PageSize + 1
MAX_TAG = 50  # schemas.MAX_TAG: a longer tag names no thread


def keep(current: dict[str, int], values: dict[str, Any]) -> None:
    """Fields that cannot change once written: sending another value conflicts with the record (409)."""
    changed = [FieldError(name, "cannot be changed", values[name]) for name, value in current.items()
               if values.get(name) is not None and values[name] != value]
    if changed:
        raise CommunityError(409, changed)


def _check_group(viewer: Viewer, group_id: int, business_id: int) -> CommunityGroup:
    group = viewer.group(group_id)
    if group is None or not viewer.sees_group(group):
        raise not_found("CommunityGroup", "CommunityGroupId", group_id)
    if int(group.business_id) != business_id:
        raise invalid([FieldError("CommunityGroupId", "belongs to another location (BusinessId)", group_id)])
    if not viewer.contributes_to(group):
        raise forbidden(f"only members of the {group.access_level} group can post in it", "CommunityGroupId")
    return group


def _notify_job(tenant_id: str, thread_id: int, actor: int, *, message_id: int | None = None,
                only: list[int] | None = None) -> jobs.JobRecord:
    return jobs.new_job("community.notify", {
        "tenant_id": tenant_id, "thread_id": thread_id, "message_id": message_id, "actor": actor,
        "event_key": ids.new_sortable_id(), "stage": "mentions", "only": only})


def create(viewer: Viewer, data: CommunityThreadCreate) -> CommunityThread:
    """A new thread from a checked body (chalicelib/community/schemas.py); the route checked the role."""
    values = data.values()
    viewer.acting_as(values["UserId"])
    if not viewer.in_business(values["BusinessId"]):
        raise forbidden("is not a location you belong to", "BusinessId")
    group_id = values["CommunityGroupId"]
    group = _check_group(viewer, group_id, values["BusinessId"]) if group_id is not None else None
    tenant_id = viewer.tenant_id
    for _ in range(3):  # a clash of random ids is astronomically rare, but handled
        now = clock.now_iso()
        thread = CommunityThread(
            tenant_id, keys.new_id(), business_id=values["BusinessId"],
            business_key=keys.business_key(tenant_id, values["BusinessId"]), group_id=group_id,
            group_key=keys.group_key(tenant_id, group_id) if group_id is not None else None,
            group_private=group.access_level == "Private" if group is not None else None,
            user_id=values["UserId"], coworker_id=values["CoworkerId"], subject=values["Subject"],
            subject_folded=values["Subject"].lower(), message=values["Message"], tags=values["Tags"],
            tag_set=data.tag_set(),
            private=bool(values["Private"]), guests=values["Guests"] or None,
            mentions=mentioned_ids(values["Message"]) or None, instant_delivery=bool(values["InstantDelivery"]),
            include_zoom_invite=bool(values["IncludeZoomInvite"]), zoom_event_data=values["ZoomEventData"],
            follower_count=1, created_at=now, updated_at=now, updated_by=viewer.name, last_activity_at=now)
        thread.activity_key = keys.activity_key(now, int(thread.thread_id))
        job = _notify_job(tenant_id, int(thread.thread_id), int(thread.user_id))
        tx = Tx()
        tx.save("thread", thread, condition=CommunityThread.thread_id.does_not_exist())
        tx.save("follow", CommunityReaction(keys.target_key(tenant_id, "thread", int(thread.thread_id)),
                                            f"follow#{thread.user_id}", user_id=thread.user_id, created_at=now))
        tx.save("job", job)
        tags.write(tx, tenant_id, int(thread.thread_id), None, tags.Mirror.of(thread))
        if group_id is not None:
            tx.update("group", CommunityGroup(tenant_id, group_id), [CommunityGroup.thread_count.add(1)],
                      condition=CommunityGroup.group_id.exists())
        remember(tx, viewer, int(thread.user_id))
        refused = tx.commit().refused
        if "group" in refused:
            raise not_found("CommunityGroup", "CommunityGroupId", group_id)
        if not refused:
            jobs.dispatch(job)
            return thread
    raise conflict("could not allocate an id; try again", "Id")


def remember(tx: Tx, viewer: Viewer, user_id: int) -> None:
    from chalicelib.users import service as users

    if viewer.member_id == user_id:
        tx.raw("profile", lambda t: users.remember_in(t, viewer.principal, viewer.principal.user_id), "update")


def load(viewer: Viewer, thread_id: int, action: str = "Read") -> CommunityThread:
    """A thread the viewer may see; 404 otherwise (an invisible thread is indistinguishable from none)."""
    try:
        thread = CommunityThread.get(viewer.tenant_id, thread_id)
    except CommunityThread.DoesNotExist:
        raise not_found(ENTITY, attempted=thread_id) from None
    return visible(viewer, thread, thread_id)


def visible(viewer: Viewer, thread: CommunityThread | None, thread_id: int) -> CommunityThread:
    """The thread as read, if the viewer may see it; 404 otherwise."""
    if thread is None or not viewer.sees(thread):
        raise not_found(ENTITY, attempted=thread_id)
    return thread


def get(viewer: Viewer, thread_id: int) -> dict[str, Any]:
    """The thread and whether the viewer likes and follows it, read in one BatchGetItem (then its group)."""
    wanted = reaction_keys(viewer, "thread", thread_id)
    thread, *reactions = db.get_many(CommunityThread(viewer.tenant_id, thread_id), *wanted)
    return {**as_json(visible(viewer, thread, thread_id)), **reaction_state("thread", reactions)}


def reaction_keys(viewer: Viewer, kind: str, target_id: int) -> list[CommunityReaction]:
    """The viewer's like (and, on a thread, follow) of the target, by key: to read with the target in one call."""
    if viewer.member_id is None:
        return []
    target = keys.target_key(viewer.tenant_id, kind, target_id)
    names = ("like", "follow") if kind == "thread" else ("like",)
    return [CommunityReaction(target, f"{name}#{viewer.member_id}") for name in names]


def reaction_state(kind: str, found: list[CommunityReaction | None]) -> dict[str, bool]:
    """`Liked` (and `Following`) from the items `reaction_keys` named, as read ([] for a caller without an id)."""
    result = {"Liked": bool(found) and found[0] is not None}
    if kind == "thread":
        result["Following"] = len(found) > 1 and found[1] is not None
    return result


def _only_author(viewer: Viewer, thread: CommunityThread, action: str) -> None:
    if not viewer.is_admin and viewer.member_id != int(thread.user_id):
        raise forbidden(f"only the author or an administrator can {action} this conversation", "Id")


_SIMPLE_FIELDS: dict[str, Any] = {"Subject": CommunityThread.subject, "Message": CommunityThread.message,
                  "CoworkerId": CommunityThread.coworker_id, "InstantDelivery": CommunityThread.instant_delivery,
                  "Private": CommunityThread.private, "IncludeZoomInvite": CommunityThread.include_zoom_invite,
                  "ZoomEventData": CommunityThread.zoom_event_data, "Tags": CommunityThread.tags,
                  "Guests": CommunityThread.guests}
_FLAGS = ("InstantDelivery", "Private", "IncludeZoomInvite")


def _field_actions(values: dict[str, Any]) -> list[Any]:
    """SET (or REMOVE, for an emptied value) of each field that maps one to one onto an attribute."""
    actions = []
    for name, attribute in _SIMPLE_FIELDS.items():
        if name in values:
            value = bool(values[name]) if name in _FLAGS else values[name]
            actions.append(attribute.remove() if value in (None, []) else attribute.set(value))
    if values.get("Subject"):
        actions.append(CommunityThread.subject_folded.set(values["Subject"].lower()))
    return actions


def _move_group(viewer: Viewer, thread: CommunityThread, values: dict[str, Any], tx: Tx) -> list[Any]:
    """A change of CommunityGroupId: the thread's own actions; both groups' thread counts go into `tx`."""
    old_group = int(thread.group_id) if thread.group_id is not None else None
    if "CommunityGroupId" not in values or values["CommunityGroupId"] == old_group:
        return []
    new_group = values["CommunityGroupId"]
    tenant_id = viewer.tenant_id
    if new_group is not None:
        group = _check_group(viewer, new_group, int(thread.business_id))
        actions = [CommunityThread.group_id.set(new_group),
                   CommunityThread.group_key.set(keys.group_key(tenant_id, new_group)),
                   CommunityThread.group_private.set(group.access_level == "Private")]
        tx.update("group", CommunityGroup(tenant_id, new_group), [CommunityGroup.thread_count.add(1)],
                  condition=CommunityGroup.group_id.exists())
    else:
        actions = [CommunityThread.group_id.remove(), CommunityThread.group_key.remove(),
                   CommunityThread.group_private.remove()]
    if old_group is not None:
        tx.update("old_group", CommunityGroup(tenant_id, old_group), [CommunityGroup.thread_count.add(-1)])
    return actions


def _edited(thread: CommunityThread, values: dict[str, Any], tag_set: set[str] | None,
            mentions: list[int]) -> CommunityThread:
    """The thread as the edit leaves it, in what the tag items mirror (tags.Mirror)."""
    after = CommunityThread.from_raw_data(thread.serialize())
    after.tag_set = tag_set
    after.subject = values.get("Subject") or thread.subject
    after.group_id = values.get("CommunityGroupId", thread.group_id)
    after.private = bool(values.get("Private", thread.private))
    after.guests = values.get("Guests", thread.guests) or None
    after.mentions = mentions or None
    return after


def update(viewer: Viewer, thread_id: int, data: CommunityThreadUpdate) -> CommunityThread:
    """Read, compute and write under tags.guard; a concurrent edit or reply makes it read again."""
    return retry_on_conflict(lambda: _update_once(viewer, thread_id, data))


def _update_once(viewer: Viewer, thread_id: int, data: CommunityThreadUpdate) -> CommunityThread:
    thread = load(viewer, thread_id)
    _only_author(viewer, thread, "change")
    values = data.values()
    keep({"UserId": int(thread.user_id), "BusinessId": int(thread.business_id)}, values)
    tenant_id = viewer.tenant_id
    now = clock.now_iso()
    actions = [CommunityThread.updated_at.set(now), CommunityThread.updated_by.set(viewer.name)]
    actions += _field_actions(values)
    tag_set = data.tag_set() if "Tags" in values else thread.tag_set
    if "Tags" in values:
        actions.append(CommunityThread.tag_set.set(tag_set) if tag_set else CommunityThread.tag_set.remove())
    include_zoom = values.get("IncludeZoomInvite", thread.include_zoom_invite)
    zoom_data = values["ZoomEventData"] if "ZoomEventData" in values else thread.zoom_event_data
    if include_zoom and not zoom_data:
        # The thread as it stands has no meeting: a conflict with its state, not a malformed request.
        raise conflict("is required when IncludeZoomInvite is true", "ZoomEventData")
    before = thread.audience()
    mentions = mentioned_ids(values["Message"]) if "Message" in values else list(thread.mentions or [])
    if "Message" in values:
        actions.append(CommunityThread.mentions.set(mentions) if mentions else CommunityThread.mentions.remove())
    tx = Tx()
    actions += _move_group(viewer, thread, values, tx)
    mirrored, edited = tags.Mirror.of(thread), tags.Mirror.of(_edited(thread, values, tag_set, mentions))
    if edited != mirrored:
        actions.append(tags.next_revision(thread))
    tx.update("thread", CommunityThread(tenant_id, thread_id), actions, condition=tags.guard(thread, activity=True))
    tags.write(tx, tenant_id, thread_id, mirrored, edited)
    guests = values["Guests"] if "Guests" in values else list(thread.guests or [])
    newly_addressed = [user for user in dict.fromkeys([*mentions, *(guests or [])])
                       if user not in before and user != int(thread.user_id)]
    job = None
    if newly_addressed:
        job = _notify_job(tenant_id, thread_id, viewer.member_id or int(thread.user_id), only=newly_addressed)
        tx.save("job", job)
    refused = tx.commit().refused
    if "thread" in refused:  # gone (the next attempt answers 404) or changed since read
        raise VersionConflict(f"thread {thread_id}")
    if "group" in refused:
        raise not_found("CommunityGroup", "CommunityGroupId", values.get("CommunityGroupId"))
    if job is not None:
        jobs.dispatch(job)
    return CommunityThread.get(tenant_id, thread_id)


def delete(viewer: Viewer, thread_id: int) -> CommunityThread:
    """The thread and its tag items go at once (an edit since it was read makes it read again); the rest follows in
    the `community.purge` job."""
    return retry_on_conflict(lambda: _delete_once(viewer, thread_id))


def _delete_once(viewer: Viewer, thread_id: int) -> CommunityThread:
    thread = load(viewer, thread_id)
    _only_author(viewer, thread, "delete")
    job = jobs.new_job("community.purge", cleanup.thread_payload(viewer.tenant_id, thread_id))
    group_id = int(thread.group_id) if thread.group_id is not None else None
    for with_group in (True, False):  # the group went first: delete the thread alone
        tx = Tx()
        tx.delete("thread", CommunityThread(viewer.tenant_id, thread_id), condition=tags.guard(thread))
        tags.write(tx, viewer.tenant_id, thread_id, tags.Mirror.of(thread), None)
        tx.save("job", job)
        if with_group and group_id is not None:
            tx.update("group", CommunityGroup(viewer.tenant_id, group_id), [CommunityGroup.thread_count.add(-1)],
                      condition=CommunityGroup.group_id.exists())
        refused = tx.commit().refused
        if "thread" in refused:  # gone (the next attempt answers 404) or edited since read
            raise VersionConflict(f"thread {thread_id}")
        if "group" not in refused:
            break
    jobs.dispatch(job)
    return thread


@dataclass
class ListFilter:
    business_id: int | None = None
    group_id: int | None = None
    tag: str | None = None
    text: str | None = None

    def matches(self, thread: CommunityThread | CommunityThreadTag) -> bool:
        """Whether a thread, or the tag item of one, passes the filters (the index queried may have applied some)."""
        if self.business_id is not None and int(thread.business_id) != self.business_id:
            return False
        if self.group_id is not None and thread.group_id != self.group_id:
            return False
        tags = {thread.tag} if isinstance(thread, CommunityThreadTag) else thread.tag_set or set()
        if self.tag and self.tag not in tags:
            return False
        return not self.text or self.text in thread.subject.lower()

    def scope(self, tenant_id: str) -> str:
        return f"{tenant_id}|threads|{self.business_id}|{self.group_id}|{self.tag}|{self.text}"


def list_page(viewer: Viewer, filters: ListFilter, limit: int,
              cursor: str | None) -> tuple[list[CommunityThread], str | None]:
    """Newest activity first, only threads the viewer may see: a page is at most five Queries on one index
    partition (and a BatchGet of groups per Query), whatever the size of the board; a `?Subject=` page one Query
    (`_text_page`).

    Invisible threads are skipped before a page is cut, and the cursor points after the last thread shown.
    When LIST_BUDGET items were examined without filling the page, the page ends early with a cursor at the
    last item examined; cursors are sealed, so that item — possibly invisible — is never revealed.
    """
    tenant_id = viewer.tenant_id
    if filters.group_id is not None:
        group = viewer.group(filters.group_id)
        if group is None or not viewer.sees_group(group):
            return [], None
    if filters.tag:
        return _tag_page(viewer, filters, limit, cursor)
    index, hash_key, hash_name = _index_of(tenant_id, filters)
    scope = filters.scope(tenant_id)
    start = decode_cursor(cursor, scope, field="Cursor")
    if filters.text:
        return _text_page(viewer, filters, limit, (index, hash_key, hash_name), start, scope)
    shown: list[CommunityThread] = []
    examined = 0
    chunk = min(QUERY_CHUNK, limit + 1)  # the common case, everything visible, is one Query
    while True:
        results = index.query(hash_key, scan_index_forward=False, limit=chunk, last_evaluated_key=start)
        page = list(results)
        examined += len(page)
        viewer.load(int(t.group_id) for t in page if t.group_id is not None)
        for thread in page:
            if filters.matches(thread) and viewer.sees(thread):
                if len(shown) == limit:  # one more visible thread exists: there is a next page
                    return shown, encode_cursor(_key_of(shown[-1], hash_name), scope)
                shown.append(thread)
        start = results.last_evaluated_key
        if not start:
            return shown, None
        if examined >= LIST_BUDGET:
            return shown, encode_cursor(start, scope)
        chunk = QUERY_CHUNK


def _index_of(tenant_id: str, filters: ListFilter) -> tuple[Any, str, str | None]:
    """The index partition a list reads: the group's, the location's, or the whole board's."""
    if filters.group_id is not None:
        return CommunityThread.by_group, keys.group_key(tenant_id, filters.group_id), "group_key"
    if filters.business_id is not None:
        return CommunityThread.by_business, keys.business_key(tenant_id, filters.business_id), "business_key"
    return CommunityThread.by_activity, tenant_id, None


def _text_page(viewer: Viewer, filters: ListFilter, limit: int, where: tuple[Any, str, str | None],
               start: dict[str, Any] | None, scope: str) -> tuple[list[CommunityThread], str | None]:
    """A `?Subject=` page: one Query of LIST_BUDGET items (or DynamoDB's 1 MB), filtered by DynamoDB on the folded
    subject — a substring no index can serve — so that only matches come back, then the visibility rules. Threads
    written before `subject_folded` pass DynamoDB's filter and are matched here. Fewer than PageSize visible matches
    in the items read: the page ends early, with a sealed cursor where the Query stopped (as every list's budget)."""
    index, hash_key, hash_name = where
    text = filters.text or ""
    maybe = CommunityThread.subject_folded.contains(text) | CommunityThread.subject_folded.does_not_exist()
    results = index.query(hash_key, scan_index_forward=False, filter_condition=maybe, page_size=LIST_BUDGET,
                          last_evaluated_key=start)
    page = [CommunityThread.from_raw_data(item) for item in next(results.page_iter).get("Items", [])]
    viewer.load(int(t.group_id) for t in page if t.group_id is not None)
    shown: list[CommunityThread] = []
    for thread in page:
        if filters.matches(thread) and viewer.sees(thread):
            if len(shown) == limit:  # one more visible thread exists: there is a next page
                return shown, encode_cursor(_key_of(shown[-1], hash_name), scope)
            shown.append(thread)
    stopped = results.page_iter.last_evaluated_key
    return shown, encode_cursor(stopped, scope) if stopped else None


def _tag_page(viewer: Viewer, filters: ListFilter, limit: int,
              cursor: str | None) -> tuple[list[CommunityThread], str | None]:
    """A `?Tag=` page: one Query of the tag's items (which carry what the filters and the visibility rules need),
    then one BatchGet of the threads shown, each checked again as read (the index lags its table by a moment).

    The Query reads TAG_PAGE_ITEMS items; when fewer than PageSize of them are visible, the page ends early with a
    sealed cursor at the last item read, as the budget of the other lists does."""
    tag = filters.tag or ""
    if len(tag) > MAX_TAG:
        return [], None
    scope = filters.scope(viewer.tenant_id)
    results = CommunityThreadTag.by_tag.query(
        keys.tag_key(viewer.tenant_id, tag), scan_index_forward=False, limit=max(limit + 1, TAG_PAGE_ITEMS),
        last_evaluated_key=decode_cursor(cursor, scope, field="Cursor"))
    items = list(results)
    viewer.load(int(item.group_id) for item in items if item.group_id is not None)
    chosen = [item for item in items if filters.matches(item) and viewer.sees(item)]
    shown = chosen[:limit]
    found = {int(thread.thread_id): thread
             for thread in CommunityThread.batch_get([(viewer.tenant_id, int(item.thread_id)) for item in shown],
                                                     consistent_read=True)}
    page = [found[int(item.thread_id)] for item in shown if int(item.thread_id) in found]
    page = [thread for thread in page if filters.matches(thread) and viewer.sees(thread)]
    if len(chosen) > limit:
        last = shown[-1]
        return page, encode_cursor({"thread_key": {"S": last.thread_key}, "tag": {"S": last.tag},
                                    "tag_key": {"S": last.tag_key}, "activity_key": {"S": last.activity_key}}, scope)
    return page, encode_cursor(results.last_evaluated_key, scope)


def _key_of(thread: CommunityThread, hash_name: str | None) -> dict[str, Any]:
    key = {"tenant_id": {"S": thread.tenant_id}, "thread_id": {"N": str(int(thread.thread_id))},
           "activity_key": {"S": thread.activity_key}}
    if hash_name:
        key[hash_name] = {"S": getattr(thread, hash_name)}
    return key


def as_json(thread: CommunityThread) -> dict[str, Any]:
    return {
        "Id": int(thread.thread_id), "BusinessId": int(thread.business_id), "UserId": int(thread.user_id),
        "CoworkerId": _int(thread.coworker_id), "CommunityGroupId": _int(thread.group_id),
        "Subject": thread.subject, "Message": thread.message, "Tags": thread.tags,
        "Private": bool(thread.private), "Guests": [int(g) for g in thread.guests or []],
        "Mentions": [int(m) for m in thread.mentions or []], "InstantDelivery": bool(thread.instant_delivery),
        "IncludeZoomInvite": bool(thread.include_zoom_invite), "ZoomEventData": thread.zoom_event_data,
        "ReplyCount": int(thread.reply_count or 0), "LikeCount": int(thread.like_count or 0),
        "FollowerCount": int(thread.follower_count or 0),
        "LastActivityOn": keys.public_time(thread.last_activity_at),
        "CreatedOn": keys.public_time(thread.created_at), "UpdatedOn": keys.public_time(thread.updated_at),
        "UpdatedBy": thread.updated_by,
    }


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None
