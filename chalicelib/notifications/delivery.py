"""The one way anything notifies people: store the notification, then email / text it now or leave it for the digest.

Rules (seed: Email Digest; issue #7):
- urgent and high → an email at once, whatever the digest frequency (daily, weekly or monthly), and an SMS
  when the tenant enables SMS and the user has a phone number;
- a community thread with InstantDelivery → an email at once;
- everything else waits for the user's digest (daily, weekly or monthly, in their time zone);
- `never` → no notification email at all, urgent and high included; the notification is still listed in the
  API, and urgent and high still go by SMS (the phone number is its own opt-in). `never` wins over priority
  because it is what the one-click unsubscribe link of *every* notification email sets (RFC 8058): an urgent
  email's own unsubscribe link must stop urgent emails too.
"""
from __future__ import annotations

from collections.abc import Iterable

from chalicelib import clock
from chalicelib.notifications import email, service, sms
from chalicelib.notifications.schedule import effective_frequency, next_due


def deliver(tenant_id: str, user_ids: Iterable[str], notification_id: str, item: service.NewNotification,
            content: email.EmailContent) -> dict[str, str]:
    """Notify each user once (a rerun changes nothing): 1 BatchGet of the users, 1 transaction per 33 of them,
    plus the email or SMS that is due now. Returns each user's outcome."""
    from chalicelib.mail import communication
    from chalicelib.users.service import get_many

    users = list(dict.fromkeys(user_ids))
    if not users:
        return {}
    config = communication.recent(tenant_id)
    profiles = get_many(tenant_id, users)
    frequencies = {user_id: effective_frequency(profiles[user_id].digest_frequency if user_id in profiles else None,
                                                config.default_digest_frequency) for user_id in users}
    dues = {user_id: _digest_due(frequencies[user_id], profiles.get(user_id)) for user_id in users}
    waiting = {user_id: due if item.delivery == "digest" else None for user_id, due in dues.items()}
    service.notify_many(tenant_id, waiting, notification_id, item)
    outcomes: dict[str, str] = {}
    for user_id in users:
        profile, frequency, due = profiles.get(user_id), frequencies[user_id], dues[user_id]
        outcome = "digest" if waiting[user_id] else "listed"
        if item.delivery == "instant" and frequency != "never":
            outcome = email.deliver_now(tenant_id, user_id, notification_id, item.type, content,
                                        email.recipient_for(tenant_id, profile, config))
            if outcome == "failed" and due is not None:
                service.defer_to_digest(tenant_id, user_id, notification_id, due)
        if item.priority in ("urgent", "high") and config.sms_enabled and profile is not None and profile.phone:
            sms.deliver_now(tenant_id, user_id, notification_id, profile.phone, item.title)
        outcomes[user_id] = outcome
    return outcomes


def _digest_due(frequency: str, profile: object | None) -> str | None:
    moment = next_due(frequency, getattr(profile, "timezone", None), _hour(profile), clock.now())
    return clock.iso(moment) if moment else None


def _hour(profile: object | None) -> int | None:
    hour = getattr(profile, "digest_hour", None)
    return int(hour) if hour is not None else None
