"""Tables of outbound mail: tenant communication settings, the message-id index and reply keys."""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta


class CommunicationSettings(Model):
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


class MessageIdIndex(Model):
    """Every Message-ID we emit or receive → its discussion, so a reply's References finds its way home."""
    Meta = table_meta("message-ids")

    message_id_header = UnicodeAttribute(hash_key=True)   # lower-cased, without angle brackets
    tenant_id = UnicodeAttribute()
    discussion_id = UnicodeAttribute()
    message_id = UnicodeAttribute(null=True)
    recipient = UnicodeAttribute(null=True)
    origin = UnicodeAttribute()                           # thread | ours | ses | inbound
    # Inbound only: when this delivery was claimed, and whether its attachments are stored (message_id is set
    # in the same transaction as the posted message, so a crash never leaves a claim that hides a lost mail).
    claimed_at = UnicodeAttribute(null=True)
    attachments_stored = BooleanAttribute(null=True)


class ReplyKey(Model):
    """reply+KEY@reply-domain → the tenant, discussion and recipient the key was made for."""
    Meta = table_meta("reply-keys")

    reply_key = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    discussion_id = UnicodeAttribute()
    recipient = UnicodeAttribute()


class InboundMail(Model):
    """Inbound mail that was not posted (quarantined), kept with its reason and raw original for staff."""
    Meta = table_meta("inbound-quarantine")

    tenant_id = UnicodeAttribute(hash_key=True)         # "_unmatched" when no discussion matched
    inbound_id = UnicodeAttribute(range_key=True)       # time-ordered
    discussion_id = UnicodeAttribute(null=True)
    sender = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    reason = UnicodeAttribute()
    raw_s3_key = UnicodeAttribute()
    received_at = UnicodeAttribute()
    email_message_id = UnicodeAttribute(null=True)


MODELS = (CommunicationSettings, MessageIdIndex, ReplyKey, InboundMail)
