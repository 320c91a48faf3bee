"""Routes of sending identities (/api/tenant/identities) and of the tenant's sending reputation (admin only)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.http import Api, Roles
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.identities import reputation, schemas, service
else:
    reputation = lazy_module("chalicelib.identities.reputation")
    service = lazy_module("chalicelib.identities.service")

blueprint = Blueprint(__name__)
api = Api(blueprint, tag="sending", models="chalicelib.identities.schemas")
BASE = "/api/tenant/identities"
ADMIN = Roles("admin", refusal="sending identities are managed by the admin role")


@api.route(BASE, "POST", body="IdentityInput", response="SendingIdentity", status=201, roles=ADMIN, errors=(409,))
def register_identity(principal: Principal, request: Any, body: schemas.IdentityInput) -> dict[str, Any]:
    """Register a sending domain or address (admin)

    The first tenant to register an identity owns it; another tenant gets 409. A domain answers the DKIM records
    to publish."""
    return service.as_json(service.register(principal, body.identity))


@api.route(BASE, response="SendingIdentityList", roles=ADMIN)
def list_identities(principal: Principal, request: Any) -> dict[str, Any]:
    """The tenant's sending identities (admin)"""
    return {"items": [service.as_json(item) for item in service.list_for(principal)]}


@api.route(BASE + "/{identity}", path_model="IdentityPath", response="SendingIdentity", roles=ADMIN, errors=(404,))
def get_identity(principal: Principal, request: Any, identity: str) -> dict[str, Any]:
    """One sending identity, as SES sees it now (admin)"""
    return service.as_json(service.get(principal, unquote(identity)))


@api.route(BASE + "/{identity}", "DELETE", path_model="IdentityPath", response="RemovedIdentity", roles=ADMIN,
           errors=(404, 409))
def remove_identity(principal: Principal, request: Any, identity: str) -> dict[str, Any]:
    """Give a sending identity up (admin)

    409 while the communication settings send or receive with it."""
    service.remove(principal, unquote(identity))
    return {"identity": unquote(identity).lower(), "removed": True}


@api.route("/api/tenant/reputation", response="Reputation",
           roles=Roles("admin", refusal="the sending reputation is shown to the admin role"))
def get_reputation(principal: Principal, request: Any) -> dict[str, Any]:
    """The tenant's sending reputation and whether its sending is paused (admin)"""
    return reputation.as_json(reputation.report(principal))
