"""HTTP routes of the discussions API (/api/tenant/threads): parse, call the service, shape the answer."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.auth import Principal
from chalicelib.http import Api
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # the type checker sees the modules; at run time they load on first use
    from chalicelib.discussions import attachments, queries, schemas, service
    from chalicelib.discussions.models import Discussion, Message, ParticipantMap
    from chalicelib.mail import communication
else:
    attachments = lazy_module("chalicelib.discussions.attachments")
    service = lazy_module("chalicelib.discussions.service")
    communication = lazy_module("chalicelib.mail.communication")

blueprint = Blueprint(__name__)

BASE = "/api/tenant/threads"


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


# ---------------------------------------------------------------- routes

api = Api(blueprint, tag="discussions", models="chalicelib.discussions.schemas",
          params="chalicelib.discussions.queries")


def _participant_input(spec: schemas.ParticipantInput) -> service.ParticipantInput:
    return service.ParticipantInput(
        user_id=spec.user_id, email=spec.email, name=spec.name, role=spec.role, recipient_type=spec.recipient_type,
        freelancer_node_id=spec.freelancer_node_id, is_external_freelancer=bool(spec.is_external_freelancer))


@api.route(BASE, query="ListQuery", response="DiscussionPage")
def list_discussions(principal: Principal, request: Any, query: queries.ListQuery) -> dict[str, Any]:
    """List discussions, newest activity first"""
    page = service.list_discussions(
        principal, status=query.status, discussion_type=query.discussion_type, participant=query.participant,
        limit=query.limit, cursor=query.cursor or query.next_cursor)
    return page_json(page, principal)


@api.route(BASE, "POST", body="CreateDiscussion", response="CreatedDiscussion", status=201, errors=(409,))
def create_discussion(principal: Principal, request: Any, body: schemas.CreateDiscussion) -> dict[str, Any]:
    """Create a discussion

    The caller becomes the owner participant. `409` when a participant is listed twice."""
    first = body.message()
    item, message = service.create_discussion(
        principal, subject=body.subject, discussion_type=body.discussion_type, context_type=body.context_type,
        context_id=body.context_id,
        initial_message=service.MessageInput(body=first[0], is_internal=first[1]) if first else None,
        participants=[_participant_input(p) for p in body.participants or []],
        reply_domain=communication.get(principal.tenant_id).email_reply_domain)
    result = discussion_json(item, principal)
    result["messages"] = [message_json(message)] if message else []
    return result


@api.route(f"{BASE}/unread-count", response="UnreadCount", name="unread_count")
def unread_count(principal: Principal, request: Any) -> dict[str, Any]:
    """Active discussions with messages the caller has not read"""
    return {"unread_count": service.unread_count(principal)}


@api.route(f"{BASE}/category-counts", query="StatusQuery", response="CategoryCounts")
def category_counts(principal: Principal, request: Any, query: queries.StatusQuery) -> dict[str, Any]:
    """Discussion counts per discussion_type"""
    counts = service.category_counts(principal, query.status)
    return {"status": query.status, "counts": counts, "total": sum(counts.values())}


@api.route(BASE + "/by-context/{context_type}/{context_id}", path_model="ContextPath", query="PageQuery",
           response="DiscussionPage")
def by_context(principal: Principal, request: Any, context_type: str, context_id: str,
               query: schemas.PageQuery) -> dict[str, Any]:
    """Discussions linked to a quote, invoice, project or client"""
    page = service.list_by_context(principal, context_type, context_id, limit=query.limit, cursor=query.cursor)
    return page_json(page, principal)


@api.route(BASE + "/{discussion_id}", path_model="DiscussionPath", query="MessagesQuery",
           response="DiscussionWithMessages", errors=(404,))
def get_discussion(principal: Principal, request: Any, discussion_id: str,
                   query: schemas.MessagesQuery) -> dict[str, Any]:
    """A discussion with a page of its messages"""
    item = service.load(principal.tenant_id, discussion_id)
    page = service.list_messages(item, limit=query.messages_limit, cursor=query.messages_cursor,
                                 newest_first=query.messages_order == "desc")
    result = discussion_json(item, principal)
    result["messages"] = [message_json(m) for m in page.items]
    result["messages_next_cursor"] = page.next_cursor
    return result


@api.route(BASE + "/{discussion_id}/messages", "POST", path_model="DiscussionPath", body="AddMessage",
           response="AddedMessage", status=201, errors=(404, 409))
def add_message(principal: Principal, request: Any, discussion_id: str, body: schemas.AddMessage) -> dict[str, Any]:
    """Add a message

    An internal note (`is_internal`) is never emailed. Closed discussions take no messages (409)."""
    spec = service.MessageInput(body=body.body, is_internal=body.is_internal)
    loaded = service.load(principal.tenant_id, discussion_id)  # 404 before looking at attachments
    if body.attachment_ids:
        spec.attachments = attachments.for_message(principal.tenant_id, discussion_id, body.attachment_ids)
    item, message = service.add_message(principal.tenant_id, discussion_id, spec, author=principal.user_id,
                                        author_user_id=principal.user_id, loaded=loaded)
    return {"message": message_json(message), "discussion": discussion_json(item, principal)}


@api.route(BASE + "/{discussion_id}/participants", "POST", path_model="DiscussionPath", body="AddParticipants",
           response="AddedParticipants", status=201, errors=(404, 409))
def add_participants(principal: Principal, request: Any, discussion_id: str,
                     body: schemas.AddParticipants) -> dict[str, Any]:
    """Add one or several participants

    `409` when one is already a participant, or when the discussion would have more than 40."""
    item, added = service.add_participants(principal, discussion_id, [_participant_input(p) for p in body.participants])
    return {"added": [participant_json(p) for p in added], "discussion": discussion_json(item, principal)}


@api.route(BASE + "/{discussion_id}/participants/{participant_id}", "DELETE", path_model="ParticipantPath",
           response="Discussion", errors=(404, 409))
def remove_participant(principal: Principal, request: Any, discussion_id: str,
                       participant_id: str) -> dict[str, Any]:
    """Remove a participant (not the owner)"""
    return discussion_json(service.remove_participant(principal, discussion_id, participant_id), principal)


@api.route(BASE + "/{discussion_id}/attachments", "POST", path_model="DiscussionPath", body="UploadAttachment",
           response="StoredAttachment", status=201, errors=(404, 409))
def upload_attachment(principal: Principal, request: Any, discussion_id: str,
                      body: schemas.UploadAttachment) -> dict[str, Any]:
    """Attach a document

    The file is checked (type, size) and stored in S3; its id goes into a message's `attachment_ids`."""
    record = attachments.upload(principal, discussion_id, filename=body.filename,
                                content_type=body.content_type.lower(), content=body.content_base64)
    result = attachments.describe(record.filename, record.content_type, int(record.size), record.s3_key,
                                  record.attachment_id)
    result.update({"uploaded_by": record.uploaded_by, "created_at": record.created_at})
    return result


@api.route(BASE + "/{discussion_id}/attachments", path_model="DiscussionPath", query="PageQuery",
           response="AttachmentPage", errors=(404,))
def list_attachments(principal: Principal, request: Any, discussion_id: str,
                     query: schemas.PageQuery) -> dict[str, Any]:
    """The discussion's attachments"""
    service.load(principal.tenant_id, discussion_id)
    page = attachments.list_for_discussion(principal.tenant_id, discussion_id, query.limit, query.cursor)
    items = []
    for record in page.items:
        entry = attachments.describe(record.filename, record.content_type, int(record.size), record.s3_key,
                                     record.attachment_id)
        entry.update({"uploaded_by": record.uploaded_by, "created_at": record.created_at})
        items.append(entry)
    return {"items": items, "next_cursor": page.next_cursor}


STATUS_CHANGES = {"archive": "Archive a discussion (active → archived)",
                  "reopen": "Reopen a discussion (archived or closed → active)",
                  "close": "Close a discussion (active or archived → closed)"}


def _status_route(action: str) -> None:
    def change(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
        return discussion_json(service.change_status(principal, discussion_id, action), principal)

    change.__name__ = f"{action}_discussion"
    api.route(BASE + "/{discussion_id}/" + action, "POST", path_model="DiscussionPath", response="Discussion",
              errors=(404, 409), summary=STATUS_CHANGES[action])(change)


for _action in STATUS_CHANGES:
    _status_route(_action)


@api.route(BASE + "/{discussion_id}/read", "POST", path_model="DiscussionPath", response="Discussion",
           errors=(404, 409))
def mark_read(principal: Principal, request: Any, discussion_id: str) -> dict[str, Any]:
    """Mark everything read for the caller"""
    return discussion_json(service.mark_read(principal, discussion_id), principal)
