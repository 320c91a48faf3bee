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
