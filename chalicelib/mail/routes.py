"""Routes of mail: the tenant's communication settings, sending a discussion, copies whose sending is uncertain,
and the inbound mail records."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.db import parse_limit
from chalicelib.errors import Forbidden, ValidationError
from chalicelib.http import json_body, tenant_route
from chalicelib.lazy import lazy_module
from chalicelib.validation import reject_unknown, text

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.mail import communication
else:
    communication = lazy_module("chalicelib.mail.communication")

blueprint = Blueprint(__name__)


@tenant_route(blueprint, "/api/tenant/settings/communication")
def get_settings(principal: Principal, request: Any) -> dict[str, Any]:
    return communication.as_json(communication.get(principal.tenant_id))


@tenant_route(blueprint, "/api/tenant/settings/communication", methods=("PUT",))
def put_settings(principal: Principal, request: Any) -> dict[str, Any]:
    return communication.as_json(communication.update(principal, json_body(request)))


@tenant_route(blueprint, "/api/tenant/threads/{discussion_id}/send", methods=("POST",), status=202)
def send_discussion(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    """202: what was queued (docs/sending.md); the copies go out in the background, each shown by the tracking URL."""
    body = json_body(request, required=False)
    reject_unknown(body, {"message_id"})
    message_id = text(body, "message_id", max_length=64)
    from chalicelib.mail import send  # the mail journeys load only when used

    return send.queue_send(principal, discussion_id, message_id).as_json()


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("uncertain sends need the admin role")


@tenant_route(blueprint, "/api/tenant/sending/uncertain")
def list_uncertain(principal: Principal, request: Any) -> dict[str, Any]:
    """Emails and texts whose sender was lost while SES (or SNS) had them: sent or not, nobody knows."""
    _admin(principal)
    from chalicelib import claims

    query = request.query_params or {}
    items, cursor = claims.list_uncertain(principal.tenant_id, parse_limit(query.get("limit")), query.get("cursor"))
    return {"items": [claims.as_json(item) for item in items], "next_cursor": cursor}


@tenant_route(blueprint, "/api/tenant/sending/uncertain/{uncertain_id}", methods=("POST",))
def resolve_uncertain(principal: Principal, request: Any, uncertain_id: str) -> dict[str, Any]:
    """`{"action": "resend"}` (it did not arrive: send it again) or `{"action": "dismiss"}` (it did, or never mind)."""
    _admin(principal)
    body = json_body(request)
    reject_unknown(body, {"action"})
    action = text(body, "action", required=True, max_length=16)
    if action not in ("resend", "dismiss"):
        raise ValidationError("action must be resend or dismiss", field="action")
    from chalicelib import claims

    outcome = claims.resolve(principal.tenant_id, uncertain_id, action, principal.user_id)
    return {"id": uncertain_id, "action": action, "outcome": outcome}


def _staff(principal: Principal) -> None:
    if not ({"admin", "staff"} & set(principal.roles)):
        raise Forbidden("inbound mail records need the staff or admin role")


def _inbound_record(record: Any) -> dict[str, Any]:
    return {"id": record.inbound_id, "outcome": record.outcome, "reason": record.reason,
            "discussion_id": record.discussion_id, "sender": record.sender, "subject": record.subject,
            "preview": record.preview, "received_at": record.received_at, "email_message_id": record.email_message_id,
            "message_id": record.message_id, "released_by": record.released_by, "released_at": record.released_at}


@tenant_route(blueprint, "/api/tenant/inbound/mail")
def list_inbound_mail(principal: Principal, request: Any) -> dict[str, Any]:
    _staff(principal)
    query = request.query_params or {}
    from chalicelib.mail import receive  # the mail journeys load only when used

    outcome = query.get("outcome") or None
    if outcome is not None and outcome not in receive.OUTCOMES:
        raise ValidationError(f"outcome must be one of {', '.join(receive.OUTCOMES)}", field="outcome")
    items, cursor = receive.list_records(principal.tenant_id, outcome, parse_limit(query.get("limit")),
                                         query.get("cursor"))
    return {"items": [_inbound_record(item) for item in items], "next_cursor": cursor}


@tenant_route(blueprint, "/api/tenant/inbound/mail/{inbound_id}/release", methods=("POST",))
def release_inbound_mail(principal: Principal, request: Any, inbound_id: str) -> dict[str, Any]:
    _staff(principal)
    from chalicelib.mail import receive  # the mail journeys load only when used

    outcome = receive.release(principal.tenant_id, inbound_id, principal.user_id)
    return {"status": outcome.status, "reason": outcome.reason, "discussion_id": outcome.discussion_id,
            "message_id": outcome.message_id}


@tenant_route(blueprint, "/api/tenant/inbound/mail/{inbound_id}", methods=("DELETE",))
def discard_inbound_mail(principal: Principal, request: Any, inbound_id: str) -> dict[str, Any]:
    _staff(principal)
    from chalicelib.mail import receive  # the mail journeys load only when used

    receive.discard(principal.tenant_id, inbound_id)
    return {"id": inbound_id, "discarded": True}
