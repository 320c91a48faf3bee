"""Tables of sending identities and of each tenant's reputation (counts per day and its sending status)."""
from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.db import table_meta
from chalicelib.tables import Table


class ByTenantIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_tenant"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    identity = UnicodeAttribute(range_key=True)


class SendingIdentity(Table):
    """A domain or address one tenant sends as. Keyed by the identity alone, so the service holds at most one owner
    for it: the owner is written with a condition (absent, or already this tenant)."""
    Meta = table_meta("sending-identities")

    identity = UnicodeAttribute(hash_key=True)     # lower-cased domain or address
    tenant_id = UnicodeAttribute()
    kind = UnicodeAttribute()                      # domain | address
    status = UnicodeAttribute()                    # pending | verified | failed, as SES last said
    dkim_tokens = ListAttribute[Any](of=UnicodeAttribute, null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    checked_at = UnicodeAttribute(null=True)
    verified_at = UnicodeAttribute(null=True)
    by_tenant = ByTenantIndex()


class TenantReputation(Table):
    """Per tenant: the day's SES outcomes (delivered, bounced, complained, ADDed once per processed SES event) spread
    over shards, `day#YYYY-MM-DD#NN` with NN the shard of the copy the event is about (`day#YYYY-MM-DD` alone:
    written before the shards), and one `status` item saying whether its sending is paused, and why."""
    Meta = table_meta("tenant-reputation")

    tenant_id = UnicodeAttribute(hash_key=True)
    bucket = UnicodeAttribute(range_key=True)      # day#YYYY-MM-DD#NN | day#YYYY-MM-DD | status
    delivered = NumberAttribute(null=True)
    bounced = NumberAttribute(null=True)           # permanent (hard) bounces: what SES's bounce rate counts
    complained = NumberAttribute(null=True)
    state = UnicodeAttribute(null=True)            # status item: paused | active
    reason = UnicodeAttribute(null=True)
    changed_at = UnicodeAttribute(null=True)
    watched = BooleanAttribute(null=True)          # status item: over a level below the minimum volume (reputation.py)
    expires_at = NumberAttribute(null=True)        # day items: TTL, well after the window
    # status item, once an operator resumed the tenant: outcomes are judged from that day (`day#YYYY-MM-DD`) on, less
    # what that day had counted before the resume
    judged_since = UnicodeAttribute(null=True)
    baseline_delivered = NumberAttribute(null=True)
    baseline_bounced = NumberAttribute(null=True)
    baseline_complained = NumberAttribute(null=True)


MODELS = (SendingIdentity, TenantReputation)
