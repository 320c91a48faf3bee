"""PynamoDB models of the discussions feature; each is one DynamoDB table, keyed for the API's access patterns.

Key design (no Scan anywhere):
- Discussion: (tenant_id, discussion_id); GSIs list a tenant's discussions newest activity first
  by status, by status+type, and by linked context. Participants (at most MAX_PARTICIPANTS) and each
  internal participant's read position live on the item, so one GetItem serves a discussion.
- Message: (discussion_key, message_id), message ids sort by creation time.
- Membership: one item per participant and discussion, indexed by participant+status and activity,
  for the `participant` filter.
- Counter: (tenant_id, counter_key) numbers kept in the same transactions as the changes that move them:
  `category#<status>#<type>` and `unread#<user_id>`.
- Attachment: (discussion_key, attachment_id) metadata of a file stored in S3.
"""
from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.db import table_meta
from chalicelib.tables import Table

DISCUSSION_TYPES = (
    "quote", "invoice", "document", "freelancer", "project", "general",
    "client", "crew", "equipment", "logistics", "venue", "change", "issue",
)
STATUSES = ("active", "archived", "closed")
CONTEXT_TYPES = ("quote", "invoice", "project", "client")
PARTICIPANT_ROLES = ("owner", "participant", "cc", "bcc")
RECIPIENT_TYPES = ("client_contact", "freelancer", "external")
MAX_PARTICIPANTS = 40  # keeps every message transaction well under DynamoDB's 100-item limit


class ParticipantMap(MapAttribute):
    id = UnicodeAttribute()
    user_id = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    role = UnicodeAttribute()
    recipient_type = UnicodeAttribute(null=True)
    freelancer_node_id = UnicodeAttribute(null=True)
    is_external_freelancer = BooleanAttribute(default=False)
    added_at = UnicodeAttribute()
    # Set by the SES events feature when this address bounced hard or complained.
    email_status = UnicodeAttribute(null=True)

    @property
    def is_staff(self) -> bool:
        """One of the business's own users: a user account that is neither a client contact nor a freelancer."""
        return bool(self.user_id) and not self.recipient_type and not self.is_external_freelancer


class ByStatusIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    tenant_status = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class ByStatusTypeIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status_type"
        projection = AllProjection()

    tenant_status_type = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class ByContextIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_context"
        projection = AllProjection()

    tenant_context = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class Discussion(Table):
    Meta = table_meta("discussions")

    tenant_id = UnicodeAttribute(hash_key=True)
    discussion_id = UnicodeAttribute(range_key=True)
    subject = UnicodeAttribute()
    discussion_type = UnicodeAttribute()
    status = UnicodeAttribute()
    context_type = UnicodeAttribute(null=True)
    context_id = UnicodeAttribute(null=True)
    email_thread_id = UnicodeAttribute()
    message_count = NumberAttribute(default=0)
    last_activity_at = UnicodeAttribute()
    last_message_preview = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    participants = ListAttribute(of=ParticipantMap, default=list)
    # user_id -> message_count that user has read up to; present for internal participants only.
    read_positions = MapAttribute[str, Any](default=dict)
    version = NumberAttribute(default=0)
    # Index keys, derived from the fields above on every write.
    tenant_status = UnicodeAttribute()
    tenant_status_type = UnicodeAttribute()
    tenant_context = UnicodeAttribute(null=True)
    activity_key = UnicodeAttribute()

    by_status = ByStatusIndex()
    by_status_type = ByStatusTypeIndex()
    by_context = ByContextIndex()


class AttachmentMap(MapAttribute):
    id = UnicodeAttribute()
    filename = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    s3_key = UnicodeAttribute()


class OutboxIndex(GlobalSecondaryIndex):
    """Sparse: only external messages not yet emailed to every recipient carry `outbox_key`."""
    class Meta:
        index_name = "outbox"
        projection = KeysOnlyProjection()

    outbox_key = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)


class Message(Table):
    Meta = table_meta("messages")

    discussion_key = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    discussion_id = UnicodeAttribute()
    author = UnicodeAttribute()
    author_type = UnicodeAttribute(default="user")
    body = UnicodeAttribute()
    is_internal = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
    email_message_id = UnicodeAttribute(null=True)
    email_in_reply_to = UnicodeAttribute(null=True)
    attachments = ListAttribute(of=AttachmentMap, default=list)
    raw_s3_key = UnicodeAttribute(null=True)
    outbox_key = UnicodeAttribute(null=True)

    outbox = OutboxIndex()


class ByParticipantActivityIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_participant_activity"
        projection = KeysOnlyProjection()

    participant_status = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class Membership(Table):
    Meta = table_meta("memberships")

    participant_key = UnicodeAttribute(hash_key=True)   # tenant#u:<user_id> or tenant#e:<email>
    discussion_id = UnicodeAttribute(range_key=True)
    participant_status = UnicodeAttribute()             # participant_key#status
    activity_key = UnicodeAttribute()

    by_participant_activity = ByParticipantActivityIndex()


class Counter(Table):
    Meta = table_meta("counters")

    tenant_id = UnicodeAttribute(hash_key=True)
    counter_key = UnicodeAttribute(range_key=True)
    value = NumberAttribute(default=0)


class Attachment(Table):
    Meta = table_meta("attachments")

    discussion_key = UnicodeAttribute(hash_key=True)
    attachment_id = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    discussion_id = UnicodeAttribute()
    message_id = UnicodeAttribute(null=True)
    filename = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    s3_key = UnicodeAttribute()
    uploaded_by = UnicodeAttribute()
    created_at = UnicodeAttribute()


MODELS = (Discussion, Message, Membership, Counter, Attachment)
