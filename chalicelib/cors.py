"""CORS: which browser origins may call the API and read /openapi.json (`CORS_ALLOWED_ORIGINS`, per stage).

None by default: a deployed stage answers no cross-origin browser until its `.chalice/config.json` names an origin
(a front-end, a docs portal). The docs page at /docs is on the API's own origin and needs none. `make run` allows
its local mailbox page. Requests without an allowed Origin are served exactly as before; CORS only tells a browser
whether a page of that origin may read the answer, it protects nothing on the server (the bearer token does).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from chalicelib.config import settings
from chalicelib.errors import Forbidden

# What a browser may send (the bearer token, JSON bodies) and read (the throttling hint) across origins.
ALLOWED_HEADERS = "Authorization, Content-Type"
EXPOSED_HEADERS = "Retry-After"
PREFLIGHT_MAX_AGE = "600"


def allowed_origin(origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for a request from `origin`, or None when it is not allowed."""
    origins = settings().cors_allowed_origins
    if not origin or not origins:
        return None
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def _headers_for(origin: str | None) -> dict[str, str]:
    if not settings().cors_allowed_origins:
        return {}
    allowed = allowed_origin(origin)
    headers = {} if "*" in settings().cors_allowed_origins else {"Vary": "Origin"}  # caches keep one per origin
    if allowed:
        headers.update({"Access-Control-Allow-Origin": allowed, "Access-Control-Expose-Headers": EXPOSED_HEADERS})
    return headers


def cors_headers(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: every answer (errors included, so a page can show them) says which origin may read it."""
    response = get_response(request)
    extra = _headers_for(request.headers.get("origin"))
    if extra:
        headers = dict(response.headers or {})
        vary = headers.get("Vary")
        if "Vary" in extra and isinstance(vary, str) and vary and "origin" not in vary.lower():
            extra["Vary"] = f"{vary}, Origin"
        response.headers = {**headers, **extra}
    return response


def add_preflight_routes(app: Chalice) -> None:
    """An OPTIONS route on every path of the app, answering CORS preflights.

    API Gateway passes a method to the function only where the API declares it, and Chalice's own `cors=` answers
    preflights from API Gateway with one origin fixed when the app is packaged; this answers them from the stage's
    list. Call it after every route is registered. OPTIONS is CORS, not an API operation: the OpenAPI document
    leaves it out.
    """

    def preflight(**_path: str) -> Response:
        request = app.current_request
        assert request is not None  # Chalice sets it before calling a view
        methods = sorted(set(app.routes[request.context["resourcePath"]]) | {"OPTIONS"})
        origin = allowed_origin(request.headers.get("origin"))
        asked = (request.headers.get("access-control-request-method") or "").upper()
        if origin is None or asked not in methods:
            error = Forbidden(f"a browser at this origin may not call {asked or 'this'} here (CORS_ALLOWED_ORIGINS)",
                              "Origin")
            return Response(body=error.body(), status_code=error.status, headers={"Content-Type": "application/json"})
        return Response(body="", status_code=204, headers={
            "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS, "Access-Control-Max-Age": PREFLIGHT_MAX_AGE})

    for path, methods in list(app.routes.items()):
        if "OPTIONS" not in methods:
            app.route(path, methods=["OPTIONS"])(preflight)
