"""User directory API: the addresses and names notifications are sent to."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.http import Api
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.users import schemas, service
else:
    service = lazy_module("chalicelib.users.service")

blueprint = Blueprint(__name__)
api = Api(blueprint, tag="users", models="chalicelib.users.schemas")
BASE = "/api/tenant/users/{user_id}"


@api.route(BASE, path_model="UserPath", response="UserProfile", errors=(403, 404))
def get_user(principal: Principal, request: Any, user_id: str) -> dict[str, Any]:
    """A user's address and name

    Anyone reads their own; another user's needs the admin role."""
    return service.as_json(service.get(principal, user_id))


@api.route(BASE, "PUT", path_model="UserPath", body="UserProfileUpdate", response="UserProfile", errors=(403, 404))
def put_user(principal: Principal, request: Any, user_id: str, body: schemas.UserProfileUpdate) -> dict[str, Any]:
    """Set a user's address and name

    An administrator sets anyone's; a user their own name (their address comes from the token)."""
    return service.as_json(service.update(principal, user_id, body.given()))
