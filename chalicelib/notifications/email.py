"""Emailing one notification at once (instant delivery): claimed once, sent once, its outcome recorded.

The claim is on the notification (chalicelib/claims.py), so a retried job or a duplicate queue message never
sends the same notification twice; a run that died before SES is taken over, one that died while SES had the
email is listed for an operator. An email SES refuses falls back to the user's digest instead of being lost.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from chalicelib import claims, clock
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


def _describe(item: Notification) -> tuple[str, dict[str, Any]]:
    return item.tenant_id, {"user_id": item.user_id, "notification_id": item.notification_id, "title": item.title}


# An instant email: its lease outlasts the Lambdas that send it (jobs 300 s, ses_events 60 s).
EMAIL = claims.Work(kind="notification_email", status=Notification.email_status, claim=Notification.email_claim,
                    ready=(None,), lease_seconds=330, describe=_describe)


def deliver_now(tenant_id: str, user_id: str, notification_id: str, kind: str, content: EmailContent,
                recipient: Recipient) -> str:
    """Email one stored notification; returns its email status (`already claimed` if it was handled before).
    Raises jobs.RetryLater while another run is emailing it."""
    from chalicelib import jobs

    claim = claims.take(Notification(user_key(tenant_id, user_id), notification_id), EMAIL)
    if claim.state == claims.BUSY:
        raise jobs.RetryLater(claim.retry_in, f"notification {notification_id} is being emailed by another run")
    if claim.state == claims.UNCERTAIN:
        return claims.UNCERTAIN
    if not claim.held:
        return "already claimed"
    status, ses_id = _send(claim, tenant_id, user_id, notification_id, kind, content, recipient)
    actions = [Notification.email_sent_at.set(clock.now_iso()), set_or_remove(Notification.ses_message_id, ses_id)] \
        if status == "sent" else []
    claim.finish(status, actions)
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


def _send(claim: claims.Claim[Notification], tenant_id: str, user_id: str, notification_id: str, kind: str,
          content: EmailContent, recipient: Recipient) -> tuple[str, str | None]:
    from chalicelib.mail import ses

    reason = blocked(tenant_id, recipient)
    if reason:
        return reason, None
    context = {"title": content.title, "excerpt": content.excerpt, "link": content.link, "reason": content.reason,
               "extra_lines": content.extra_lines, "recipient_name": recipient.name,
               "unsubscribe_url": unsubscribe.url_for(tenant_id, user_id)}
    rendered = rendering.render(tenant_id, kind, context)
    claim.reach(claims.CALLING)
    try:
        ses_id = send_email(tenant_id, user_id, recipient, f"notification.{notification_id}", rendered,
                            content.attachments)
        return "sent", ses_id
    except ses.SendFailed:
        logger.warning("notification %s to user %s not sent", notification_id, user_id, exc_info=True)
        return "failed", None


def resend_uncertain(item_key: list[Any]) -> str:
    """An admin says this uncertain notification email did not arrive: it goes in the user's next digest."""
    from chalicelib.mail import communication
    from chalicelib.notifications import service
    from chalicelib.notifications.schedule import effective_frequency, next_due
    from chalicelib.users import service as users

    key, notification_id = str(item_key[0]), str(item_key[1])
    try:
        item = Notification.get(key, notification_id)
    except Notification.DoesNotExist:
        return "gone"
    if not claims.reopen(EMAIL, item, "failed"):
        return "no longer uncertain"
    profile = users.profile_of(item.tenant_id, item.user_id)
    frequency = effective_frequency(profile.digest_frequency if profile else None,
                                    communication.get(item.tenant_id).default_digest_frequency)
    hour = int(profile.digest_hour) if profile is not None and profile.digest_hour is not None else None
    moment = next_due(frequency, profile.timezone if profile else None, hour, clock.now())
    service.defer_to_digest(item.tenant_id, item.user_id, notification_id,
                            clock.iso(moment) if moment else clock.now_iso())
    return "in the user's next digest"
