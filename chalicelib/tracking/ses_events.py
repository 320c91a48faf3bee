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
from typing import Any

BOUNCE_TYPES = {"Permanent": "hard", "Transient": "soft", "Undetermined": "soft"}

# SES type name (both shapes, spaces dropped) → (our kind, key of the event's own object).
_KINDS: dict[str, tuple[str, str]] = {
    "Send": ("send", "send"),
    "Reject": ("reject", "reject"),
    "Bounce": ("bounce", "bounce"),
    "Complaint": ("complaint", "complaint"),
    "Delivery": ("delivery", "delivery"),
    "Open": ("open", "open"),
    "Click": ("click", "click"),
    "DeliveryDelay": ("delivery_delay", "deliveryDelay"),
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
        sns_message_id = message.get("MessageId") or sns_message_id
        if message.get("Type") != "Notification":
            return None, sns_message_id  # SubscriptionConfirmation, UnsubscribeConfirmation
        inner, _ = _load(message["Message"], sns_message_id)
        return inner, sns_message_id
    return message, sns_message_id


def _recipients(kind: str, body: dict, destination: list[str]) -> list[tuple[str | None, dict]]:
    """Who an event is about: (address, that recipient's details) pairs."""
    listed = {"bounce": "bouncedRecipients", "complaint": "complainedRecipients", "delivery_delay": "delayedRecipients"}
    if kind in listed:
        return [(r.get("emailAddress"), r) for r in body.get(listed[kind]) or [] if isinstance(r, dict)]
    if kind == "delivery":
        return [(r, {}) for r in body.get("recipients") or destination]
    if kind in ("open", "click"):
        return [(destination[0] if len(destination) == 1 else None, {})]
    return [(d, {}) for d in destination] or [(None, {})]  # send, reject, rendering_failure, subscription


def _classification(kind: str, body: dict) -> tuple[str | None, str | None]:
    """(bounce type, subtype): hard/soft for bounces, "complaint" and its feedback type for complaints."""
    if kind == "bounce":
        return BOUNCE_TYPES.get(str(body.get("bounceType")), "soft"), body.get("bounceSubType")
    if kind == "complaint":
        return "complaint", body.get("complaintSubType") or body.get("complaintFeedbackType")
    return None, None


def parse_ses_events(message: str | bytes | dict, sns_message_id: str | None = None) -> list[SesEvent]:
    """One `SesEvent` per affected recipient; [] for a valid message of a type we do not track.

    Raises `MalformedEvent` for bad JSON, a non-object, or an event without `mail.messageId`.
    """
    data, sns_message_id = _load(message, sns_message_id)
    if data is None:
        return []
    mail = data.get("mail")
    if not isinstance(mail, dict) or not isinstance(mail.get("messageId"), str) or not mail["messageId"]:
        raise MalformedEvent("SES event without mail.messageId")
    type_name = data.get("eventType") or data.get("notificationType")
    if not isinstance(type_name, str):
        raise MalformedEvent("SES event without eventType or notificationType")
    known = _KINDS.get(type_name.replace(" ", ""))
    if known is None:
        return []  # e.g. "Received" (inbound mail) or a type SES adds later
    kind, body_key = known
    body = data.get(body_key)
    if not isinstance(body, dict):
        body = {}
    message_id = mail["messageId"]
    destination = [d for d in mail.get("destination") or [] if isinstance(d, str)]
    headers = {
        h["name"]: h["value"]
        for h in reversed(mail.get("headers") or [])  # reversed: the first occurrence wins
        if isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str)
    }
    tags = mail["tags"] if isinstance(mail.get("tags"), dict) else {}
    occurred_at = body.get("timestamp") or mail.get("timestamp")

    recipients = _recipients(kind, body, destination)
    bounce_type, bounce_subtype = _classification(kind, body)

    events = []
    seen: set[str | None] = set()
    for address, detail in recipients:
        recipient = address.strip().lower() if isinstance(address, str) and address.strip() else None
        if recipient in seen:
            continue
        seen.add(recipient)
        reason = (detail.get("diagnosticCode") or detail.get("status") or body.get("complaintFeedbackType")
                  or body.get("reason") or body.get("errorMessage") or body.get("smtpResponse")
                  or body.get("delayType"))
        feedback_id = body.get("feedbackId") if kind in ("bounce", "complaint") else None
        event_id = (f"{feedback_id}:{recipient or ''}" if feedback_id and len(recipients) > 1 else feedback_id) \
            or _stable_id(kind, message_id, recipient, occurred_at)
        events.append(SesEvent(
            ses_message_id=message_id,
            recipient=recipient,
            kind=kind,
            occurred_at=occurred_at,
            event_id=event_id,
            bounce_type=bounce_type,
            bounce_subtype=bounce_subtype,
            reason=reason,
            user_agent=body.get("userAgent"),
            ip_address=body.get("ipAddress"),
            link=body.get("link") if kind == "click" else None,
            sns_message_id=sns_message_id,
            mail_headers=headers,
            tags=tags,
        ))
    return events
