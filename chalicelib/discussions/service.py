"""The rules of discussions: create, list, read, add messages and participants, lifecycle, counts.

Every change to a discussion goes through `_commit`: one DynamoDB transaction that writes the
discussion under an optimistic version check together with every counter and membership item the
change moves. Counters are derived from the state before and after the change, so they cannot
drift, and concurrent writers simply retry on a version conflict.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import clock, ids
from chalicelib.auth import Principal
from chalicelib.db import VersionConflict, conflicted, decode_cursor, encode_cursor, retry_on_conflict, transaction
from chalicelib.discussions.models import (
    CONTEXT_TYPES,
    DISCUSSION_TYPES,
    MAX_PARTICIPANTS,
    STATUSES,
    Counter,
    Discussion,
    Membership,
    Message,
    ParticipantMap,
)
from chalicelib.errors import Conflict, NotFound, ValidationError

PREVIEW_LENGTH = 160


# ---------------------------------------------------------------- keys


def discussion_key(tenant_id: str, discussion_id: str) -> str:
    return f"{tenant_id}#{discussion_id}"


def participant_ref(participant: ParticipantMap) -> str:
    return f"u:{participant.user_id}" if participant.user_id else f"e:{participant.email}"


def membership_key(tenant_id: str, ref: str) -> str:
    return f"{tenant_id}#{ref}"


def category_counter(status: str, discussion_type: str) -> str:
    return f"category#{status}#{discussion_type}"


def unread_counter(user_id: str) -> str:
    return f"unread#{user_id}"


def _activity_key(moment: str, discussion_id: str) -> str:
    return f"{moment}#{discussion_id}"


def _index_keys(item: Discussion) -> None:
    item.tenant_status = f"{item.tenant_id}#{item.status}"
    item.tenant_status_type = f"{item.tenant_id}#{item.status}#{item.discussion_type}"
    item.tenant_context = (f"{item.tenant_id}#{item.context_type}#{item.context_id}"
                           if item.context_type else None)
    item.activity_key = _activity_key(item.last_activity_at, item.discussion_id)


def preview_of(body: str) -> str:
    collapsed = " ".join(body.split())
    return collapsed if len(collapsed) <= PREVIEW_LENGTH else collapsed[: PREVIEW_LENGTH - 1] + "…"


# ---------------------------------------------------------------- derived state


def _unread_users(item: Discussion) -> set[str]:
    """Internal participants with messages they have not read, in an active discussion."""
    if item.status != "active":
        return set()
    return {user for user, position in _read_positions(item).items() if position < item.message_count}


def _read_positions(item: Discussion) -> dict[str, int]:
    raw = item.read_positions.as_dict() if hasattr(item.read_positions, "as_dict") else dict(item.read_positions or {})
    return {user: int(position) for user, position in raw.items()}


def _copy(item: Discussion) -> Discussion:
    return Discussion.from_raw_data(item.serialize())


@dataclass
class _Extra:
    """Writes that ride along in a discussion's transaction (a new message, say); an entry is a model, or a
    (model, condition) pair whose condition failing cancels the change without counting as a version conflict."""
    saves: list[Any] = field(default_factory=list)


def _counter_deltas(before: Discussion | None, after: Discussion) -> dict[str, int]:
    deltas: dict[str, int] = {}

    def bump(key: str, amount: int) -> None:
        deltas[key] = deltas.get(key, 0) + amount

    if before is not None:
        bump(category_counter(before.status, before.discussion_type), -1)
        for user in _unread_users(before):
            bump(unread_counter(user), -1)
    bump(category_counter(after.status, after.discussion_type), 1)
    for user in _unread_users(after):
        bump(unread_counter(user), 1)
    return deltas


def _commit(before: Discussion | None, after: Discussion, extra: _Extra | None = None) -> None:
    """Write `after` if nobody changed the discussion since `before` was read, with all derived items."""
    _index_keys(after)
    tenant_id = after.tenant_id
    deltas = _counter_deltas(before, after)
    old_members = {participant_ref(p): p for p in (before.participants if before else [])}
    new_members = {participant_ref(p): p for p in after.participants}
    membership_moved = before is None or before.status != after.status or before.activity_key != after.activity_key

    removed = set(old_members) - set(new_members)
    try:
        with transaction() as tx:
            if before is None:
                tx.save(after, condition=Discussion.discussion_id.does_not_exist())
            else:
                after.version = before.version + 1
                tx.save(after, condition=Discussion.version == before.version)
            for key, amount in deltas.items():
                if amount:
                    tx.update(Counter(tenant_id, key), actions=[Counter.value.add(amount)])
            for ref in new_members:
                if membership_moved or ref not in old_members:
                    member_key = membership_key(tenant_id, ref)
                    tx.save(Membership(member_key, after.discussion_id,
                                       participant_status=f"{member_key}#{after.status}",
                                       activity_key=after.activity_key))
            for ref in removed:
                tx.delete(Membership(membership_key(tenant_id, ref), after.discussion_id))
            for record in (extra.saves if extra else []):
                model, condition = record if isinstance(record, tuple) else (record, None)
                tx.save(model, condition=condition)
    except TransactWriteError as error:
        # DynamoDB receives deletes before puts, so the discussion (the first put) follows the removed memberships.
        if conflicted(error, checked_items=[len(removed)]):
            raise VersionConflict(after.discussion_id) from error
        raise


def _mutate(tenant_id: str, discussion_id: str, change: Callable[[Discussion], _Extra | None],
            loaded: Discussion | None = None) -> Discussion:
    """Load, change and commit a discussion, again (db.retry_on_conflict) when a concurrent writer got there first;
    a change that changes nothing writes nothing. `loaded`: the discussion as the caller just read it, used for the
    first attempt (one read less)."""
    first = [loaded]

    def attempt() -> Discussion:
        before = (first.pop() if first else None) or load(tenant_id, discussion_id)
        after = _copy(before)
        extra = change(after)
        if (extra is None or not extra.saves) and after.serialize() == before.serialize():
            return before  # nothing changed (read already, say): nothing to write, no version moved
        _commit(before, after, extra)
        return after

    try:
        return retry_on_conflict(attempt)
    except VersionConflict:
        raise Conflict("the discussion is being changed by others right now; try again",
                       field="discussion_id") from None


# ---------------------------------------------------------------- reads


def key_of(tenant_id: str, discussion_id: str) -> Discussion:
    """The key of this tenant's discussion, to read it with other items (db.get_many); NotFound for an id no
    discussion can have."""
    if not discussion_id or len(discussion_id) > 64:
        raise NotFound("discussion not found")
    return Discussion(tenant_id, discussion_id)


def load(tenant_id: str, discussion_id: str) -> Discussion:
    """The discussion of this tenant; NotFound for an unknown id or another tenant's id alike."""
    key_of(tenant_id, discussion_id)
    try:
        return Discussion.get(tenant_id, discussion_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("discussion not found") from None


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def list_discussions(principal: Principal, *, status: str = "active", discussion_type: str | None = None,
                     participant: str | None = None, limit: int = 25, cursor: str | None = None) -> Page:
    """A page of the tenant's discussions, newest activity first; one Query (plus one BatchGet by participant)."""
    tenant = principal.tenant_id
    if participant is not None:  # present but empty is no participant (400), as the document says
        ref = participant_reference(participant)
        member_key = membership_key(tenant, ref)
        scope = f"{tenant}|participant|{ref}|{status}"
        results = Membership.by_participant_activity.query(
            f"{member_key}#{status}", scan_index_forward=False, limit=limit,
            last_evaluated_key=decode_cursor(cursor, scope))
        discussion_ids = [member.discussion_id for member in results]
        found = {d.discussion_id: d for d in Discussion.batch_get([(tenant, i) for i in discussion_ids])}
        items = [found[i] for i in discussion_ids if i in found]
        if discussion_type:
            items = [d for d in items if d.discussion_type == discussion_type]
        return Page(items, encode_cursor(results.last_evaluated_key, scope))
    if discussion_type:
        scope = f"{tenant}|type|{status}|{discussion_type}"
        results = Discussion.by_status_type.query(
            f"{tenant}#{status}#{discussion_type}", scan_index_forward=False, limit=limit,
            last_evaluated_key=decode_cursor(cursor, scope))
    else:
        scope = f"{tenant}|status|{status}"
        results = Discussion.by_status.query(
            f"{tenant}#{status}", scan_index_forward=False, limit=limit,
            last_evaluated_key=decode_cursor(cursor, scope))
    items = list(results)
    return Page(items, encode_cursor(results.last_evaluated_key, scope))


def list_by_context(principal: Principal, context_type: str, context_id: str, *, limit: int = 25,
                    cursor: str | None = None) -> Page:
    if context_type not in CONTEXT_TYPES:
        raise ValidationError(f"context_type must be one of: {', '.join(CONTEXT_TYPES)}", field="context_type")
    tenant = principal.tenant_id
    scope = f"{tenant}|context|{context_type}|{context_id}"
    results = Discussion.by_context.query(
        f"{tenant}#{context_type}#{context_id}", scan_index_forward=False, limit=limit,
        last_evaluated_key=decode_cursor(cursor, scope))
    items = list(results)
    return Page(items, encode_cursor(results.last_evaluated_key, scope))


def list_messages(item: Discussion, *, limit: int = 50, cursor: str | None = None,
                  newest_first: bool = False) -> Page:
    key = discussion_key(item.tenant_id, item.discussion_id)
    scope = f"{key}|messages|{'desc' if newest_first else 'asc'}"
    results = Message.query(key, scan_index_forward=not newest_first, limit=limit,
                            last_evaluated_key=decode_cursor(cursor, scope, field="messages_cursor"))
    items = list(results)
    return Page(items, encode_cursor(results.last_evaluated_key, scope))


def unread_count(principal: Principal) -> int:
    try:
        return int(Counter.get(principal.tenant_id, unread_counter(principal.user_id)).value)
    except DoesNotExist:
        return 0


def category_counts(principal: Principal, status: str = "active") -> dict[str, int]:
    counts = {discussion_type: 0 for discussion_type in DISCUSSION_TYPES}
    for counter in Counter.query(principal.tenant_id,
                                 Counter.counter_key.startswith(f"category#{status}#")):
        counts[counter.counter_key.rsplit("#", 1)[1]] = int(counter.value)
    return counts


def read_state(item: Discussion, user_id: str) -> dict[str, Any]:
    positions = _read_positions(item)
    if user_id not in positions:
        return {"is_participant": False, "unread": False, "unread_messages": 0}
    unread_messages = max(item.message_count - positions[user_id], 0)
    return {"is_participant": True, "unread": unread_messages > 0, "unread_messages": unread_messages}


# ---------------------------------------------------------------- participants


def participant_reference(value: str) -> str:
    """`participant` filter values: an email address or an internal user id."""
    from chalicelib.validation import email_address

    value = value.strip()
    if "@" in value:
        return f"e:{email_address(value, 'participant')}"
    if not value or len(value) > 128:
        raise ValidationError("participant must be an email address or a user id", field="participant")
    return f"u:{value}"


@dataclass
class ParticipantInput:
    user_id: str | None
    email: str | None
    name: str | None
    role: str
    recipient_type: str | None
    freelancer_node_id: str | None
    is_external_freelancer: bool


def _new_participant(spec: ParticipantInput) -> ParticipantMap:
    return ParticipantMap(
        id=ids.new_short_id(), user_id=spec.user_id, email=spec.email, name=spec.name, role=spec.role,
        recipient_type=spec.recipient_type, freelancer_node_id=spec.freelancer_node_id,
        is_external_freelancer=spec.is_external_freelancer, added_at=clock.now_iso())


def _add_participants(item: Discussion, specs: Iterable[ParticipantInput]) -> list[ParticipantMap]:
    existing = {participant_ref(p) for p in item.participants}
    added = []
    for spec in specs:
        participant = _new_participant(spec)
        ref = participant_ref(participant)
        if ref in existing:
            raise Conflict(f"{spec.email or spec.user_id} is already a participant", field="participants")
        existing.add(ref)
        item.participants.append(participant)
        if participant.user_id:
            # A colleague added later sees the existing conversation as unread.
            positions = _read_positions(item)
            positions.setdefault(participant.user_id, 0)
            item.read_positions = positions
        added.append(participant)
    if len(item.participants) > MAX_PARTICIPANTS:
        # Too many in the request itself is bad input; too many with those already there is the discussion's state.
        refusal = ValidationError if len(added) >= MAX_PARTICIPANTS else Conflict
        raise refusal(f"a discussion has at most {MAX_PARTICIPANTS} participants", field="participants")
    return added


def add_participants(principal: Principal, discussion_id: str,
                     specs: list[ParticipantInput]) -> tuple[Discussion, list[ParticipantMap]]:
    added: list[ParticipantMap] = []

    def change(item: Discussion) -> None:
        added[:] = _add_participants(item, specs)

    item = _mutate(principal.tenant_id, discussion_id, change)
    return item, added


def remove_participant(principal: Principal, discussion_id: str, participant_id: str) -> Discussion:
    def change(item: Discussion) -> None:
        match = next((p for p in item.participants if p.id == participant_id), None)
        if match is None:
            raise NotFound("participant not found")
        if match.role == "owner":
            raise Conflict("the owner cannot be removed from the discussion", field="participant_id")
        item.participants = [p for p in item.participants if p.id != participant_id]
        if match.user_id:
            positions = _read_positions(item)
            positions.pop(match.user_id, None)
            item.read_positions = positions

    return _mutate(principal.tenant_id, discussion_id, change)


# ---------------------------------------------------------------- create and messages


@dataclass
class MessageInput:
    body: str
    is_internal: bool = False
    attachments: list[Any] = field(default_factory=list)


def _new_message(item: Discussion, author: str, spec: MessageInput, author_type: str = "user",
                 email_message_id: str | None = None, email_in_reply_to: str | None = None,
                 raw_s3_key: str | None = None) -> Message:
    return Message(
        discussion_key(item.tenant_id, item.discussion_id), ids.new_sortable_id(),
        tenant_id=item.tenant_id, discussion_id=item.discussion_id, author=author, author_type=author_type,
        body=spec.body, is_internal=spec.is_internal, created_at=clock.now_iso(),
        email_message_id=email_message_id, email_in_reply_to=email_in_reply_to,
        attachments=spec.attachments, raw_s3_key=raw_s3_key,
        # Staff messages for the outside wait in the outbox until `send` has mailed every recipient.
        outbox_key=discussion_key(item.tenant_id, item.discussion_id)
        if not spec.is_internal and author_type == "user" else None)


def _apply_message(item: Discussion, message: Message, author_user_id: str | None) -> None:
    item.message_count += 1
    item.last_activity_at = message.created_at
    item.last_message_preview = preview_of(message.body)
    if author_user_id is not None:
        positions = _read_positions(item)
        if author_user_id in positions:
            positions[author_user_id] = int(item.message_count)  # the author has read what they wrote
            item.read_positions = positions


def create_discussion(principal: Principal, *, subject: str, discussion_type: str = "general",
                      context_type: str | None = None, context_id: str | None = None,
                      initial_message: MessageInput | None = None,
                      participants: list[ParticipantInput] | None = None,
                      reply_domain: str | None = None) -> tuple[Discussion, Message | None]:
    from chalicelib.config import settings

    now = clock.now_iso()
    discussion_id = ids.new_id()
    domain = reply_domain or settings().default_reply_domain
    item = Discussion(
        principal.tenant_id, discussion_id, subject=subject, discussion_type=discussion_type, status="active",
        context_type=context_type, context_id=context_id, email_thread_id=f"<thread.{discussion_id}@{domain}>",
        message_count=0, last_activity_at=now, last_message_preview=None, created_by=principal.user_id,
        created_at=now, participants=[], read_positions={}, version=0)
    owner = ParticipantInput(user_id=principal.user_id, email=principal.email, name=None, role="owner",
                             recipient_type=None, freelancer_node_id=None, is_external_freelancer=False)
    _add_participants(item, [owner, *(participants or [])])
    extra = _Extra()
    message = None
    if initial_message is not None:
        message = _new_message(item, principal.user_id, initial_message)
        _apply_message(item, message, principal.user_id)
        extra.saves.append(message)
    _commit(None, item, extra)
    return item, message


def add_message(tenant_id: str, discussion_id: str, spec: MessageInput, *, author: str,
                author_user_id: str | None, author_type: str = "user", email_message_id: str | None = None,
                email_in_reply_to: str | None = None, raw_s3_key: str | None = None,
                author_name: str | None = None,
                also_save: Callable[[Message], list[Any]] | None = None,
                loaded: Discussion | None = None) -> tuple[Discussion, Message]:
    """Store a message and move the discussion's summary, unread state and counters in one transaction."""
    stored: list[Message] = []

    from chalicelib import jobs

    queued: list[jobs.JobRecord] = []

    def change(item: Discussion) -> _Extra:
        if item.status == "closed":
            raise Conflict("the discussion is closed; reopen it to add messages", field="status")
        message = _new_message(item, author, spec, author_type=author_type, email_message_id=email_message_id,
                               email_in_reply_to=email_in_reply_to, raw_s3_key=raw_s3_key)
        _apply_message(item, message, author_user_id)
        stored[:] = [message]
        # The staff participants hear of it: queued with the message, so one never goes without the other.
        queued[:] = [jobs.new_job("discussion.notify", {
            "tenant_id": tenant_id, "discussion_id": discussion_id, "message_id": message.message_id,
            "author_user_id": author_user_id, "author_name": author_name})]
        # `also_save`: items of the caller written in the same transaction (the inbound Message-ID claim, with the
        # condition that its lease is still held).
        return _Extra(saves=[message, *queued, *(also_save(message) if also_save else [])])

    item = _mutate(tenant_id, discussion_id, change, loaded)
    jobs.dispatch(queued[0])
    return item, stored[0]


def mark_read(principal: Principal, discussion_id: str) -> Discussion:
    def change(item: Discussion) -> None:
        positions = _read_positions(item)
        if principal.user_id not in positions:
            raise Conflict("only participants of a discussion have a read state", field="discussion_id")
        positions[principal.user_id] = int(item.message_count)
        item.read_positions = positions

    return _mutate(principal.tenant_id, discussion_id, change)


def mark_participant_email_status(tenant_id: str, discussion_id: str, email: str,
                                  status: str | None) -> Discussion | None:
    """Show on the discussion that this external address bounced hard or complained (SES events); None clears it.
    Returns the discussion as it now is (None: it is gone; the suppression list still holds the address)."""
    def change(item: Discussion) -> None:
        for participant in item.participants:
            if participant.email == email.lower():
                participant.email_status = status

    try:
        return _mutate(tenant_id, discussion_id, change)
    except NotFound:
        return None


def clear_email_status_everywhere(tenant_id: str, email: str) -> int:
    """A lifted suppression: the address's `email_status` cleared on every discussion it takes part in.

    An administrator's rare action, one write per discussion of that address (its memberships, read by key)."""
    key = membership_key(tenant_id, f"e:{email.lower()}")
    cleared = 0
    for membership in Membership.query(key):
        mark_participant_email_status(tenant_id, membership.discussion_id, email, None)
        cleared += 1
    return cleared


# ---------------------------------------------------------------- lifecycle

_TRANSITIONS = {
    "archive": ({"active"}, "archived"),
    "close": ({"active", "archived"}, "closed"),
    "reopen": ({"archived", "closed"}, "active"),
}


def change_status(principal: Principal, discussion_id: str, action: str) -> Discussion:
    allowed_from, target = _TRANSITIONS[action]

    def change(item: Discussion) -> None:
        if item.status not in allowed_from:
            raise Conflict(f"cannot {action} a discussion that is {item.status}", field="status")
        item.status = target

    return _mutate(principal.tenant_id, discussion_id, change)


def validate_status(value: str | None, field_name: str = "status") -> str:
    if value is None:  # absent; present but empty is not one of the statuses (400), as the document says
        return "active"
    if value not in STATUSES:
        raise ValidationError(f"{field_name} must be one of: {', '.join(STATUSES)}", field=field_name)
    return value


def validate_type(value: str | None, field_name: str = "discussion_type") -> str | None:
    if value is None:
        return None
    if value not in DISCUSSION_TYPES:
        raise ValidationError(f"{field_name} must be one of: {', '.join(DISCUSSION_TYPES)}", field=field_name)
    return value

