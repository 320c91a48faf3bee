"""HTTP routes of the discussions API (/api/tenant/threads): parse, call the service, shape the answer."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.db import parse_limit
from chalicelib.errors import ValidationError
from chalicelib.http import json_body, tenant_route
from chalicelib.lazy import lazy_module
from chalicelib.validation import boolean, choice, email_address, reject_unknown, text

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.discussions import attachments, models, service
    from chalicelib.discussions.models import Discussion, Message, ParticipantMap
    from chalicelib.mail import communication
else:
    attachments = lazy_module("chalicelib.discussions.attachments")
    service = lazy_module("chalicelib.discussions.service")
    models = lazy_module("chalicelib.discussions.models")
    communication = lazy_module("chalicelib.mail.communication")

blueprint = Blueprint(__name__)

BASE = "/api/tenant/threads"
MAX_MESSAGE_LENGTH = 100_000
MAX_ID_LENGTH = 64  # our ids are 36-character UUIDs; anything much longer is not one


# ---------------------------------------------------------------- shaping


def participant_json(participant: ParticipantMap) -> dict[str, Any]:
    return {
        "id": participant.id, "user_id": participant.user_id, "email": participant.email,
        "name": participant.name, "role": participant.role, "recipient_type": participant.recipient_type,
        "freelancer_node_id": participant.freelancer_node_id,
        "is_external_freelancer": bool(participant.is_external_freelancer),
        "email_status": participant.email_status, "added_at": participant.added_at,
    }


def discussion_json(item: Discussion, principal: Principal) -> dict[str, Any]:
    return {
        "id": item.discussion_id, "subject": item.subject, "discussion_type": item.discussion_type,
        "status": item.status, "context_type": item.context_type, "context_id": item.context_id,
        "email_thread_id": item.email_thread_id, "message_count": int(item.message_count),
        "last_activity_at": item.last_activity_at, "last_message_preview": item.last_message_preview,
        "created_by": item.created_by, "created_at": item.created_at,
        "participants": [participant_json(p) for p in item.participants],
        "read_state": service.read_state(item, principal.user_id),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.message_id, "author": message.author, "author_type": message.author_type,
        "body": message.body, "is_internal": bool(message.is_internal), "created_at": message.created_at,
        "email_message_id": message.email_message_id, "email_in_reply_to": message.email_in_reply_to,
        "attachments": [attachments.describe(a.filename, a.content_type, int(a.size), a.s3_key, a.id)
                        for a in message.attachments],
    }


def page_json(page: service.Page, principal: Principal) -> dict[str, Any]:
    return {"items": [discussion_json(d, principal) for d in page.items], "next_cursor": page.next_cursor}


# ---------------------------------------------------------------- parsing


def _participant_input(raw: Any, index: int) -> service.ParticipantInput:
    where = f"participants[{index}]"
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be an object", field=where)
    reject_unknown(raw, {"user_id", "email", "name", "role", "recipient_type", "freelancer_node_id",
                         "is_external_freelancer"}, prefix=f"{where}.")
    user_id = text(raw, "user_id", max_length=128, label=f"{where}.user_id")
    email = email_address(raw["email"], f"{where}.email") if raw.get("email") is not None else None
    if not user_id and not email:
        raise ValidationError(f"{where} needs a user_id (staff) or an email (external)", field=f"{where}.email")
    role = choice(raw, "role", ("participant", "cc", "bcc"), default="participant", label=f"{where}.role")
    freelancer_node_id = text(raw, "freelancer_node_id", max_length=128, label=f"{where}.freelancer_node_id")
    default_type = None if user_id else ("freelancer" if freelancer_node_id else "external")
    recipient_type = choice(raw, "recipient_type", models.RECIPIENT_TYPES, default=default_type,
                            label=f"{where}.recipient_type")
    return service.ParticipantInput(
        user_id=user_id, email=email, name=text(raw, "name", max_length=200, label=f"{where}.name"),
        role=role, recipient_type=recipient_type, freelancer_node_id=freelancer_node_id,
        is_external_freelancer=boolean(raw, "is_external_freelancer", default=bool(freelancer_node_id),
                                       label=f"{where}.is_external_freelancer"))


def _participants(body: dict[str, Any]) -> list[service.ParticipantInput]:
    raw = body.get("participants", [])
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError("participants must be a list", field="participants")
    return [_participant_input(entry, index) for index, entry in enumerate(raw)]


def _message_body(body: dict[str, Any], field: str = "body") -> str:
    return text(body, field, required=True, max_length=MAX_MESSAGE_LENGTH, single_line=False)


def _initial_message(body: dict[str, Any]) -> service.MessageInput | None:
    raw = body.get("initial_message")
    if raw is None:
        return None
    if isinstance(raw, str):
        return service.MessageInput(body=_message_body(body, "initial_message"))
    if isinstance(raw, dict):
        reject_unknown(raw, {"body", "is_internal"}, prefix="initial_message.")
        return service.MessageInput(
            body=text(raw, "body", required=True, max_length=MAX_MESSAGE_LENGTH, single_line=False,
                      label="initial_message.body"),
            is_internal=boolean(raw, "is_internal", label="initial_message.is_internal"))
    raise ValidationError("initial_message must be a string or an object with body", field="initial_message")


def _attachment_ids(body: dict[str, Any]) -> list[str]:
    """Ids of attachments uploaded to this discussion; each once (DynamoDB refuses a BatchGet naming a key twice,
    and a message listing a file twice is a client's mistake worth telling)."""
    raw = body.get("attachment_ids")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(i, str) and 0 < len(i) <= MAX_ID_LENGTH for i in raw):
        raise ValidationError("attachment_ids must be a list of attachment ids", field="attachment_ids")
    if len(set(raw)) != len(raw):
        raise ValidationError("attachment_ids lists the same attachment more than once", field="attachment_ids")
    return raw


def _query(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


# ---------------------------------------------------------------- routes


@tenant_route(blueprint, BASE, methods=("GET",))
def list_discussions(principal: Principal, request: Any) -> dict[str, Any]:
    query = _query(request)
    page = service.list_discussions(
        principal, status=service.validate_status(query.get("status")),
        discussion_type=service.validate_type(query.get("discussion_type")),
        participant=query.get("participant"),
        limit=parse_limit(query.get("limit")), cursor=query.get("cursor") or query.get("next_cursor"))
    return page_json(page, principal)


@tenant_route(blueprint, BASE, methods=("POST",), status=201)
def create_discussion(principal: Principal, request: Any) -> dict[str, Any]:
    body = json_body(request)
    reject_unknown(body, {"subject", "discussion_type", "context_type", "context_id", "initial_message",
                          "participants"})
    subject = text(body, "subject", required=True, max_length=998)
    discussion_type = choice(body, "discussion_type", models.DISCUSSION_TYPES, default="general")
    context_type = choice(body, "context_type", models.CONTEXT_TYPES)
    context_id = text(body, "context_id", max_length=128)
    if bool(context_type) != bool(context_id):
        missing = "context_id" if context_type else "context_type"
        raise ValidationError("context_type and context_id go together", field=missing)
    item, message = service.create_discussion(
        principal, subject=subject, discussion_type=discussion_type, context_type=context_type,
        context_id=context_id, initial_message=_initial_message(body), participants=_participants(body),
        reply_domain=communication.get(principal.tenant_id).email_reply_domain)
    result = discussion_json(item, principal)
    result["messages"] = [message_json(message)] if message else []
    return result


@tenant_route(blueprint, f"{BASE}/unread-count")
def unread_count(principal: Principal, request: Any) -> dict[str, Any]:
    return {"unread_count": service.unread_count(principal)}


@tenant_route(blueprint, f"{BASE}/category-counts")
def category_counts(principal: Principal, request: Any) -> dict[str, Any]:
    status = service.validate_status(_query(request).get("status"))
    counts = service.category_counts(principal, status)
    return {"status": status, "counts": counts, "total": sum(counts.values())}


@tenant_route(blueprint, BASE + "/by-context/{context_type}/{context_id}")
def by_context(principal: Principal, request: Any, context_type: str, context_id: str) -> dict[str, Any]:
    query = _query(request)
    page = service.list_by_context(principal, context_type, context_id, limit=parse_limit(query.get("limit")),
                                   cursor=query.get("cursor"))
    return page_json(page, principal)


@tenant_route(blueprint, BASE + "/{discussion_id}")
def get_discussion(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    query = _query(request)
    order = choice(query, "messages_order", ("asc", "desc"), default="asc")
    item = service.load(principal.tenant_id, discussion_id)
    page = service.list_messages(item, limit=parse_limit(query.get("messages_limit"), default=50,
                                                         field="messages_limit"),
                                 cursor=query.get("messages_cursor"), newest_first=order == "desc")
    result = discussion_json(item, principal)
    result["messages"] = [message_json(m) for m in page.items]
    result["messages_next_cursor"] = page.next_cursor
    return result


@tenant_route(blueprint, BASE + "/{discussion_id}/messages", methods=("POST",), status=201)
def add_message(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    body = json_body(request)
    reject_unknown(body, {"body", "is_internal", "attachment_ids"})
    attachment_ids = _attachment_ids(body)
    spec = service.MessageInput(body=_message_body(body), is_internal=boolean(body, "is_internal"))
    service.load(principal.tenant_id, discussion_id)  # 404 before looking at attachments
    if attachment_ids:
        spec.attachments = attachments.for_message(principal.tenant_id, discussion_id, attachment_ids)
    item, message = service.add_message(principal.tenant_id, discussion_id, spec, author=principal.user_id,
                                        author_user_id=principal.user_id)
    return {"message": message_json(message), "discussion": discussion_json(item, principal)}


@tenant_route(blueprint, BASE + "/{discussion_id}/participants", methods=("POST",), status=201)
def add_participants(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    body = json_body(request)
    if "participants" in body:
        reject_unknown(body, {"participants"})
        specs = _participants(body)
    else:
        specs = [_participant_input(body, 0)]
    if not specs:
        raise ValidationError("participants must not be empty", field="participants")
    item, added = service.add_participants(principal, discussion_id, specs)
    return {"added": [participant_json(p) for p in added], "discussion": discussion_json(item, principal)}


@tenant_route(blueprint, BASE + "/{discussion_id}/participants/{participant_id}", methods=("DELETE",))
def remove_participant(principal: Principal, request: Any, discussion_id: str,
                       participant_id: str) -> dict[str, Any]:
    return discussion_json(service.remove_participant(principal, discussion_id, participant_id), principal)


@tenant_route(blueprint, BASE + "/{discussion_id}/attachments", methods=("POST",), status=201)
def upload_attachment(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    body = json_body(request)
    reject_unknown(body, {"filename", "content_type", "content_base64"})
    filename = text(body, "filename", required=True, max_length=255)
    content_type = text(body, "content_type", required=True, max_length=255).lower()
    content = attachments.decode_content(body.get("content_base64"))
    record = attachments.upload(principal, discussion_id, filename=filename, content_type=content_type,
                                content=content)
    result = attachments.describe(record.filename, record.content_type, int(record.size), record.s3_key,
                                  record.attachment_id)
    result.update({"uploaded_by": record.uploaded_by, "created_at": record.created_at})
    return result


@tenant_route(blueprint, BASE + "/{discussion_id}/attachments")
def list_attachments(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    query = _query(request)
    service.load(principal.tenant_id, discussion_id)
    page = attachments.list_for_discussion(principal.tenant_id, discussion_id, parse_limit(query.get("limit")),
                                           query.get("cursor"))
    items = []
    for record in page.items:
        entry = attachments.describe(record.filename, record.content_type, int(record.size), record.s3_key,
                                     record.attachment_id)
        entry.update({"uploaded_by": record.uploaded_by, "created_at": record.created_at})
        items.append(entry)
    return {"items": items, "next_cursor": page.next_cursor}


def _status_route(action: str) -> None:
    def change(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
        return discussion_json(service.change_status(principal, discussion_id, action), principal)

    change.__name__ = f"{action}_discussion"
    tenant_route(blueprint, BASE + "/{discussion_id}/" + action, methods=("POST",))(change)


for _action in ("archive", "reopen", "close"):
    _status_route(_action)


@tenant_route(blueprint, BASE + "/{discussion_id}/read", methods=("POST",))
def mark_read(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    return discussion_json(service.mark_read(principal, discussion_id), principal)

