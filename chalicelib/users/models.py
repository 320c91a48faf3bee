"""The user directory table: one item per user of a tenant, with their notification preferences.

Users with a digest to send carry `digest_due_at` (UTC) and a `digest_shard`; the sparse `digest_due` index
on those two is how the hourly digest finds who is due without reading anyone else.
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.db import table_meta
from chalicelib.tables import Table

DIGEST_SHARDS = 16


class DigestDueIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "digest_due"
        projection = KeysOnlyProjection()

    digest_shard = UnicodeAttribute(hash_key=True)
    digest_due_at = UnicodeAttribute(range_key=True)


class UserProfile(Table):
    Meta = table_meta("users")

    tenant_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)   # the token's user id; community UserIds as decimal strings
    email = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)          # E.164, for urgent and high notifications by SMS
    digest_frequency = UnicodeAttribute(null=True)  # never | daily | weekly | monthly; unset = tenant default
    timezone = UnicodeAttribute(null=True)       # IANA name; unset = UTC
    digest_hour = NumberAttribute(null=True)     # local hour the digest goes out; unset = 8
    unsubscribed_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    digest_shard = UnicodeAttribute(null=True)
    digest_due_at = UnicodeAttribute(null=True)
    # Moved by every notification that waits for the digest: an empty digest run only unschedules the user
    # if nothing arrived since it looked.
    digest_pending_version = NumberAttribute(null=True)

    digest_due = DigestDueIndex()


MODELS = (UserProfile,)
