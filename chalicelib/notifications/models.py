"""Tables of notifications: one item per notification, and one unread counter per user."""
from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.claims import ClaimMap
from chalicelib.db import table_meta
from chalicelib.tables import Table

PRIORITIES = ("urgent", "high", "normal", "low")


class PendingDigestIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "pending_digest"
        projection = AllProjection()

    digest_user_key = UnicodeAttribute(hash_key=True)
    notification_id = UnicodeAttribute(range_key=True)


class Notification(Table):
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
    # suppressed, or uncertain (its sender was lost while SES had it: listed for an operator); never sent twice.
    # Of a digested one: digest (in the email), read (read in the app first, so left out), never (the user
    # unsubscribed meanwhile), uncertain (its digest is), or why the user could not be emailed.
    email_status = UnicodeAttribute(null=True)
    email_claim = ClaimMap(null=True)                   # chalicelib/claims.py
    email_sent_at = UnicodeAttribute(null=True)
    ses_message_id = UnicodeAttribute(null=True)
    sms_status = UnicodeAttribute(null=True)            # sending | sent | failed | uncertain
    sms_claim = ClaimMap(null=True)
    context_label = UnicodeAttribute(null=True)         # the discussion or thread it is about, for digests
    link = UnicodeAttribute(null=True)
    internal = BooleanAttribute(null=True)              # about an internal note: staff only
    # tenant#user while the notification waits for the user's digest (sparse index); removed once sent.
    digest_user_key = UnicodeAttribute(null=True)

    pending_digest = PendingDigestIndex()


class DigestRun(Table):
    """One digest per user and period (e.g. daily:2026-11-23): claimed before sending, so never sent twice."""
    Meta = table_meta("digest-runs")

    user_key = UnicodeAttribute(hash_key=True)
    period_key = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()                          # sending | sent | released | uncertain | no_address | …
    claim = ClaimMap(null=True)                          # chalicelib/claims.py
    notification_count = NumberAttribute(default=0)
    ses_message_id = UnicodeAttribute(null=True)
    # The notifications SES took in this digest, written before they leave the pending index: a run that died
    # after sending is finished by the retry (they are marked sent) instead of mailing them again next period.
    notification_ids = ListAttribute[Any](null=True)
    claimed_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)              # TTL: runs are kept 400 days


class NotificationTemplate(Table):
    """A tenant's own wording for one notification type (Jinja2, rendered sandboxed); the repo's files otherwise."""
    Meta = table_meta("notification-templates")

    tenant_id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute(range_key=True)
    subject = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    html = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class NotificationCounter(Table):
    Meta = table_meta("notification-counters")

    user_key = UnicodeAttribute(hash_key=True)
    unread = NumberAttribute(default=0)


MODELS = (Notification, NotificationCounter, DigestRun, NotificationTemplate)
