"""Routes of sending identities (/api/tenant/identities) and of the tenant's sending reputation (admin only)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.http import json_body, tenant_route
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.identities import reputation, service
else:
    reputation = lazy_module("chalicelib.identities.reputation")
    service = lazy_module("chalicelib.identities.service")

blueprint = Blueprint(__name__)
BASE = "/api/tenant/identities"


@tenant_route(blueprint, BASE, methods=("POST",), status=201)
def register_identity(principal: Principal, request: Any) -> dict[str, Any]:
    return service.as_json(service.register(principal, json_body(request)))


@tenant_route(blueprint, BASE)
def list_identities(principal: Principal, request: Any) -> dict[str, Any]:
    return {"items": [service.as_json(item) for item in service.list_for(principal)]}


@tenant_route(blueprint, BASE + "/{identity}")
def get_identity(principal: Principal, request: Any, identity: str) -> dict[str, Any]:
    return service.as_json(service.get(principal, unquote(identity)))


@tenant_route(blueprint, BASE + "/{identity}", methods=("DELETE",))
def remove_identity(principal: Principal, request: Any, identity: str) -> dict[str, Any]:
    service.remove(principal, unquote(identity))
    return {"identity": unquote(identity).lower(), "removed": True}


@tenant_route(blueprint, "/api/tenant/reputation")
def get_reputation(principal: Principal, request: Any) -> dict[str, Any]:
    return reputation.as_json(reputation.report(principal))
