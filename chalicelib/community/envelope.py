"""The community API's one response shape (seed: community-threads-api.txt), for successes and every error.

Success: {Status, Message, Value, OpenInDialog, OpenInWindow, RedirectURL, JavaScript, UpdatedOn, UpdatedBy,
Errors: null, WasSuccessful: true}. Failure: {Status, Message: "Prop: message | Prop: message", Value: null,
Errors: [{AttemptedValue, Message, PropertyName}], WasSuccessful: false}, with the HTTP status in Status.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice import Blueprint, Response

from chalicelib.auth import Principal, authenticate
from chalicelib.errors import ApiError, as_unavailable

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class FieldError:
    property_name: str
    message: str
    attempted_value: Any = None

    def as_json(self) -> dict[str, Any]:
        return {"AttemptedValue": self.attempted_value, "Message": self.message, "PropertyName": self.property_name}


class CommunityError(Exception):
    """A failed community request: its HTTP status and the field errors reported in the envelope."""

    def __init__(self, status: int, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.property_name}: {e.message}" for e in errors))
        self.status = status
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {
            "Status": self.status,
            "Message": " | ".join(f"{e.property_name}: {e.message}" if e.property_name else e.message
                                  for e in self.errors),
            "Value": None,
            "Errors": [error.as_json() for error in self.errors],
            "WasSuccessful": False,
        }


def invalid(errors: list[FieldError]) -> CommunityError:
    return CommunityError(400, errors)


def forbidden(message: str, property_name: str) -> CommunityError:
    return CommunityError(403, [FieldError(property_name, message)])


def not_found(entity: str, property_name: str = "Id", attempted: Any = None) -> CommunityError:
    return CommunityError(404, [FieldError(property_name, f"{entity} was not found.", attempted)])


def conflict(message: str, property_name: str) -> CommunityError:
    return CommunityError(409, [FieldError(property_name, message)])


def success(message: str, value: Any, updated_on: str | None, updated_by: str | None) -> dict[str, Any]:
    return {"Status": 200, "Message": message, "Value": value, "OpenInDialog": False, "OpenInWindow": False,
            "RedirectURL": None, "JavaScript": None, "UpdatedOn": updated_on, "UpdatedBy": updated_by,
            "Errors": None, "WasSuccessful": True}


def _from_api_error(error: ApiError) -> CommunityError:
    # Errors raised by shared plumbing (token checks, body size, signed cursors) keep their status.
    name = {"body": "Body", "cursor": "Cursor"}.get(error.field or "", error.field or "")
    if error.status == 401:
        name = "Authorization"
    return CommunityError(error.status, [FieldError(name, error.message)])


def community_route(blueprint: Blueprint, path: str, methods: tuple[str, ...] = ("GET",),
                    roles: tuple[str, ...] = ()) -> Callable:
    """Declare a community route: the view gets the verified Principal and the request; any failure is enveloped.

    `roles`: the caller needs `admin` or one of these before anything of the request is even read, so a caller
    without the role learns nothing from validation errors."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = blueprint.current_request
            try:
                principal: Principal = authenticate(request.headers)
                if roles and not (principal.is_admin or any(principal.has_role(role) for role in roles)):
                    raise forbidden("requires a full unrestricted administrator or the "
                                    + " or ".join(roles) + " role", "Authorization")
                result = view(principal, request, **params)
            except CommunityError as error:
                return Response(body=error.body(), status_code=error.status, headers=dict(JSON_HEADERS))
            except ApiError as error:
                enveloped = _from_api_error(error)
                return Response(body=enveloped.body(), status_code=enveloped.status, headers=dict(JSON_HEADERS))
            except Exception as error:
                busy = as_unavailable(error)
                if busy is None:
                    raise
                enveloped = _from_api_error(busy)
                return Response(body=enveloped.body(), status_code=503, headers={**JSON_HEADERS, "Retry-After": "1"})
            return Response(body=result, status_code=200, headers=dict(JSON_HEADERS))

        blueprint.route(path, methods=list(methods))(handler)
        return view

    return register
