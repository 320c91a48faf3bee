"""Tracking tables: a record per copy sent (keyed by its tracking pixel id), the suppression list, processed SES events.

DiscussionEmailTracking: one record per message and recipient, keyed by its tracking pixel id.

Keying the table by the 128-bit pixel id makes a pixel open or a click one UpdateItem; the
`by_discussion` index serves statistics and `by_ses_message` correlates SES events.
"""
from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.claims import ClaimMap
from chalicelib.db import table_meta
from chalicelib.tables import Table


class ByDiscussionIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_discussion"
        projection = AllProjection()

    discussion_key = UnicodeAttribute(hash_key=True)    # tenant#discussion
    message_recipient = UnicodeAttribute(range_key=True)  # message_id#recipient


class BySesMessageIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_ses_message"
        projection = AllProjection()

    ses_message_id = UnicodeAttribute(hash_key=True)


class FailedCopiesIndex(GlobalSecondaryIndex):
    """Sparse: only copies not finished yet (queued, being sent, or refused by SES for now) carry `retry_shard`, so
    the sweeper reads those and nothing else. (Named when it held failed copies only; renaming a GSI of a live table
    means dropping and rebuilding it.)"""
    class Meta:
        index_name = "failed_copies"
        projection = AllProjection()

    retry_shard = UnicodeAttribute(hash_key=True)
    message_recipient = UnicodeAttribute(range_key=True)


class EmailTracking(Table):
    Meta = table_meta("email-tracking")

    tracking_pixel_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    discussion_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    recipient_email = UnicodeAttribute()
    recipient_type = UnicodeAttribute(null=True)
    discussion_key = UnicodeAttribute()
    message_recipient = UnicodeAttribute()
    state = UnicodeAttribute()                # queued | sending | sent | failed | uncertain (mail/send.py)
    failure_reason = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    claim = ClaimMap(null=True)               # who is sending it, until when, how far (chalicelib/claims.py)
    queued_at = UnicodeAttribute(null=True)   # when it was (last) queued: the sweeper's measure of a lost job
    ses_message_id = UnicodeAttribute(null=True)
    email_message_id = UnicodeAttribute(null=True)
    links = ListAttribute[Any](of=UnicodeAttribute, default=list)  # [Any]: plain strings (see community/models.py)
    sent_at = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    opened_at = UnicodeAttribute(null=True)
    open_count = NumberAttribute(default=0)
    machine_open_count = NumberAttribute(default=0)
    human_opened_at = UnicodeAttribute(null=True)
    clicked_at = UnicodeAttribute(null=True)
    click_count = NumberAttribute(default=0)
    bounced_at = UnicodeAttribute(null=True)
    bounce_type = UnicodeAttribute(null=True)
    bounce_reason = UnicodeAttribute(null=True)
    complained_at = UnicodeAttribute(null=True)   # beside the bounce fields: a complaint after a bounce stays visible
    user_agent = UnicodeAttribute(null=True)
    ip_address = UnicodeAttribute(null=True)
    # Set by the first open or click counted in its message's id sets (TrackingCounter.opened_ids…); absent while the
    # copy is counted, if at all, in the numeric counters (its first open came through a link made before the id
    # sets, 2026-12-03): chalicelib/tracking/counters.py says why a copy is counted in one of the two, never both.
    counted_by_id = BooleanAttribute(null=True)
    retry_shard = UnicodeAttribute(null=True)
    soft_bounce_run = BooleanAttribute(null=True)  # its recipient was counting soft bounces when it was written

    by_discussion = ByDiscussionIndex()
    by_ses_message = BySesMessageIndex()
    failed_copies = FailedCopiesIndex()

    RETRY_SHARDS = 8


class Suppression(Table):
    """The tenant's suppression list: one item per address that bounced or complained (or is counting soft bounces)."""
    Meta = table_meta("suppressions")

    tenant_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute(null=True)          # hard_bounce | complaint | soft_bounces
    detail = UnicodeAttribute(null=True)
    suppressed_at = UnicodeAttribute(null=True)   # absent while only soft bounces are being counted
    soft_bounces_in_a_row = NumberAttribute(default=0)


class ProcessedEvent(Table):
    """One item per (SES event type, event, recipient), claimed while it is applied and `applied` after; DynamoDB's
    TTL removes it after DEDUP_DAYS. The one claim that needs an item of its own: an SES event has no other."""
    Meta = table_meta("processed-events")

    event_key = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute()
    status = UnicodeAttribute(null=True)      # applying | applied (absent: written before claims had leases)
    claim = ClaimMap(null=True)


class TrackingCounter(Table):
    """Statistics of one message's copies, moved by the events that change them (chalicelib/tracking/counters.py):
    the tracking route reads a discussion's statistics with one Query, whatever the number of copies. A message's
    counts are spread over shards (`MESSAGE#NN`, a copy's shard) beside its own item (`MESSAGE`: moves of no one
    copy, and every item written before the shards); a reader sums them."""
    Meta = table_meta("tracking-counters")

    discussion_key = UnicodeAttribute(hash_key=True)   # tenant#discussion
    message_shard = UnicodeAttribute(range_key=True, attr_name="message_id")  # MESSAGE#NN, or MESSAGE
    total = NumberAttribute(default=0)
    sent = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    delivered = NumberAttribute(default=0)
    opened = NumberAttribute(default=0)
    human_opened = NumberAttribute(default=0)
    clicked = NumberAttribute(default=0)
    bounced = NumberAttribute(default=0)
    complained = NumberAttribute(default=0)
    # The tracking pixel ids of the copies opened, opened by a person, clicked: each count is the set's size plus the
    # number above (copies counted before the sets). Adding an id already there changes nothing.
    opened_ids = UnicodeSetAttribute(null=True)
    human_opened_ids = UnicodeSetAttribute(null=True)
    clicked_ids = UnicodeSetAttribute(null=True)


MODELS = (EmailTracking, Suppression, ProcessedEvent, TrackingCounter)
