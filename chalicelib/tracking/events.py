"""SES events through SNS → tracking records: parse both SES shapes, deduplicate, correlate, apply forward-only.

SNS delivers at least once and in any order (NOTES.md), so each (SES event, recipient) is applied
once, guarded by a conditional write with a TTL; first timestamps are only ever set if absent; a
bounce after a delivery wins and a delivery after a bounce erases nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib import clock
from chalicelib.db import table_meta
from chalicelib.tracking import suppression
from chalicelib.tracking.models import EmailTracking

logger = logging.getLogger(__name__)
DEDUP_DAYS = 7
BOUNCE_TYPES = {"Permanent": "hard", "Transient": "soft", "Undetermined": "soft"}


class ProcessedEvent(Model):
    """One item per applied (SES event, recipient); DynamoDB's TTL removes it after DEDUP_DAYS."""
    Meta = table_meta("processed-events")

    event_key = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute()


MODELS = (ProcessedEvent,)


class MalformedEvent(ValueError):
    """The SNS message is not an SES event we can read; logged and acknowledged, never retried."""


@dataclass(frozen=True)
class SesEvent:
    ses_message_id: str
    recipient: str | None
    kind: str
    occurred_at: str | None
    event_id: str
    bounce_type: str | None = None
    reason: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    link: str | None = None


def _stable_id(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def parse(message: str | dict[str, Any]) -> list[SesEvent]:
    """Both identity notifications (`notificationType`) and event publishing (`eventType`) → one event per recipient."""
    try:
        body = json.loads(message) if isinstance(message, str) else message
    except ValueError as error:
        raise MalformedEvent(f"message is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise MalformedEvent("message is not a JSON object")
    if "Message" in body and "Type" in body:  # an SNS HTTP envelope around the SES notification
        return parse(body["Message"])
    kind = body.get("eventType") or body.get("notificationType")
    mail = body.get("mail")
    if not isinstance(kind, str) or not isinstance(mail, dict) or not isinstance(mail.get("messageId"), str):
        raise MalformedEvent("not an SES event: eventType/notificationType and mail.messageId are required")
    ses_id = mail["messageId"]
    destination = [d.lower() for d in mail.get("destination", []) if isinstance(d, str)]
    only = destination[0] if len(destination) == 1 else None

    def each(name: str, recipients: Iterable[str | None], feedback_id: str | None = None,
             **fields: Any) -> list[SesEvent]:
        events = []
        for recipient in recipients:
            recipient = recipient.lower() if isinstance(recipient, str) else None
            # The same SES event re-published (a new SNS MessageId) still gets the same id.
            event_id = _stable_id(kind, ses_id, recipient, fields.get("occurred_at"), feedback_id)
            events.append(SesEvent(ses_message_id=ses_id, recipient=recipient, kind=name, event_id=event_id,
                                   **fields))
        return events

    try:
        if kind == "Bounce":
            bounce = body["bounce"]
            return each(
                "bounce", [r.get("emailAddress") for r in bounce.get("bouncedRecipients", [])],
                occurred_at=bounce.get("timestamp"), feedback_id=bounce.get("feedbackId"),
                bounce_type=BOUNCE_TYPES.get(bounce.get("bounceType"), "soft"),
                reason=_bounce_reason(bounce))
        if kind == "Complaint":
            complaint = body["complaint"]
            return each("complaint", [r.get("emailAddress") for r in complaint.get("complainedRecipients", [])],
                        occurred_at=complaint.get("timestamp"), feedback_id=complaint.get("feedbackId"),
                        bounce_type="complaint", reason=complaint.get("complaintFeedbackType") or "complaint")
        if kind == "Delivery":
            delivery = body["delivery"]
            return each("delivery", delivery.get("recipients", destination), occurred_at=delivery.get("timestamp"))
        if kind in ("Open", "Click"):
            detail = body[kind.lower()]
            return each(kind.lower(), [only], occurred_at=detail.get("timestamp"), user_agent=detail.get("userAgent"),
                        ip_address=detail.get("ipAddress"), link=detail.get("link"))
        if kind == "Reject":
            return each("reject", destination, occurred_at=mail.get("timestamp"),
                        reason=f"rejected by SES: {body['reject'].get('reason')}")
        if kind in ("Rendering Failure", "RenderingFailure"):
            return each("rendering_failure", destination, occurred_at=mail.get("timestamp"),
                        reason=f"rendering failed: {body['failure'].get('errorMessage')}")
        if kind == "DeliveryDelay":
            delay = body["deliveryDelay"]
            return each("delivery_delay", [r.get("emailAddress") for r in delay.get("delayedRecipients", [])],
                        occurred_at=delay.get("timestamp"), reason=delay.get("delayType"))
        if kind in ("Send", "Subscription", "Received"):
            return []
    except (KeyError, AttributeError, TypeError) as error:
        raise MalformedEvent(f"{kind} event is missing {error}") from None
    logger.info("ignoring SES event type %s", kind)
    return []


def _bounce_reason(bounce: dict[str, Any]) -> str:
    recipients = bounce.get("bouncedRecipients") or [{}]
    first = recipients[0] if isinstance(recipients[0], dict) else {}
    return first.get("diagnosticCode") or first.get("status") or \
        f"{bounce.get('bounceType')}/{bounce.get('bounceSubType')}"


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


def _claim(event: SesEvent) -> bool:
    key = f"ses#{event.event_id}"
    expires = int((clock.now() + timedelta(days=DEDUP_DAYS)).timestamp())
    try:
        ProcessedEvent(key, expires_at=expires).save(condition=ProcessedEvent.event_key.does_not_exist())
        return True
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


def _release(event: SesEvent) -> None:
    ProcessedEvent(f"ses#{event.event_id}").delete()


def _record_for(event: SesEvent) -> EmailTracking | None:
    records = list(EmailTracking.by_ses_message.query(event.ses_message_id, limit=10))
    if event.recipient:
        records = [r for r in records if r.recipient_email == event.recipient]
    return records[0] if len(records) == 1 else None


def _apply(event: SesEvent, record: EmailTracking) -> None:
    on = EmailTracking(record.tracking_pixel_id)
    when = _first_time(event)
    if event.kind == "delivery":
        on.update(actions=[EmailTracking.delivered_at.set(EmailTracking.delivered_at | when)])
        suppression.reset_soft_bounces(record.tenant_id, record.recipient_email)
    elif event.kind in ("bounce", "complaint"):
        kind = event.bounce_type or "soft"
        # A soft bounce never downgrades a hard bounce or a complaint already recorded.
        bounce_type = EmailTracking.bounce_type | kind if kind == "soft" else kind
        on.update(actions=[EmailTracking.bounced_at.set(EmailTracking.bounced_at | when),
                           EmailTracking.bounce_type.set(bounce_type),
                           EmailTracking.bounce_reason.set((event.reason or "")[:1000] or None)])
        _consequences(record, kind, event.reason)
    elif event.kind in ("open", "click"):
        count, first = ((EmailTracking.open_count, EmailTracking.opened_at) if event.kind == "open"
                        else (EmailTracking.click_count, EmailTracking.clicked_at))
        on.update(actions=[count.add(1), first.set(first | when), EmailTracking.user_agent.set(event.user_agent),
                           EmailTracking.ip_address.set(event.ip_address)])
    elif event.kind in ("reject", "rendering_failure"):
        on.update(actions=[EmailTracking.state.set("failed"), EmailTracking.failure_reason.set(event.reason)])


def _consequences(record: EmailTracking, kind: str, reason: str | None) -> None:
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
    discussions.mark_participant_email_status(record.tenant_id, record.thread_id, record.recipient_email,
                                              {"hard": "hard_bounce"}.get(kind, kind))


def handle(message: str, sns_message_id: str | None = None) -> dict[str, int]:
    """Apply one SNS message; malformed and unknown ones are logged and acknowledged."""
    outcome = {"applied": 0, "duplicate": 0, "unknown": 0, "malformed": 0}
    try:
        events = parse(message)
    except MalformedEvent as error:
        logger.warning("malformed SES event in SNS message %s: %s", sns_message_id, error)
        outcome["malformed"] += 1
        return outcome
    for event in events:
        record = _record_for(event)
        if record is None:
            logger.info("SES event %s for %s names no mail we sent", event.kind, event.ses_message_id)
            outcome["unknown"] += 1
            continue
        if not _claim(event):
            outcome["duplicate"] += 1
            continue
        try:
            _apply(event, record)
        except Exception:
            _release(event)  # let the SNS retry apply it; every change above is safe to repeat
            raise
        outcome["applied"] += 1
    return outcome


def handle_lambda_event(event: dict[str, Any]) -> list[dict[str, int]]:
    """Every SNS record of a Lambda invocation; one bad record never fails the others."""
    results = []
    for record in event.get("Records", []):
        sns = record.get("Sns", {})
        results.append(handle(sns.get("Message", ""), sns.get("MessageId")))
    return results
