"""Tables of notifications: one item per notification, and one unread counter per user."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta

PRIORITIES = ("urgent", "high", "normal", "low")


class Notification(Model):
    Meta = table_meta("notifications")

    user_key = UnicodeAttribute(hash_key=True)          # tenant#user
    notification_id = UnicodeAttribute(range_key=True)  # time-ordered; newest first when read backwards
    tenant_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    type = UnicodeAttribute()
    priority = UnicodeAttribute(default="normal")
    title = UnicodeAttribute()
    body = UnicodeAttribute(null=True)
    discussion_id = UnicodeAttribute(null=True)
    community_thread_id = NumberAttribute(null=True)
    community_message_id = NumberAttribute(null=True)
    delivery = UnicodeAttribute(default="digest")       # instant | digest (the digest job sends the latter)
    created_at = UnicodeAttribute()
    read_at = UnicodeAttribute(null=True)
    # Email of an instant notification: claimed (sending) once, then sent / failed / no_address / no_sender /
    # suppressed; never sent twice.
    email_status = UnicodeAttribute(null=True)
    email_sent_at = UnicodeAttribute(null=True)
    ses_message_id = UnicodeAttribute(null=True)


class NotificationCounter(Model):
    Meta = table_meta("notification-counters")

    user_key = UnicodeAttribute(hash_key=True)
    unread = NumberAttribute(default=0)


MODELS = (Notification, NotificationCounter)
