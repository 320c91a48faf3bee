"""Emailing one notification at once (instant delivery): claimed once, sent once, its outcome recorded.

The claim is a conditional write on the notification, so a retried job or a duplicate queue message never
sends the same notification twice. An email SES refuses falls back to the user's digest instead of being lost.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.db import set_or_remove
from chalicelib.mail import compose
from chalicelib.notifications import rendering, unsubscribe
from chalicelib.notifications.models import Notification
from chalicelib.notifications.service import user_key

logger = logging.getLogger(__name__)


@dataclass
class EmailContent:
    title: str
    excerpt: str | None
    link: str | None
    reason: str
    extra_lines: list[str] = field(default_factory=list)
    attachments: list[compose.Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class Recipient:
    """Where and how a user is written to: their address and name, and the tenant's sender."""
    email: str | None
    name: str | None
    sender: compose.Person | None
    reply_domain: str


def recipient_for(tenant_id: str, profile: Any, config: Any) -> Recipient:
    sender = (compose.Person(config.from_address, config.from_name)
              if config.email_integration_enabled and config.from_address else None)
    return Recipient(profile.email if profile else None, profile.name if profile else None, sender,
                     config.email_reply_domain or settings().default_reply_domain)


def _token(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def message_id_for(message_key: str, user_id: str, domain: str) -> str:
    """A Message-ID whose left part is a dot-atom: "digest.daily:2026-11-23" would be cut at the ':' by readers."""
    return f"<{compose.dot_atom(message_key)}.{_token(user_id)}@{domain}>"


def deliver_now(tenant_id: str, user_id: str, notification_id: str, kind: str, content: EmailContent,
                recipient: Recipient) -> str:
    """Email one stored notification; returns its email status (`already claimed` if another run has it)."""
    record = Notification(user_key(tenant_id, user_id), notification_id)
    try:
        record.update(actions=[Notification.email_status.set("sending")],
                      condition=Notification.notification_id.exists() & Notification.email_status.does_not_exist())
    except UpdateError:
        return "already claimed"
    status, ses_id = _send(tenant_id, user_id, notification_id, kind, content, recipient)
    actions: list[Action] = [Notification.email_status.set(status)]
    if status == "sent":
        actions += [Notification.email_sent_at.set(clock.now_iso()), set_or_remove(Notification.ses_message_id, ses_id)]
    record.update(actions=actions)
    return status


def send_email(tenant_id: str, user_id: str, recipient: Recipient, message_key: str,
               rendered: rendering.Rendered, attachments: list[compose.Attachment] | None = None) -> str:
    """Build and send one notification or digest email; returns the SES message id (raises SendFailed)."""
    from chalicelib.mail import ses

    if recipient.email is None or recipient.sender is None:
        raise ValueError("a blocked recipient (see `blocked`) is never sent to")
    raw = compose.build_notification(compose.NotificationEmail(
        sender=recipient.sender, recipient=compose.Person(recipient.email, recipient.name), subject=rendered.subject,
        message_id=message_id_for(message_key, user_id, recipient.reply_domain), text=rendered.text,
        html=rendered.html, unsubscribe_url=unsubscribe.url_for(tenant_id, user_id),
        list_id=f"<notifications.{recipient.reply_domain}>", attachments=attachments or [], date=clock.now()))
    return ses.send_raw(recipient.sender.email, recipient.email, raw, settings().ses_configuration_set)


def blocked(tenant_id: str, recipient: Recipient) -> str | None:
    """Why this user cannot be emailed now, or None."""
    from chalicelib.tracking import suppression

    if not recipient.email:
        return "no_address"
    if recipient.sender is None:
        return "no_sender"
    if suppression.suppressed_among(tenant_id, [recipient.email]):
        return "suppressed"
    from chalicelib.identities import reputation

    return "paused" if reputation.pause_reason(tenant_id) else None


def _send(tenant_id: str, user_id: str, notification_id: str, kind: str, content: EmailContent,
          recipient: Recipient) -> tuple[str, str | None]:
    from chalicelib.mail import ses

    reason = blocked(tenant_id, recipient)
    if reason:
        return reason, None
    context = {"title": content.title, "excerpt": content.excerpt, "link": content.link, "reason": content.reason,
               "extra_lines": content.extra_lines, "recipient_name": recipient.name,
               "unsubscribe_url": unsubscribe.url_for(tenant_id, user_id)}
    try:
        ses_id = send_email(tenant_id, user_id, recipient, f"notification.{notification_id}",
                            rendering.render(tenant_id, kind, context), content.attachments)
        return "sent", ses_id
    except ses.SendFailed:
        logger.warning("notification %s to user %s not sent", notification_id, user_id, exc_info=True)
        return "failed", None
