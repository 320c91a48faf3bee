"""SES events delivered through SNS → typed, per-recipient `SesEvent`s.

Pure parsing, no AWS and no storage. Accepts both SES shapes (NOTES.md, "SES events through SNS"):
identity notifications (`notificationType`: Bounce, Complaint, Delivery) and configuration-set
event publishing (`eventType`: Send, Reject, Bounce, Complaint, Delivery, Open, Click,
DeliveryDelay, Rendering Failure, Subscription). The input is the SNS `Message` string as Chalice's
`on_sns_message` hands it over (`event.message`), or a whole SNS envelope dict.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.contract.aws_events import AffectedRecipient, EventDetail

BOUNCE_TYPES = {"Permanent": "hard", "Transient": "soft", "Undetermined": "soft"}

# SES type name (both shapes, spaces dropped) → (our kind, the event's own object in SesNotification).
_KINDS: dict[str, tuple[str, str]] = {
    "Send": ("send", "send"),
    "Reject": ("reject", "reject"),
    "Bounce": ("bounce", "bounce"),
    "Complaint": ("complaint", "complaint"),
    "Delivery": ("delivery", "delivery"),
    "Open": ("open", "open"),
    "Click": ("click", "click"),
    "DeliveryDelay": ("delivery_delay", "delivery_delay"),
    "RenderingFailure": ("rendering_failure", "failure"),
    "Subscription": ("subscription", "subscription"),
}


class MalformedEvent(ValueError):
    """The SNS message is not an SES event we can read (bad JSON, not an object, no mail.messageId)."""


@dataclass(frozen=True)
class SesEvent:
    ses_message_id: str
    recipient: str | None
    kind: str
    occurred_at: str | None
    event_id: str
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    reason: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    link: str | None = None
    sns_message_id: str | None = None
    mail_headers: dict[str, str] = field(default_factory=dict, hash=False)
    tags: dict[str, list[str]] = field(default_factory=dict, hash=False)


def _stable_id(kind: str, message_id: str, recipient: str | None, timestamp: str | None) -> str:
    key = "\x1f".join([kind, message_id, recipient or "", timestamp or ""])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _load(message: Any, sns_message_id: str | None) -> tuple[dict | None, str | None]:
    """The SES notification dict and the SNS message id; (None, id) for SNS control messages."""
    from pydantic_core import ValidationError

    from chalicelib.contract.aws_events import SnsEnvelope

    if isinstance(message, bytes | bytearray):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"message is not UTF-8: {exc}") from exc
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except (ValueError, RecursionError) as exc:
            raise MalformedEvent(f"message is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise MalformedEvent(f"message is a {type(message).__name__}, not a JSON object")
    if "Type" in message and "Message" in message and "mail" not in message:  # an SNS envelope
        try:
            envelope = SnsEnvelope.model_validate(message)
        except ValidationError as exc:
            raise MalformedEvent(f"not an SNS message: {exc.errors(include_url=False)[0]['msg']}") from exc
        sns_message_id = envelope.MessageId or sns_message_id
        if envelope.Type != "Notification":
            return None, sns_message_id  # SubscriptionConfirmation, UnsubscribeConfirmation
        inner, _ = _load(envelope.Message, sns_message_id)
        return inner, sns_message_id
    return message, sns_message_id


def _recipients(kind: str, detail: EventDetail, destination: list[str]) -> list[tuple[str | None, AffectedRecipient]]:
    """Who an event is about: (address, that recipient's details) pairs."""
    from chalicelib.contract.aws_events import AffectedRecipient

    listed = {"bounce": detail.bounced_recipients, "complaint": detail.complained_recipients,
              "delivery_delay": detail.delayed_recipients}
    if kind in listed:
        return [(r.email_address, r) for r in listed[kind]]
    nobody = AffectedRecipient()
    if kind == "delivery":
        return [(r, nobody) for r in detail.recipients or destination]
    if kind in ("open", "click"):
        return [(destination[0] if len(destination) == 1 else None, nobody)]
    return [(d, nobody) for d in destination] or [(None, nobody)]  # send, reject, rendering_failure, subscription


def _classification(kind: str, detail: EventDetail) -> tuple[str | None, str | None]:
    """(bounce type, subtype): hard/soft for bounces, "complaint" and its feedback type for complaints."""
    if kind == "bounce":
        return BOUNCE_TYPES.get(detail.bounce_type or "", "soft"), detail.bounce_sub_type
    if kind == "complaint":
        return "complaint", detail.complaint_sub_type or detail.complaint_feedback_type
    return None, None


def _reason(detail: EventDetail, recipient: AffectedRecipient) -> str | None:
    return (recipient.diagnostic_code or recipient.status or detail.complaint_feedback_type or detail.reason
            or detail.error_message or detail.smtp_response or detail.delay_type)


def parse_ses_events(message: str | bytes | dict, sns_message_id: str | None = None) -> list[SesEvent]:
    """One `SesEvent` per affected recipient; [] for a valid message of a type we do not track.

    Raises `MalformedEvent` for bad JSON, a non-object, or an event without `mail.messageId`.
    """
    from pydantic_core import ValidationError

    from chalicelib.contract.aws_events import EventDetail, SesNotification

    data, sns_message_id = _load(message, sns_message_id)
    if data is None:
        return []
    try:
        notification = SesNotification.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]  # (the documentation URL would import pydantic to name its version)
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedEvent(f"not an SES event ({where}: {first['msg']})") from exc
    if notification.type_name is None:
        raise MalformedEvent("SES event without eventType or notificationType")
    known = _KINDS.get(notification.type_name.replace(" ", ""))
    if known is None:
        return []  # e.g. "Received" (inbound mail) or a type SES adds later
    kind, body_key = known
    detail = getattr(notification, body_key) or EventDetail()
    mail = notification.mail
    occurred_at = detail.timestamp or mail.timestamp
    recipients = _recipients(kind, detail, mail.destination)
    bounce_type, bounce_subtype = _classification(kind, detail)
    headers = mail.header_values()

    events = []
    seen: set[str | None] = set()
    for address, affected in recipients:
        recipient = address.strip().lower() if address and address.strip() else None
        if recipient in seen:
            continue
        seen.add(recipient)
        feedback_id = detail.feedback_id if kind in ("bounce", "complaint") else None
        event_id = (f"{feedback_id}:{recipient or ''}" if feedback_id and len(recipients) > 1 else feedback_id) \
            or _stable_id(kind, mail.message_id, recipient, occurred_at)
        events.append(SesEvent(
            ses_message_id=mail.message_id, recipient=recipient, kind=kind, occurred_at=occurred_at,
            event_id=event_id, bounce_type=bounce_type, bounce_subtype=bounce_subtype,
            reason=_reason(detail, affected), user_agent=detail.user_agent, ip_address=detail.ip_address,
            link=detail.link if kind == "click" else None, sns_message_id=sns_message_id,
            mail_headers=headers, tags=mail.tags,
        ))
    return events
