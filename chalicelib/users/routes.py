"""User directory API: the addresses and names notifications are sent to."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.http import json_body, tenant_route
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.users import service
else:
    service = lazy_module("chalicelib.users.service")

blueprint = Blueprint(__name__)
BASE = "/api/tenant/users/{user_id}"


@tenant_route(blueprint, BASE)
def get_user(principal: Principal, request: Any, user_id: str) -> dict[str, Any]:
    return service.as_json(service.get(principal, user_id))


@tenant_route(blueprint, BASE, methods=("PUT",))
def put_user(principal: Principal, request: Any, user_id: str) -> dict[str, Any]:
    return service.as_json(service.update(principal, user_id, json_body(request)))
