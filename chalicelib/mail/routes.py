"""Routes of mail: the tenant's communication settings, sending a discussion, copies whose sending is uncertain,
and the inbound mail records."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.http import Api, Roles
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.mail import communication, schemas
else:
    communication = lazy_module("chalicelib.mail.communication")

blueprint = Blueprint(__name__)
api = Api(blueprint, tag="email", models="chalicelib.mail.schemas")
SETTINGS = "/api/tenant/settings/communication"
ADMIN = Roles("admin", refusal="changing communication settings needs the admin role")
STAFF = Roles("admin", "staff", refusal="inbound mail records need the staff or admin role")


@api.route(SETTINGS, response="CommunicationSettings")
def get_settings(principal: Principal, request: Any) -> dict[str, Any]:
    """The tenant's communication settings"""
    return communication.as_json(communication.get(principal.tenant_id))


@api.route(SETTINGS, "PUT", body="CommunicationSettingsUpdate", response="CommunicationSettings", roles=ADMIN,
           errors=(409,))
def put_settings(principal: Principal, request: Any, body: schemas.CommunicationSettingsUpdate) -> dict[str, Any]:
    """Change communication settings (admin)

    Fields left out keep their value. `from_address` and `email_reply_domain` must be on a verified sending identity
    of this tenant (409 otherwise)."""
    return communication.as_json(communication.update(principal, body.given()))


@api.route("/api/tenant/threads/{discussion_id}/send", "POST", path_model="DiscussionPath", body="SendRequest",
           body_required=False, response="SendQueued", status=202, errors=(404, 409))
def send_discussion(principal: Principal, request: Any, discussion_id: str,
                    body: schemas.SendRequest) -> dict[str, Any]:
    """Queue the discussion's unsent messages for email to its external participants

    Records what is to be sent and answers at once, `202`: each queued message with its recipients and a
    `tracking_url` where each copy's state shows (`queued`, `sending`, `sent`, `failed` with its reason, or
    `uncertain`), as background jobs send one copy per recipient, in parallel and within the account's SES send
    rate. Without a body: the messages waiting in the outbox (at most 25 per call). With `message_id`: that message
    again, its copies already sent or on their way skipped (`already sent`, `in progress`), failed ones queued again.
    Suppressed addresses are skipped. `409` while email integration is disabled, on a closed discussion, for an
    internal note, or on `sending` while the tenant's sending is paused (GET /api/tenant/reputation). See
    docs/sending.md."""
    from chalicelib.mail import send  # the mail journeys load only when used

    return send.queue_send(principal, discussion_id, body.message_id).as_json()


UNCERTAIN_ADMIN = Roles("admin", refusal="uncertain sends need the admin role")
UNCERTAIN_FIELDS = ("discussion_id", "message_id", "recipient", "user_id", "notification_id", "title", "period",
                    "notification_count")  # the optional fields of schemas.UncertainSend


@api.route("/api/tenant/sending/uncertain", query="UncertainQuery", response="UncertainSendPage",
           roles=UNCERTAIN_ADMIN)
def list_uncertain(principal: Principal, request: Any, query: schemas.UncertainQuery) -> dict[str, Any]:
    """Emails and texts whose sending is uncertain (admin)

    Their sender was lost while SES (or SNS) had them: sent or not, nobody knows. Newest first."""
    from chalicelib import claims

    items, cursor = claims.list_uncertain(principal.tenant_id, query.limit, query.cursor)
    # Every field the document names, null where the kind has none (the answer is sent as made, chalicelib/http.py).
    return {"items": [{**dict.fromkeys(UNCERTAIN_FIELDS), **claims.as_json(item)} for item in items],
            "next_cursor": cursor}


@api.route("/api/tenant/sending/uncertain/{uncertain_id}", "POST", path_model="UncertainPath",
           body="UncertainSendResolve", response="UncertainSendResolved", roles=UNCERTAIN_ADMIN, errors=(404, 409))
def resolve_uncertain(principal: Principal, request: Any, uncertain_id: str,
                      body: schemas.UncertainSendResolve) -> dict[str, Any]:
    """Resend or dismiss an uncertain send (admin)"""
    from chalicelib import claims

    outcome = claims.resolve(principal.tenant_id, uncertain_id, body.action, principal.user_id)
    return {"id": uncertain_id, "action": body.action, "outcome": outcome}


def _inbound_record(record: Any) -> dict[str, Any]:
    return {"id": record.inbound_id, "outcome": record.outcome, "reason": record.reason,
            "discussion_id": record.discussion_id, "sender": record.sender, "subject": record.subject,
            "preview": record.preview, "received_at": record.received_at, "email_message_id": record.email_message_id,
            "message_id": record.message_id, "released_by": record.released_by, "released_at": record.released_at}


@api.route("/api/tenant/inbound/mail", query="InboundQuery", response="InboundMailPage", roles=STAFF)
def list_inbound_mail(principal: Principal, request: Any, query: schemas.InboundQuery) -> dict[str, Any]:
    """Every inbound mail and its outcome, newest first (staff or admin)"""
    from chalicelib.mail import receive  # the mail journeys load only when used

    items, cursor = receive.list_records(principal.tenant_id, query.outcome, query.limit, query.cursor)
    return {"items": [_inbound_record(item) for item in items], "next_cursor": cursor}


@api.route("/api/tenant/inbound/mail/{inbound_id}/release", "POST", path_model="InboundPath",
           response="ReleaseOutcome", roles=STAFF, errors=(404, 409))
def release_inbound_mail(principal: Principal, request: Any, inbound_id: str) -> dict[str, Any]:
    """Post an inbound mail that was not posted to its discussion anyway"""
    from chalicelib.mail import receive  # the mail journeys load only when used

    outcome = receive.release(principal.tenant_id, inbound_id, principal.user_id)
    return {"status": outcome.status, "reason": outcome.reason, "discussion_id": outcome.discussion_id,
            "message_id": outcome.message_id}


@api.route("/api/tenant/inbound/mail/{inbound_id}", "DELETE", path_model="InboundPath", response="DiscardedMail",
           roles=STAFF, errors=(404,))
def discard_inbound_mail(principal: Principal, request: Any, inbound_id: str) -> dict[str, Any]:
    """Delete an inbound mail record (staff or admin)"""
    from chalicelib.mail import receive  # the mail journeys load only when used

    receive.discard(principal.tenant_id, inbound_id)
    return {"id": inbound_id, "discarded": True}
