"""Tracking routes: the open pixel and click links (no auth: the unguessable id is the key), and statistics."""
from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib.auth import Principal
from chalicelib.config import settings
from chalicelib.errors import as_unavailable
from chalicelib.http import Api, Roles, error_response
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.discussions import service as discussions
    from chalicelib.tracking import ids, schemas, service, suppression
else:
    ids = lazy_module("chalicelib.tracking.ids")
    discussions = lazy_module("chalicelib.discussions.service")
    service = lazy_module("chalicelib.tracking.service")
    suppression = lazy_module("chalicelib.tracking.suppression")

blueprint = Blueprint(__name__)
logger = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache",
            "Expires": "0"}
_BINARY_ACCEPTS = ("image/", "*/*")


def _accepts_binary(accept: str | None) -> bool:
    return any(kind in (accept or "").lower() for kind in _BINARY_ACCEPTS)


@blueprint.route("/t/o/{pixel_file}", methods=["GET", "HEAD"])
def open_pixel(pixel_file: str) -> Response:
    """Record the open, then answer the GIF; where API Gateway could not pass binary (no image Accept), redirect."""
    request = blueprint.current_request
    try:
        hit = ids.read_pixel(pixel_file.removesuffix(".gif"))
        if hit is not None:
            service.record_open_from_request(hit, request)
    except Exception:
        # The reader must never see a broken image in their mail: the open is logged, and the pixel still answered.
        logger.exception("could not record an open of %s", pixel_file[:64])
    if _accepts_binary(request.headers.get("accept")):
        # HEAD (security scanners, link checkers) gets the headers a GET would, and no body (RFC 9110, 9.3.2).
        body = b"" if request.method == "HEAD" else PIXEL
        return Response(body=body, status_code=200,
                        headers={"Content-Type": "image/gif", **NO_CACHE})
    return Response(body="", status_code=302, headers={"Location": settings().static_pixel_url, **NO_CACHE})


@blueprint.route("/t/c/{token}", methods=["GET"])
def click(token: str) -> Response:
    request = blueprint.current_request
    identity = (request.context or {}).get("identity", {})
    hit = ids.read_click(token)  # None for a token we did not make (forged, altered): no call, no redirect
    try:
        target = service.record_click(hit.copy_id, hit.index, request.headers.get("user-agent"),
                                      identity.get("sourceIp"), hit.message, hit.url) if hit else None
    except Exception as error:
        busy = as_unavailable(error)
        if busy is None:
            raise
        # Without the record there is no destination to send the reader to: ask the browser to try again.
        response = error_response(busy)
        response.headers.update({"Retry-After": "1", **NO_CACHE})
        return response
    if target is None:
        return Response(body={"error": {"code": "not_found", "message": "unknown link"}}, status_code=404,
                        headers={"Content-Type": "application/json", **NO_CACHE})
    return Response(body="", status_code=302, headers={"Location": target, **NO_CACHE})


api = Api(blueprint, tag="tracking", models="chalicelib.tracking.schemas")
ADMIN = Roles("admin", refusal="the suppression list needs the admin role")


@api.route("/api/tenant/threads/{discussion_id}/tracking", path_model="DiscussionPath", query="TrackingQuery",
           response="ThreadTracking", errors=(404,))
def tracking(principal: Principal, request: Any, discussion_id: str, query: schemas.TrackingQuery) -> dict[str, Any]:
    """Email statistics of a discussion"""
    discussion = discussions.load(principal.tenant_id, discussion_id)
    return {"thread_id": discussion.discussion_id, **service.discussion_statistics(
        discussions.discussion_key(principal.tenant_id, discussion.discussion_id), query.message_id, query.limit,
        query.cursor)}


@api.route("/api/tenant/suppressions", query="SuppressionsQuery", response="SuppressionPage", roles=ADMIN)
def list_suppressions(principal: Principal, request: Any, query: schemas.SuppressionsQuery) -> dict[str, Any]:
    """The suppression list (admin)"""
    items, cursor = suppression.list_page(principal.tenant_id, query.limit, query.cursor)
    return {"items": [suppression.as_json(item) for item in items], "next_cursor": cursor}


@api.route("/api/tenant/suppressions/{email}", "DELETE", path_model="SuppressionPath", response="LiftedSuppression",
           roles=ADMIN, errors=(404,))
def lift_suppression(principal: Principal, request: Any, email: str) -> dict[str, Any]:
    """Lift a suppression (admin)

    `400` for an invalid address, `404` when it is not suppressed."""
    suppression.lift(principal.tenant_id, email)
    return {"email": email, "lifted": True}
