"""Tables of mail: tenant communication settings, the message-id index, reply keys and the inbound mail record."""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.claims import ClaimMap
from chalicelib.db import table_meta
from chalicelib.tables import Table


class CommunicationSettings(Table):
    """One item per tenant: the seed's communication settings."""
    Meta = table_meta("communication-settings")

    tenant_id = UnicodeAttribute(hash_key=True)
    email_integration_enabled = BooleanAttribute(default=False)
    email_reply_domain = UnicodeAttribute(null=True)
    from_address = UnicodeAttribute(null=True)
    from_name = UnicodeAttribute(null=True)
    email_signature = UnicodeAttribute(null=True)
    default_digest_frequency = UnicodeAttribute(null=True)  # for users who chose none; unset = daily
    sms_enabled = BooleanAttribute(default=False)
    time_zone = UnicodeAttribute(null=True)   # IANA name for dates in outbound mail; unset = UTC
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class MessageIdIndex(Table):
    """Every Message-ID we emit or receive → its discussion, so a reply's References finds its way home."""
    Meta = table_meta("message-ids")

    message_id_header = UnicodeAttribute(hash_key=True)   # lower-cased, without angle brackets
    tenant_id = UnicodeAttribute()
    discussion_id = UnicodeAttribute()
    message_id = UnicodeAttribute(null=True)
    recipient = UnicodeAttribute(null=True)
    origin = UnicodeAttribute()                           # thread | ours | ses | inbound
    # Inbound only: the claim of this delivery (mail/receive.py), when it was first claimed, and whether its
    # attachments are stored (message_id is set in the same transaction as the posted message, so a crash never
    # leaves a claim that hides a lost mail).
    status = UnicodeAttribute(null=True)                  # posting | posted
    claim = ClaimMap(null=True)
    claimed_at = UnicodeAttribute(null=True)
    attachments_stored = BooleanAttribute(null=True)


class ReplyKey(Table):
    """reply+KEY@reply-domain → the tenant, discussion and recipient the key was made for."""
    Meta = table_meta("reply-keys")

    reply_key = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    discussion_id = UnicodeAttribute()
    recipient = UnicodeAttribute()


class InboundByOutcome(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_outcome"
        projection = AllProjection()

    tenant_outcome = UnicodeAttribute(hash_key=True)     # "TENANT#OUTCOME"
    inbound_id = UnicodeAttribute(range_key=True)


class InboundRecord(Table):
    """Every inbound mail and what became of it (posted, quarantined, automatic, bounce, duplicate, unmatched),
    with its raw original's S3 key; kept `receive.RETENTION_DAYS` (DynamoDB TTL on expires_at)."""
    Meta = table_meta("inbound-mail")
    by_outcome = InboundByOutcome()

    tenant_id = UnicodeAttribute(hash_key=True)         # "_unmatched" when no discussion matched
    inbound_id = UnicodeAttribute(range_key=True)       # time-ordered; the same for a redelivery of the same mail
    tenant_outcome = UnicodeAttribute()
    outcome = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    discussion_id = UnicodeAttribute(null=True)
    matched_by = UnicodeAttribute(null=True)             # reply_key | references
    sender = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    preview = UnicodeAttribute(null=True)                # the start of the text, for staff to judge
    raw_s3_key = UnicodeAttribute()
    received_at = UnicodeAttribute()
    email_message_id = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)             # the discussion message, once posted
    released_by = UnicodeAttribute(null=True)
    released_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()                       # TTL (epoch seconds)


MODELS = (CommunicationSettings, MessageIdIndex, ReplyKey, InboundRecord)
