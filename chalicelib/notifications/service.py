"""Storing notifications and reading them back; each write moves the unread counter in the same transaction."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action

from chalicelib import clock
from chalicelib.db import (
    VersionConflict,
    cancellation_codes,
    conflicted,
    decode_cursor,
    encode_cursor,
    retry_on_conflict,
    transaction,
)
from chalicelib.errors import NotFound
from chalicelib.notifications.models import Notification, NotificationCounter

# Notification ids are time-ordered hex (ids.new_sortable_id / sortable_id_for); anything else is unknown.
_NOTIFICATION_ID = re.compile(r"^[0-9a-f]{12,64}$")


def user_key(tenant_id: str, user_id: str) -> str:
    return f"{tenant_id}#{user_id}"


@dataclass
class NewNotification:
    type: str
    title: str
    body: str | None = None
    discussion_id: str | None = None
    priority: str = "normal"
    community_thread_id: int | None = None
    community_message_id: int | None = None
    instant: bool = False  # email at once whatever the priority (a community thread's InstantDelivery)
    context_label: str | None = None  # the discussion's subject or the thread's, to group a digest
    link: str | None = None
    internal: bool = False  # about a discussion's internal note: for the discussion's staff only

    @property
    def delivery(self) -> str:
        return "instant" if self.instant or self.priority in ("urgent", "high") else "digest"


def notify(tenant_id: str, user_id: str, notification_id: str, item: NewNotification,
           digest_due: str | None = None) -> bool:
    """Store one notification; the same notification_id twice stores it once. True if it is new.

    With `digest_due` (UTC), the notification waits for the user's digest: it joins the pending index and
    the user is scheduled for then (unless already scheduled earlier), in the same transaction."""
    from chalicelib.users.service import schedule_digest_in

    key = user_key(tenant_id, user_id)
    record = _record(tenant_id, user_id, notification_id, item, digest_due)

    def attempt() -> bool:
        try:
            with transaction() as tx:
                tx.save(record, condition=Notification.notification_id.does_not_exist())
                tx.update(NotificationCounter(key), actions=[NotificationCounter.unread.add(1)])
                if digest_due:
                    schedule_digest_in(tx, tenant_id, user_id, digest_due)
        except TransactWriteError as error:
            if "ConditionalCheckFailed" in cancellation_codes(error):  # stored before: a rerun stores nothing twice
                return False
            if conflicted(error):  # another notification of this user at the same moment (its counter, profile)
                raise VersionConflict(notification_id) from error
            raise
        return True

    return retry_on_conflict(attempt)


NOTIFY_PER_TRANSACTION = 33  # three items a user (the notification, the unread counter, the digest time): under 100


def notify_many(tenant_id: str, due_by_user: dict[str, str | None], notification_id: str,
                item: NewNotification) -> None:
    """`notify` for many users: one transaction per 33 of them (a group's fan-out: S users cost S/33 calls, not S).
    A batch refused because one of its users has the notification already (a rerun) or a concurrent write is done
    user by user, each once."""
    from chalicelib.users.service import schedule_digest_in

    users = list(due_by_user.items())
    for start in range(0, len(users), NOTIFY_PER_TRANSACTION):
        batch = users[start:start + NOTIFY_PER_TRANSACTION]
        try:
            with transaction() as tx:
                for user_id, due in batch:
                    key = user_key(tenant_id, user_id)
                    tx.save(_record(tenant_id, user_id, notification_id, item, due),
                            condition=Notification.notification_id.does_not_exist())
                    tx.update(NotificationCounter(key), actions=[NotificationCounter.unread.add(1)])
                    if due:
                        schedule_digest_in(tx, tenant_id, user_id, due)
        except TransactWriteError as error:
            if not ("ConditionalCheckFailed" in cancellation_codes(error) or conflicted(error)):
                raise
            for user_id, due in batch:
                notify(tenant_id, user_id, notification_id, item, digest_due=due)


def _record(tenant_id: str, user_id: str, notification_id: str, item: NewNotification,
            digest_due: str | None) -> Notification:
    key = user_key(tenant_id, user_id)
    return Notification(key, notification_id, tenant_id=tenant_id, user_id=user_id, type=item.type,
                        priority=item.priority, title=item.title[:300], body=(item.body or "")[:1000] or None,
                        discussion_id=item.discussion_id, community_thread_id=item.community_thread_id,
                        community_message_id=item.community_message_id, delivery=item.delivery,
                        context_label=(item.context_label or "")[:300] or None, link=item.link,
                        internal=item.internal or None, digest_user_key=key if digest_due else None,
                        created_at=clock.now_iso())


def defer_to_digest(tenant_id: str, user_id: str, notification_id: str, digest_due: str) -> None:
    """An instant email that could not go out waits for the digest instead of being lost."""
    from chalicelib.users.service import schedule_digest_in

    key = user_key(tenant_id, user_id)
    with transaction() as tx:
        tx.update(Notification(key, notification_id), actions=[
            Notification.delivery.set("digest"), Notification.digest_user_key.set(key)],
            condition=Notification.notification_id.exists())
        schedule_digest_in(tx, tenant_id, user_id, digest_due)


def wait_for_digest(tenant_id: str, user_id: str, notification_ids: list[str], digest_due: str) -> None:
    """Notifications back in the pending index, and the user's digest due (an uncertain digest an admin resends)."""
    from chalicelib.users.service import schedule_digest_in

    key = user_key(tenant_id, user_id)
    for start in range(0, len(notification_ids), 99):
        with transaction() as tx:
            for notification_id in notification_ids[start:start + 99]:
                tx.update(Notification(key, notification_id), actions=[
                    Notification.digest_user_key.set(key), Notification.email_status.remove()],
                    condition=Notification.notification_id.exists())
            schedule_digest_in(tx, tenant_id, user_id, digest_due)


def pending_digest(tenant_id: str, user_id: str, limit: int) -> list[Notification]:
    """The notifications waiting for this user's digest, oldest first: one Query on the sparse index."""
    return list(Notification.pending_digest.query(user_key(tenant_id, user_id), limit=limit))


def mark_digested(items: list[Notification], status: str, ses_message_id: str | None,
                  sent_at: str | None = None) -> None:
    """Take notifications out of the pending index once their digest went (or will never go): 1 call per 100."""
    for start in range(0, len(items), 100):
        with transaction() as tx:
            digested(items[start:start + 100], status, ses_message_id, sent_at)(tx)


def digested(items: list[Notification], status: str, ses_message_id: str | None,
             sent_at: str | None = None) -> Callable[[Any], None]:
    """What `mark_digested` writes, to add to another transaction (at most 99 items: the caller's own is one)."""
    now = sent_at or clock.now_iso()

    def add(tx: Any) -> None:
        for item in items:
            actions: list[Action] = [Notification.digest_user_key.remove(), Notification.email_status.set(status)]
            if status == "digest":
                actions += [Notification.email_sent_at.set(now)]
                if ses_message_id:
                    actions.append(Notification.ses_message_id.set(ses_message_id))
            tx.update(Notification(item.user_key, item.notification_id), actions=actions)

    return add


def mark_read(tenant_id: str, user_id: str, notification_id: str) -> None:
    if not _NOTIFICATION_ID.match(notification_id or ""):
        raise NotFound("notification not found", field="notification_id")
    key = user_key(tenant_id, user_id)
    try:
        with transaction() as tx:
            tx.update(Notification(key, notification_id), actions=[Notification.read_at.set(clock.now_iso())],
                      condition=Notification.notification_id.exists() & Notification.read_at.does_not_exist())
            tx.update(NotificationCounter(key), actions=[NotificationCounter.unread.add(-1)])
    except TransactWriteError as error:
        if "ConditionalCheckFailed" in cancellation_codes(error):
            try:
                Notification.get(key, notification_id)
            except Notification.DoesNotExist:
                raise NotFound("notification not found", field="notification_id") from None
            return  # already read: nothing changes
        raise


def unread_count(tenant_id: str, user_id: str) -> int:
    try:
        return max(int(NotificationCounter.get(user_key(tenant_id, user_id)).unread), 0)
    except NotificationCounter.DoesNotExist:
        return 0


def list_page(tenant_id: str, user_id: str, limit: int, cursor: str | None) -> tuple[list[Notification], str | None]:
    key = user_key(tenant_id, user_id)
    scope = f"{key}|notifications"
    results = Notification.query(key, scan_index_forward=False, limit=limit,
                                 last_evaluated_key=decode_cursor(cursor, scope))
    items = list(results)
    return items, encode_cursor(results.last_evaluated_key, scope)


def as_json(item: Notification) -> dict[str, Any]:
    return {"id": item.notification_id, "type": item.type, "priority": item.priority, "title": item.title,
            "body": item.body, "discussion_id": item.discussion_id,
            "community_thread_id": int(item.community_thread_id) if item.community_thread_id is not None else None,
            "community_message_id": (int(item.community_message_id) if item.community_message_id is not None
                                     else None),
            "internal": bool(item.internal), "delivery": item.delivery, "created_at": item.created_at,
            "read_at": item.read_at, "email_status": item.email_status, "email_sent_at": item.email_sent_at}
