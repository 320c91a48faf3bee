"""The user directory table: one item per user of a tenant."""
from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta


class UserProfile(Model):
    Meta = table_meta("users")

    tenant_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)   # the token's user id; community UserIds as decimal strings
    email = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


MODELS = (UserProfile,)
