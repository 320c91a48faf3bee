"""The caller's notifications (list, mark read, unread count), preferences, templates, and one-click unsubscribe."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib.auth import Principal
from chalicelib.http import Api, Roles
from chalicelib.lazy import lazy_module
from chalicelib.notifications import unsubscribe

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.notifications import preferences, schemas, service
else:
    preferences = lazy_module("chalicelib.notifications.preferences")
    service = lazy_module("chalicelib.notifications.service")

blueprint = Blueprint(__name__)
BASE = "/api/tenant/notifications"


api = Api(blueprint, tag="notifications", models="chalicelib.notifications.schemas")
TEMPLATES = "/api/tenant/notification-templates/{kind}"
ADMIN = Roles("admin", refusal="notification templates need the admin role")


@api.route(BASE, query="PageQuery", response="NotificationPage")
def list_notifications(principal: Principal, request: Any, query: schemas.PageQuery) -> dict[str, Any]:
    """The caller's notifications, newest first"""
    items, cursor = service.list_page(principal.tenant_id, principal.user_id, query.limit, query.cursor)
    return {"items": [service.as_json(item) for item in items], "next_cursor": cursor}


@api.route(f"{BASE}/unread-count", response="UnreadCount", name="notifications_unread_count")
def unread_count(principal: Principal, request: Any) -> dict[str, Any]:
    """The caller's unread notification count"""
    return {"unread_count": service.unread_count(principal.tenant_id, principal.user_id)}


@api.route(BASE + "/{notification_id}/read", "POST", path_model="NotificationPath", response="NotificationRead",
           name="notifications_mark_read",
           errors=(404,))
def mark_read(principal: Principal, request: Any, notification_id: str) -> dict[str, Any]:
    """Mark a notification read"""
    service.mark_read(principal.tenant_id, principal.user_id, notification_id)
    return {"id": notification_id, "read": True,
            "unread_count": service.unread_count(principal.tenant_id, principal.user_id)}


@api.route(f"{BASE}/preferences", response="Preferences")
def get_preferences(principal: Principal, request: Any) -> dict[str, Any]:
    """The caller's notification preferences"""
    return preferences.get(principal)


@api.route(f"{BASE}/preferences", "PUT", body="PreferencesUpdate", response="Preferences")
def put_preferences(principal: Principal, request: Any, body: schemas.PreferencesUpdate) -> dict[str, Any]:
    """Change the caller's notification preferences

    Fields left out keep their value; null clears one."""
    return preferences.update(principal, body.given())


@api.route(TEMPLATES, path_model="TemplatePath", response="NotificationTemplate", roles=ADMIN, errors=(404,))
def get_template(principal: Principal, request: Any, kind: str) -> dict[str, Any]:
    """The tenant's own wording for a notification type (admin)"""
    return preferences.get_template(principal, kind)


@api.route(TEMPLATES, "PUT", path_model="TemplatePath", body="NotificationTemplateUpdate",
           response="NotificationTemplate", roles=ADMIN, errors=(404,))
def put_template(principal: Principal, request: Any, kind: str,
                 body: schemas.NotificationTemplateUpdate) -> dict[str, Any]:
    """Set the tenant's wording for a notification type (admin)

    Each part must render against sample data within the sandbox's budget (400 naming the part otherwise)."""
    return preferences.put_template(principal, kind, body.given())


@api.route(TEMPLATES, "DELETE", path_model="TemplatePath", response="NotificationTemplate", roles=ADMIN,
           errors=(404,))
def delete_template(principal: Principal, request: Any, kind: str) -> dict[str, Any]:
    """Back to the built-in wording (admin)"""
    return preferences.delete_template(principal, kind)


def _page(status: int, title: str, body: str) -> Response:
    page = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            "<meta name=\"viewport\" content=\"width=device-width\"></head>"
            "<body style=\"font-family: sans-serif; max-width: 32em; margin: 3em auto;\">"
            f"<h1 style=\"font-size: 1.3em;\">{html.escape(title)}</h1>{body}</body></html>")
    return Response(body=page, status_code=status, headers={"Content-Type": "text/html; charset=utf-8",
                                                             "Cache-Control": "no-store"})


_INVALID = ("This link is not valid", "<p>It may have been changed or cut. Use the unsubscribe link of a recent "
            "email, or change your notification settings in the app.</p>")


@blueprint.route("/u/{token}", methods=["GET"])
def unsubscribe_page(token: str) -> Response:
    """Only a confirmation page: mail scanners open links, and opening one must not unsubscribe anyone."""
    if unsubscribe.verify(token) is None:
        return _page(400, *_INVALID)
    return _page(200, "Stop notification emails?",
                 f"<form method=\"post\" action=\"{html.escape(token)}\">"
                 "<p>You will get no more notification or summary emails. Your notifications stay in the app.</p>"
                 "<button type=\"submit\" name=\"List-Unsubscribe\" value=\"One-Click\">Unsubscribe</button></form>")


@blueprint.route("/u/{token}", methods=["POST"],
                 content_types=["application/x-www-form-urlencoded", "multipart/form-data", "text/plain",
                                "application/json"])
def unsubscribe_now(token: str) -> Response:
    """RFC 8058 one-click (the mail client POSTs `List-Unsubscribe=One-Click`) and the page's button."""
    from chalicelib.users.service import unsubscribe as stop_emails

    who = unsubscribe.verify(token)
    if who is None:
        return _page(400, *_INVALID)
    stop_emails(*who)
    return _page(200, "You are unsubscribed", "<p>You will get no more notification emails. You can turn them "
                                              "back on in your notification settings.</p>")
