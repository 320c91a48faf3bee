"""Tenant API plumbing: authenticate, parse and bound the JSON body, turn ApiError into the error shape."""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.auth import Principal, authenticate
from chalicelib.config import settings
from chalicelib.errors import ApiError, PayloadTooLarge, ValidationError, as_unavailable

logger = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json"}


def error_response(error: ApiError) -> Response:
    return Response(body=error.body(), status_code=error.status, headers=dict(JSON_HEADERS))


def json_body(request: Any) -> dict[str, Any]:
    """The request body as a JSON object; 400 for anything else, 413 over the size cap."""
    raw = request.raw_body or b""
    if len(raw) > settings().max_request_bytes:
        raise PayloadTooLarge(f"request body is larger than {settings().max_request_bytes} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("request body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("request body must be a JSON object", field="body")
    return body


def tenant_route(blueprint: Blueprint, path: str, methods: tuple[str, ...] = ("GET",),
                 status: int = 200) -> Callable:
    """Declare a tenant route: the view gets the verified Principal, the request and the path parameters."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = blueprint.current_request
            try:
                principal: Principal = authenticate(request.headers)
                result = view(principal, request, **params)
            except ApiError as error:
                return error_response(error)
            except Exception as error:
                busy = as_unavailable(error)
                if busy is None:
                    raise
                logger.warning("throttled: %s", error)
                response = error_response(busy)
                response.headers["Retry-After"] = "1"
                return response
            if isinstance(result, Response):
                return result
            return Response(body=result, status_code=status, headers=dict(JSON_HEADERS))

        blueprint.route(path, methods=list(methods))(handler)
        return view

    return register


# Chalice answers a few requests itself, as {"Code", "Message"}: these are their codes in our error shape.
FRAMEWORK_CODES = {"UnsupportedMediaType": ("unsupported_media_type", "Content-Type"),
                   "MethodNotAllowedError": ("method_not_allowed", None),
                   "InternalServerError": ("internal_error", None)}


def framework_errors(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: Chalice's own answers (415 for a non-JSON Content-Type, 405, an unhandled 500) in the API
    family's one error shape, so a client of /api/tenant or /api/community meets only its documented errors."""
    response = get_response(request)
    body = response.body
    path = getattr(request, "path", "") or ""
    if response.status_code < 400 or not path.startswith("/api/") or not isinstance(body, dict) \
            or "Code" not in body or "Message" not in body:
        return response
    code, field = FRAMEWORK_CODES.get(body["Code"], ("error", None))
    message = "an internal error occurred" if response.status_code >= 500 else str(body["Message"])
    if path.startswith("/api/community/"):
        from chalicelib.community.envelope import CommunityError, FieldError

        reshaped = CommunityError(response.status_code, [FieldError(field or "", message)]).body()
    else:
        reshaped = ApiError(message, field).body()
        reshaped["error"]["code"] = code
    headers = {**(response.headers or {}), **JSON_HEADERS}
    return Response(body=reshaped, status_code=response.status_code, headers=headers)
