"""A user's notification preferences: digest frequency (tenant default, else daily), time zone, hour, phone."""
from __future__ import annotations

from typing import Any

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, NotFound, ValidationError
from chalicelib.notifications.models import NotificationTemplate
from chalicelib.notifications.rendering import TYPES, check, forget_override, samples_for
from chalicelib.notifications.schedule import effective_frequency, next_due


def get(principal: Principal) -> dict[str, Any]:
    from chalicelib.mail import communication
    from chalicelib.users import service as users

    return users.preferences_json(users.profile_of(principal.tenant_id, principal.user_id),
                                  communication.get(principal.tenant_id).default_digest_frequency)


def update(principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.mail import communication
    from chalicelib.users import service as users

    profile = users.update_preferences(principal, body)
    tenant_default = communication.get(principal.tenant_id).default_digest_frequency
    if profile.digest_due_at:
        # A digest already waiting moves to the new schedule (`never` is settled by the digest run itself).
        frequency = effective_frequency(profile.digest_frequency, tenant_default)
        hour = int(profile.digest_hour) if profile.digest_hour is not None else None
        due = next_due(frequency, profile.timezone, hour, clock.now())
        if due is not None:
            users.reschedule_digest(principal.tenant_id, principal.user_id, profile.digest_due_at, clock.iso(due))
            profile = users.profile_of(principal.tenant_id, principal.user_id) or profile
    return users.preferences_json(profile, tenant_default)


def _template_type(kind: str) -> str:
    if kind not in TYPES:
        raise NotFound(f"unknown notification type; one of: {', '.join(TYPES)}")
    return kind


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("notification templates need the admin role")


def template_json(kind: str, item: NotificationTemplate | None) -> dict[str, Any]:
    return {"type": kind, "customised": item is not None, "subject": item.subject if item else None,
            "text": item.text if item else None, "html": item.html if item else None,
            "updated_at": item.updated_at if item else None, "variables": sorted(samples_for(kind)[0])}


def get_template(principal: Principal, kind: str) -> dict[str, Any]:
    from chalicelib.notifications.rendering import override_of

    _admin(principal)
    return template_json(kind, override_of(principal.tenant_id, _template_type(kind)))


def put_template(principal: Principal, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A tenant's wording for one type: checked in the sandbox against sample data before it is saved. `body`: the
    parts sent, checked by the route (chalicelib/notifications/schemas.py)."""
    _admin(principal)
    kind = _template_type(kind)
    subject, plain, html = body.get("subject"), body.get("text"), body.get("html")
    problem = check(kind, subject, plain, html)
    if problem:
        field, reason = problem
        raise ValidationError(f"{field} does not render: {reason}", field=field)
    item = NotificationTemplate(principal.tenant_id, kind, subject=subject, text=plain, html=html,
                                updated_at=clock.now_iso(), updated_by=principal.user_id)
    item.save()
    forget_override(principal.tenant_id, kind)
    return template_json(kind, item)


def delete_template(principal: Principal, kind: str) -> dict[str, Any]:
    _admin(principal)
    NotificationTemplate(principal.tenant_id, _template_type(kind)).delete()
    forget_override(principal.tenant_id, _template_type(kind))
    return template_json(kind, None)
