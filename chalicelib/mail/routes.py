"""Routes of mail: the tenant's communication settings, sending a discussion, and the inbound mail records."""
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


@tenant_route(blueprint, "/api/tenant/threads/{discussion_id}/send", methods=("POST",))
def send_discussion(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    body = json_body(request, required=False)
    reject_unknown(body, {"message_id"})
    message_id = text(body, "message_id", max_length=64)
    from chalicelib.mail import send  # the mail journeys load only when used

    return send.send_discussion(principal, discussion_id, message_id).as_json()


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
