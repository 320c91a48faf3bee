"""Emailing one notification at once (instant delivery): claimed once, sent once, its outcome recorded.

The claim is a conditional write on the notification, so a retried job or a duplicate queue message never
sends the same notification twice. An email SES refuses falls back to the user's digest instead of being lost.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from pynamodb.exceptions import UpdateError

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.mail import compose
from chalicelib.notifications.models import Notification
from chalicelib.notifications.service import user_key

logger = logging.getLogger(__name__)


@dataclass
class EmailContent:
    subject: str
    title: str
    excerpt: str | None
    link: str | None
    reason: str
    extra_lines: list[str] = field(default_factory=list)
    attachments: list[compose.Attachment] = field(default_factory=list)


def deliver_now(tenant_id: str, user_id: str, notification_id: str, content: EmailContent) -> str:
    """Email one stored notification; returns its email status (`already claimed` if another run has it)."""
    record = Notification(user_key(tenant_id, user_id), notification_id)
    try:
        record.update(actions=[Notification.email_status.set("sending")],
                      condition=Notification.notification_id.exists() & Notification.email_status.does_not_exist())
    except UpdateError:
        return "already claimed"
    status, ses_id = _send(tenant_id, user_id, notification_id, content)
    actions = [Notification.email_status.set(status)]
    if status == "sent":
        actions += [Notification.email_sent_at.set(clock.now_iso()), Notification.ses_message_id.set(ses_id)]
    elif status == "failed":
        actions.append(Notification.delivery.set("digest"))  # the next digest carries it
    record.update(actions=actions)
    return status


def _token(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def _send(tenant_id: str, user_id: str, notification_id: str, content: EmailContent) -> tuple[str, str | None]:
    from chalicelib.mail import ses
    from chalicelib.mail import settings as communication
    from chalicelib.tracking import suppression
    from chalicelib.users.service import get_many

    profile = get_many(tenant_id, [user_id]).get(user_id)
    if profile is None or not profile.email:
        return "no_address", None
    config = communication.get(tenant_id)
    if not (config.email_integration_enabled and config.from_address):
        return "no_sender", None
    if suppression.suppressed_among(tenant_id, [profile.email]):
        return "suppressed", None
    domain = config.email_reply_domain or settings().default_reply_domain
    raw = compose.build_notification(compose.NotificationEmail(
        sender=compose.Person(config.from_address, config.from_name), recipient=compose.Person(profile.email,
                                                                                               profile.name),
        subject=content.subject, message_id=f"<notification.{notification_id}.{_token(user_id)}@{domain}>",
        title=content.title, excerpt=content.excerpt, link=content.link, reason=content.reason,
        extra_lines=content.extra_lines, attachments=content.attachments))
    try:
        return "sent", ses.send_raw(config.from_address, profile.email, raw, settings().ses_configuration_set)
    except ses.SendFailed:
        logger.warning("notification %s to user %s not sent", notification_id, user_id, exc_info=True)
        return "failed", None
