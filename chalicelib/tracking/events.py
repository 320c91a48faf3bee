"""SES events through SNS → tracking records: parse both SES shapes, deduplicate, correlate, apply forward-only.

SNS delivers at least once and in any order (NOTES.md), so each (event type, SES event, recipient) is
applied once, recorded on an item kept DEDUP_DAYS. A delivery, by far the most frequent event, is applied in one
transaction with that item, its counters and the tenant's reputation count: all or nothing, so it needs no claim
(2 DynamoDB calls with the Query that finds its copy). Its counts go to the copy's shards, never to an item of the
whole message or tenant: concurrent deliveries would cancel each other's transactions there (docs/email.md). Every
other event is applied under a claim with a lease (chalicelib/claims.py) on that item: a run that fails releases it
for SNS's retry, one that dies is taken over once its lease ran out. First timestamps are only ever set if absent;
a bounce after a delivery wins and a delivery after a bounce erases nothing. The type is part of the key because a
feedbackId is not unique across types: AWS's own samples give a bounce and a complaint the same one.
"""
from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.expressions.update import Action

from chalicelib import claims, clock
from chalicelib.config import settings
from chalicelib.db import set_or_remove
from chalicelib.tracking import counters, suppression
from chalicelib.tracking.ids import copy_shard
from chalicelib.tracking.models import EmailTracking, ProcessedEvent
from chalicelib.tracking.ses_events import MalformedEvent, SesEvent, parse_ses_events
from chalicelib.transactions import Tx

if TYPE_CHECKING:
    from chalicelib.discussions.models import Discussion

logger = logging.getLogger(__name__)
DEDUP_DAYS = 7


def _first_time(event: SesEvent) -> str:
    return _iso(event.occurred_at) or clock.now_iso()


def _iso(timestamp: str | None) -> str | None:
    """SES stamps like 2016-10-19T23:21:04.133Z → our fixed-width form, so first-only comparisons hold."""
    if not timestamp:
        return None
    from datetime import datetime

    try:
        return clock.iso(datetime.fromisoformat(timestamp.replace("Z", "+00:00")))
    except ValueError:
        return None


# Applying an event: its lease outlasts the ses_events Lambda (Chalice's default timeout, 60 s).
APPLY = claims.Work(kind="ses_event", status=ProcessedEvent.status, claim=ProcessedEvent.claim,
                    ready=("released",), working="applying", creates=True, lease_seconds=90)


def dedupe_key(event: SesEvent) -> str:
    return f"ses#{event.kind}#{event.event_id}"


def _claim(event: SesEvent) -> claims.Claim[ProcessedEvent]:
    expires = int((clock.now() + timedelta(days=DEDUP_DAYS)).timestamp())
    return claims.take(ProcessedEvent(dedupe_key(event)), APPLY, actions=[ProcessedEvent.expires_at.set(expires)])


def _record_for(event: SesEvent) -> EmailTracking | None:
    records = list(EmailTracking.by_ses_message.query(event.ses_message_id, limit=10))
    if event.recipient:
        records = [r for r in records if r.recipient_email == event.recipient]
    return records[0] if len(records) == 1 else None


def _deliver(event: SesEvent, record: EmailTracking) -> bool:
    """A delivery in one transaction: the event's dedupe item, the copy's first delivery and its counter (only while
    the copy has none), the tenant's reputation count (both in the copy's shard), and the end of the recipient's run
    of soft bounces when the copy was written during one. False when the event was applied before. A refused item
    makes it commit again without it: the copy delivered (or gone) since it was read, a run already ended or an
    address suppressed. A tenant watched (as this container last read it) is judged after the commit."""
    from chalicelib.identities import reputation

    when = _first_time(event)
    expires = int((clock.now() + timedelta(days=DEDUP_DAYS)).timestamp())
    shard = copy_shard(record.tracking_pixel_id)
    first, soft_run = record.delivered_at is None, bool(record.soft_bounce_run)
    while True:
        tx = Tx()
        tx.save("event", ProcessedEvent(dedupe_key(event), expires_at=expires, status="applied"),
                condition=ProcessedEvent.event_key.does_not_exist() | (ProcessedEvent.status == "released"))
        if first:
            tx.update("copy", EmailTracking(record.tracking_pixel_id), [EmailTracking.delivered_at.set(when)],
                      condition=EmailTracking.tracking_pixel_id.exists() & EmailTracking.delivered_at.does_not_exist())
            counters.count_in(tx, record.discussion_key, record.message_id, record.tracking_pixel_id, delivered=1)
        reputation.count_delivery_in(tx, record.tenant_id, shard)
        if soft_run:
            suppression.end_soft_bounce_run_in(tx, record.tenant_id, record.recipient_email)
        refused = tx.commit().refused
        if "event" in refused:
            return False
        if not refused:
            break
        first = first and "copy" not in refused  # count the event, not a second first delivery
        soft_run = soft_run and "soft bounces" not in refused  # no run, or suppressed meanwhile
    if reputation.is_watched(record.tenant_id):
        reputation.judge(record.tenant_id, watched=True)
    return True


def _apply(event: SesEvent, record: EmailTracking) -> None:
    on = EmailTracking(record.tracking_pixel_id)
    when = _first_time(event)
    if event.kind in ("bounce", "complaint"):
        kind = event.bounce_type or "soft"
        # A soft bounce never downgrades a hard bounce or a complaint already recorded; a complaint never hides a
        # bounce already recorded (it shows as complained_at beside it), and a later hard bounce keeps complained_at.
        keep = kind == "soft" or (kind == "complaint" and record.bounce_type == "hard")
        actions: list[Action] = [
            EmailTracking.bounced_at.set(EmailTracking.bounced_at | when),
            EmailTracking.bounce_type.set(EmailTracking.bounce_type | kind if keep else kind),
                   set_or_remove(EmailTracking.bounce_reason, (event.reason or "")[:1000])]
        counted = {"bounced_at": "bounced"}
        if kind == "complaint":
            actions.append(EmailTracking.complained_at.set(EmailTracking.complained_at | when))
            counted["complained_at"] = "complained"
        _change_and_count(record, actions, counted)
        _consequences(record, kind, event.reason, record.bounced_at or when)
    elif event.kind in ("open", "click"):
        count, first = ((EmailTracking.open_count, EmailTracking.opened_at) if event.kind == "open"
                        else (EmailTracking.click_count, EmailTracking.clicked_at))
        on.update(actions=[count.add(1), first.set(first | when),
                           set_or_remove(EmailTracking.user_agent, event.user_agent),
                           set_or_remove(EmailTracking.ip_address, event.ip_address)])
        _count(record, on, {"opened_at": "opened", "clicked_at": "clicked"}, when)
    elif event.kind in ("reject", "rendering_failure"):
        _reject(record, event.reason)


def _count(before: EmailTracking, after: EmailTracking, fields: dict[str, str], when: str) -> None:
    counters.count(before.discussion_key, before.message_id, before.tracking_pixel_id,
                   **counters.firsts(before, after, fields, when))


def _change_and_count(record: EmailTracking, actions: list[Action], counted: dict[str, str]) -> None:
    """The copy's change and, for each first time it sets (`counted`: its attribute → the counter it moves; each
    set with `if_not_exists` by the actions), that counter in the copy's shard, in one transaction: a Lambda that
    dies in between counts nothing and changes nothing, so the redelivered event counts it then. The firsts are
    those the copy lacked as read, conditioned on still lacking them; when another event set one meanwhile, the
    refusal hands back the copy as it is and the change commits again with the firsts it still lacks."""
    current: EmailTracking | None = record
    while current is not None:
        firsts = [field for field in counted if getattr(current, field) is None]
        condition = EmailTracking.tracking_pixel_id.exists()
        for field in firsts:
            condition &= getattr(EmailTracking, field).does_not_exist()
        tx = Tx()
        tx.update("copy", EmailTracking(record.tracking_pixel_id), actions, condition=condition, return_old=True)
        counters.count_in(tx, record.discussion_key, record.message_id, record.tracking_pixel_id,
                          **{counted[field]: 1 for field in firsts})
        outcome = tx.commit()
        if outcome.committed:
            return
        old = outcome.old.get("copy")  # None: the copy is gone, nothing to change
        current = EmailTracking.from_raw_data(old) if old else None


def _reject(record: EmailTracking, reason: str | None) -> None:
    """SES took the copy, then refused it (reject, rendering failure): failed, and, when it had been counted sent,
    moved from `sent` to `failed` in the same transaction (once: conditioned on it still being `sent`)."""
    actions = [EmailTracking.state.set("failed"), set_or_remove(EmailTracking.failure_reason, reason)]
    tx = Tx()
    if record.state == "sent":
        tx.update("copy", EmailTracking(record.tracking_pixel_id), actions, condition=EmailTracking.state == "sent")
        counters.count_in(tx, record.discussion_key, record.message_id, record.tracking_pixel_id, sent=-1,
                          failed=0 if record.failure_reason else 1)
        if not tx.commit().refused:
            return
        tx = Tx()  # no longer `sent` since the read: failed without moving the counts again
    tx.update("copy", EmailTracking(record.tracking_pixel_id), actions,
              condition=EmailTracking.tracking_pixel_id.exists())
    tx.commit()


def _consequences(record: EmailTracking, kind: str, reason: str | None, first_bounce: str) -> None:
    """Hard bounces and complaints suppress the address and mark the participant; soft ones are counted."""
    from chalicelib.discussions import service as discussions

    if kind == "soft":
        limit = int(os.environ.get("SOFT_BOUNCE_LIMIT", "3"))
        if not suppression.count_soft_bounce(record.tenant_id, record.recipient_email, reason, limit):
            return
        kind = "soft_bounces"
    else:
        suppression.suppress(record.tenant_id, record.recipient_email,
                             "hard_bounce" if kind == "hard" else "complaint", reason)
    discussion = discussions.mark_participant_email_status(record.tenant_id, record.discussion_id,
                                                           record.recipient_email,
                                                           {"hard": "hard_bounce"}.get(kind, kind))
    if kind == "hard" and discussion is not None:
        _tell_owner(record, discussion, reason, first_bounce)


def _tell_owner(record: EmailTracking, discussion: Discussion, reason: str | None, first_bounce: str) -> None:
    """A hard bounce is news the discussion's owner needs now: a high-priority notification (the discussion as the
    bounce just marked it: no read of its own)."""
    from chalicelib import ids
    from chalicelib.notifications import delivery
    from chalicelib.notifications.email import EmailContent
    from chalicelib.notifications.service import NewNotification

    owners = [p.user_id for p in discussion.participants if p.role == "owner" and p.user_id]
    title = f"Email to {record.recipient_email} bounced: {discussion.subject}"
    link = settings().discussion_url(discussion.discussion_id)
    item = NewNotification(type="email_bounced", title=title, body=(reason or "")[:300] or None, priority="high",
                           discussion_id=discussion.discussion_id, context_label=discussion.subject, link=link)
    notification_id = ids.sortable_id_for(first_bounce, f"bounce|{record.tracking_pixel_id}")
    delivery.deliver(record.tenant_id, owners, notification_id, item, EmailContent(
        title=title, excerpt=item.body, link=link,
        reason="You get this email because you own this discussion and one of its emails bounced."))


class EventInProgress(Exception):
    """The same SES event is being applied by another run right now."""


def handle(message: str, sns_message_id: str | None = None) -> dict[str, int]:
    """Apply one SNS message; malformed and unknown ones are logged and acknowledged."""
    outcome = {"applied": 0, "duplicate": 0, "unknown": 0, "malformed": 0, "ignored": 0}
    try:
        events = parse_ses_events(message, sns_message_id)
    except MalformedEvent as error:
        logger.warning("malformed SES event in SNS message %s: %s", sns_message_id, error)
        outcome["malformed"] += 1
        return outcome
    for event in events:
        if event.kind in ("open", "click") and settings().our_tracker:
            # Our pixel and click links count these; SES's would count them twice (ENGAGEMENT_TRACKER).
            outcome["ignored"] += 1
            continue
        record = _record_for(event)
        if record is None:
            logger.info("SES event %s for %s names no mail we sent", event.kind, event.ses_message_id)
            outcome["unknown"] += 1
            continue
        if event.kind == "delivery":
            outcome["applied" if _deliver(event, record) else "duplicate"] += 1
            continue
        claim = _claim(event)
        if claim.state == claims.BUSY:
            # Another run is applying it now: fail, so that SNS retries after that run is done or gone.
            raise EventInProgress(f"SES event {event.kind} {event.event_id} is being applied by another run")
        if not claim.held:
            outcome["duplicate"] += 1
            continue
        try:
            _apply(event, record)
            from chalicelib.identities import reputation  # the tenant's own bounce and complaint rates

            reputation.record_outcome(record.tenant_id, event.kind, event.bounce_type,
                                      copy_shard(record.tracking_pixel_id))
        except Exception:
            claim.release()  # let the SNS retry apply it; every change above is safe to repeat
            raise
        claim.finish("applied")
        outcome["applied"] += 1
    return outcome


def handle_lambda_event(event: dict[str, Any]) -> list[dict[str, int]]:
    """Every SNS record of a Lambda invocation; one bad record never fails the others."""
    results = []
    for record in event.get("Records", []):
        sns = record.get("Sns", {})
        results.append(handle(sns.get("Message", ""), sns.get("MessageId")))
    return results
