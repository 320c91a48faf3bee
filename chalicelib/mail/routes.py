"""Routes of outbound mail: the tenant's communication settings and sending a discussion."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.http import json_body, tenant_route
from chalicelib.mail import send
from chalicelib.mail import settings as communication
from chalicelib.validation import reject_unknown, text

blueprint = Blueprint(__name__)


@tenant_route(blueprint, "/api/tenant/settings/communication")
def get_settings(principal: Principal, request: Any) -> dict[str, Any]:
    return communication.as_json(communication.get(principal.tenant_id))


@tenant_route(blueprint, "/api/tenant/settings/communication", methods=("PUT",))
def put_settings(principal: Principal, request: Any) -> dict[str, Any]:
    return communication.as_json(communication.update(principal, json_body(request)))


@tenant_route(blueprint, "/api/tenant/threads/{discussion_id}/send", methods=("POST",))
def send_discussion(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    body = json_body(request)
    reject_unknown(body, {"message_id"})
    message_id = text(body, "message_id", max_length=64)
    return send.send_discussion(principal, discussion_id, message_id).as_json()
