"""Tenant communication settings: email integration switch, reply domain, sender and signature."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, ValidationError
from chalicelib.mail.models import CommunicationSettings
from chalicelib.notifications.schedule import FREQUENCIES, valid_zone
from chalicelib.validation import boolean, choice, domain_name, email_address, reject_unknown, text

MAX_SIGNATURE = 2000
FIELDS = ("email_integration_enabled", "email_reply_domain", "from_address", "from_name", "email_signature",
          "default_digest_frequency", "sms_enabled", "time_zone")


def get(tenant_id: str) -> CommunicationSettings:
    try:
        return CommunicationSettings.get(tenant_id)
    except DoesNotExist:
        return CommunicationSettings(tenant_id, email_integration_enabled=False)


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


def update(principal: Principal, body: dict[str, Any]) -> CommunicationSettings:
    """Change the given fields (admin only); fields left out keep their value."""
    if not principal.is_admin:
        raise Forbidden("changing communication settings needs the admin role")
    reject_unknown(body, FIELDS)
    item = get(principal.tenant_id)
    if "email_integration_enabled" in body:
        item.email_integration_enabled = boolean(body, "email_integration_enabled")
    if "email_reply_domain" in body:
        domain = text(body, "email_reply_domain", max_length=253)
        item.email_reply_domain = domain_name(domain, "email_reply_domain") if domain else None
    if "from_address" in body:
        item.from_address = (email_address(body["from_address"], "from_address")
                             if body["from_address"] is not None else None)
    _require_own_identities(principal.tenant_id, body, item)
    if "from_name" in body:
        item.from_name = text(body, "from_name", max_length=200)
    if "email_signature" in body:
        item.email_signature = text(body, "email_signature", max_length=MAX_SIGNATURE, single_line=False)
    if "default_digest_frequency" in body:
        item.default_digest_frequency = choice(body, "default_digest_frequency", FREQUENCIES)
    if "sms_enabled" in body:
        item.sms_enabled = boolean(body, "sms_enabled")
    if "time_zone" in body:
        item.time_zone = _time_zone(body)
    if item.email_integration_enabled and not (item.email_reply_domain and item.from_address):
        missing = "email_reply_domain" if not item.email_reply_domain else "from_address"
        raise ValidationError(f"{missing} is needed to enable email integration", field=missing)
    item.updated_at = clock.now_iso()
    item.updated_by = principal.user_id
    item.save()
    return item


def _time_zone(body: dict[str, Any]) -> str | None:
    """The zone dates in outbound mail are written in ("On Mon, 30 Nov 2026 at 23:56, … wrote:")."""
    zone = text(body, "time_zone", max_length=64)
    if zone is not None and not valid_zone(zone):
        raise ValidationError("time_zone must be an IANA time zone such as Europe/Paris", field="time_zone")
    return zone or None
