"""The caller's notifications: list (paged), mark read, unread count."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.db import parse_limit
from chalicelib.http import tenant_route
from chalicelib.notifications import service

blueprint = Blueprint(__name__)
BASE = "/api/tenant/notifications"


@tenant_route(blueprint, BASE)
def list_notifications(principal: Principal, request: Any) -> dict[str, Any]:
    query = request.query_params or {}
    items, cursor = service.list_page(principal.tenant_id, principal.user_id, parse_limit(query.get("limit")),
                                      query.get("cursor"))
    return {"items": [service.as_json(item) for item in items], "next_cursor": cursor}


@tenant_route(blueprint, f"{BASE}/unread-count")
def unread_count(principal: Principal, request: Any) -> dict[str, Any]:
    return {"unread_count": service.unread_count(principal.tenant_id, principal.user_id)}


@tenant_route(blueprint, BASE + "/{notification_id}/read", methods=("POST",))
def mark_read(principal: Principal, request: Any, notification_id: str) -> dict[str, Any]:
    service.mark_read(principal.tenant_id, principal.user_id, notification_id)
    return {"id": notification_id, "read": True,
            "unread_count": service.unread_count(principal.tenant_id, principal.user_id)}
