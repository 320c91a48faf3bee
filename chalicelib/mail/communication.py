"""Tenant communication settings: email integration switch, reply domain, sender and signature."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import cache, clock
from chalicelib.auth import Principal
from chalicelib.errors import ValidationError
from chalicelib.mail.models import CommunicationSettings

FIELDS = ("email_integration_enabled", "email_reply_domain", "from_address", "from_name", "email_signature",
          "default_digest_frequency", "sms_enabled", "time_zone")


def get(tenant_id: str) -> CommunicationSettings:
    try:
        return CommunicationSettings.get(tenant_id)
    except DoesNotExist:
        return as_read(tenant_id, None)


def as_read(tenant_id: str, item: CommunicationSettings | None) -> CommunicationSettings:
    """The settings as read with other items (db.get_many): a tenant that never saved any has email turned off."""
    return item if item is not None else CommunicationSettings(tenant_id, email_integration_enabled=False)


@cache.for_a_minute
def recent(tenant_id: str) -> CommunicationSettings:
    """The settings as read at most a minute ago: for background work that reads them user after user."""
    return get(tenant_id)


def as_json(item: CommunicationSettings) -> dict[str, Any]:
    return {"email_integration_enabled": bool(item.email_integration_enabled),
            "email_reply_domain": item.email_reply_domain, "from_address": item.from_address,
            "from_name": item.from_name, "email_signature": item.email_signature,
            "default_digest_frequency": item.default_digest_frequency or "daily", "sms_enabled": bool(item.sms_enabled),
            "time_zone": item.time_zone or "UTC",
            "updated_at": item.updated_at, "updated_by": item.updated_by}


def _require_own_identities(tenant_id: str, body: dict[str, Any], item: CommunicationSettings) -> None:
    """A tenant sends only as itself: a new from_address or reply domain must be on a verified sending identity of
    this tenant (chalicelib/identities), else 400/409 naming the field, and nothing is saved."""
    from chalicelib.identities import service as identities

    if body.get("from_address") is not None and item.from_address:
        identities.require_sender(tenant_id, item.from_address)
    if body.get("email_reply_domain") is not None and item.email_reply_domain:
        identities.require_reply_domain(tenant_id, item.email_reply_domain)


def update(principal: Principal, values: dict[str, Any]) -> CommunicationSettings:
    """Change the given fields (the route checked the admin role and every value: chalicelib/mail/schemas.py);
    fields left out keep their value."""
    item = get(principal.tenant_id)
    for name in FIELDS:
        if name in values:
            setattr(item, name, values[name])
    _require_own_identities(principal.tenant_id, values, item)
    if item.email_integration_enabled and not (item.email_reply_domain and item.from_address):
        missing = "email_reply_domain" if not item.email_reply_domain else "from_address"
        raise ValidationError(f"{missing} is needed to enable email integration", field=missing)
    item.updated_at = clock.now_iso()
    item.updated_by = principal.user_id
    item.save()
    recent.forget(principal.tenant_id)
    return item

