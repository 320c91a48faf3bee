"""The discussions API's contract: request bodies, queries and answers of /api/tenant/threads."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, create_model, model_validator
from pydantic_core import core_schema

from chalicelib.contract.models import Answer, Path, Query, Request, Timestamp, UnreadCount
from chalicelib.contract.types import (
    Base64File,
    Choice,
    Cursor,
    Email,
    Flag,
    IdText,
    PageLimit,
    PathText,
    Text,
    _Type,
    rule,
)
from chalicelib.discussions import queries
from chalicelib.discussions.attachments import ALLOWED_CONTENT_TYPES
from chalicelib.discussions.models import (
    CONTEXT_TYPES,
    DISCUSSION_TYPES,
    MAX_PARTICIPANTS,
    PARTICIPANT_ROLES,
    RECIPIENT_TYPES,
    STATUSES,
)

__all__ = ["UnreadCount"]

MAX_SUBJECT = 998  # RFC 5322's line limit: the subject becomes a mail header
MAX_MESSAGE_LENGTH = 100_000
MAX_ID_LENGTH = 64  # our ids are 36-character UUIDs; anything much longer is not one
MAX_ATTACHMENTS_PER_MESSAGE = 10
UTC = "UTC, ISO 8601 with microseconds"

MessageBody = Annotated[str, Text(MAX_MESSAGE_LENGTH, required=True, single_line=False,
                                  description="trimmed; not blank")]


# ---------------------------------------------------------------- requests

# The document types an attachment may be (discussions/attachments.py), listed in the document as an enum.
ACCEPTED_CONTENT_TYPES = tuple(sorted(ALLOWED_CONTENT_TYPES))


class ParticipantInput(Request):
    """A staff participant (`user_id`) or an external one (`email`); one of the two is needed."""

    user_id: Annotated[str | None, Text(128, description="an internal (staff) participant")] = None
    email: Annotated[str | None, Email(description="an external participant: a bare address (no display name), "
                                                   "stored lower-cased")] = None
    name: Annotated[str | None, Text(200)] = None
    role: Annotated[str, Choice(PARTICIPANT_ROLES[1:], default="participant")] = "participant"
    recipient_type: Annotated[str | None, Choice(RECIPIENT_TYPES, description="default: none for staff, `freelancer` "
                                                 "with a freelancer_node_id, else `external`")] = None
    freelancer_node_id: Annotated[str | None, Text(128)] = None
    is_external_freelancer: Annotated[bool | None, Flag(description="default: true when freelancer_node_id is "
                                                                    "given")] = None

    @model_validator(mode="after")
    def _someone(self) -> ParticipantInput:
        if not self.user_id and not self.email:
            raise rule("email", "{where} needs a user_id (staff) or an email (external)")
        if self.recipient_type is None and not self.user_id:
            self.recipient_type = "freelancer" if self.freelancer_node_id else "external"
        if self.is_external_freelancer is None:
            self.is_external_freelancer = bool(self.freelancer_node_id)
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        result = handler(schema)
        result = handler.resolve_ref_schema(result)
        result["anyOf"] = [{"type": "object", "properties": {"user_id": {"type": "string", "pattern": "\\S"}},
                            "required": ["user_id"]},
                           {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]}]
        return result


class MessageInputObject(Request):
    body: MessageBody
    is_internal: Annotated[bool, Flag(default=False)] = False


class InitialMessage:
    """A message's text, or {body, is_internal}: a string is a message that is not internal. Not a field type of
    its own check (contract/types.py `_Type`): pydantic reads it through its two hooks, a union of a text and an
    object."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        text = core_schema.no_info_plain_validator_function(_TEXT.check)
        choices: dict[Any, core_schema.CoreSchema] = {"~text": text,
                                                      "~object": handler.generate_schema(MessageInputObject)}
        return core_schema.nullable_schema(core_schema.tagged_union_schema(
            choices, discriminator=lambda value: "~text" if isinstance(value, str) else
            "~object" if isinstance(value, dict) else None,
            custom_error_type="rule", custom_error_message="not a message",
            custom_error_context={"message": "initial_message must be a string or an object with body"}))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {"oneOf": [_TEXT.schema(), handler(MessageInputObject.__pydantic_core_schema__), {"type": "null"}]}


_TEXT = Text(MAX_MESSAGE_LENGTH, required=True, single_line=False)


class CreateDiscussion(Request):
    """context_type and context_id go together: both or neither (400 naming the missing one)."""

    subject: Annotated[str, Text(MAX_SUBJECT, required=True,
                                 description="trimmed; not blank; one line (no CR/LF or control characters)")]
    discussion_type: Annotated[str, Choice(DISCUSSION_TYPES, default="general")] = "general"
    context_type: Annotated[str | None, Choice(CONTEXT_TYPES, description="given together with context_id")] = None
    context_id: Annotated[str | None, Text(128, description="given together with context_type")] = None
    initial_message: Annotated[str | MessageInputObject | None, InitialMessage()] = None
    participants: list[ParticipantInput] | None = Field(
        default=None, max_length=MAX_PARTICIPANTS - 1,
        description="at most 40 participants with the owner (the caller)")

    @model_validator(mode="after")
    def _context_pair(self) -> CreateDiscussion:
        if bool(self.context_type) != bool(self.context_id):
            missing = "context_id" if self.context_type else "context_type"
            raise rule(missing, "context_type and context_id go together")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        result = handler.resolve_ref_schema(handler(schema))
        result["dependentRequired"] = {"context_type": ["context_id"], "context_id": ["context_type"]}
        not_blank = Text(128, required=True).schema()["pattern"]
        result["allOf"] = [
            {"if": {"properties": {"context_type": {"type": "string"}}, "required": ["context_type"]},
             "then": {"properties": {"context_id": {"type": "string", "pattern": not_blank}},
                      "required": ["context_id"]}},
            {"if": {"properties": {"context_id": {"type": "string", "pattern": not_blank}}, "required": ["context_id"]},
             "then": {"properties": {"context_type": {"type": "string"}}, "required": ["context_type"]}}]
        return result

    def message(self) -> tuple[str, bool] | None:
        if self.initial_message is None:
            return None
        if isinstance(self.initial_message, str):
            return self.initial_message, False
        return self.initial_message.body, self.initial_message.is_internal


class AttachmentIds(_Type):
    """Ids of attachments uploaded to this discussion; each once (DynamoDB refuses a BatchGet naming a key twice,
    and a message listing a file twice is a client's mistake worth telling)."""

    def check(self, value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(i, str) and 0 < len(i) <= MAX_ID_LENGTH for i in value):
            raise rule("", "attachment_ids must be a list of attachment ids")
        if len(set(value)) != len(value):
            raise rule("", "attachment_ids lists the same attachment more than once")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": ["array", "null"], "items": IdText(MAX_ID_LENGTH).schema(),
                "maxItems": MAX_ATTACHMENTS_PER_MESSAGE, "uniqueItems": True,
                "description": "ids of attachments uploaded to this discussion, each once (an unknown id: 404)"}


class AddMessage(Request):
    body: MessageBody
    is_internal: Annotated[bool, Flag(default=False, description="an internal note: staff only, never emailed")] = False
    attachment_ids: Annotated[list[str], AttachmentIds()] = []


class AddParticipants(Request):
    """One participant, or {"participants": [...]}."""

    participants: list[ParticipantInput] = Field(min_length=1, max_length=MAX_PARTICIPANTS - 1)

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, body: Any) -> Any:
        # A body without `participants` is one participant, reported as participants[0] like in a list.
        return body if not isinstance(body, dict) or "participants" in body else {"participants": [body]}

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        many = handler.resolve_ref_schema(handler(schema))
        one = many["properties"]["participants"]["items"]  # the ParticipantInput component, with its anyOf
        return {"oneOf": [one, many]}


class UploadAttachment(Request):
    filename: Annotated[str, Text(255, required=True, description="executable types (.exe, .js, .sh, ...) are "
                                                                  "refused")]
    content_type: Annotated[str, Choice(ACCEPTED_CONTENT_TYPES, required=True, ignore_case=True,
                                        description="matched without regard to case")]
    content_base64: Annotated[bytes, Base64File(description="the file, base64 (at most ATTACHMENT_MAX_BYTES decoded, "
                                                                "default 4 MiB; larger is 413)")]


# ---------------------------------------------------------------- queries and paths


# Read without pydantic on the way in (chalicelib/discussions/queries.py); these are their models.
ListQuery = queries.ListQuery.model(Query, "ListQuery", __name__)
StatusQuery = queries.StatusQuery.model(Query, "StatusQuery", __name__)


class PageQuery(Query):
    limit: Annotated[int, PageLimit()] = 25
    cursor: Annotated[str | None, Cursor()] = None


class MessagesQuery(Query):
    messages_limit: Annotated[int, PageLimit(default=50)] = 50
    messages_cursor: Annotated[str | None, Cursor("the previous answer's `messages_next_cursor`")] = None
    messages_order: Annotated[str, Choice(("asc", "desc"), default="asc")] = "asc"


class DiscussionPath(Path):
    discussion_id: Annotated[str, PathText(MAX_ID_LENGTH, "a discussion id (longer than 64 characters: 404)")]


class ParticipantPath(DiscussionPath):
    participant_id: Annotated[str, PathText(MAX_ID_LENGTH, "a participant id")]


class ContextPath(Path):
    context_type: Annotated[str, Choice(CONTEXT_TYPES, required=True)]
    context_id: Annotated[str, PathText(128, "the quote's, invoice's, project's or client's id")]


# ---------------------------------------------------------------- answers


class ReadState(Answer):
    """The caller's read state."""

    is_participant: bool
    unread: bool
    unread_messages: int = Field(ge=0)


class Participant(Answer):
    id: str
    user_id: str | None = Field(description="internal (staff) participant")
    email: str | None = Field(description="external participant (lower-cased); the owner's token email")
    name: str | None
    role: Annotated[str, Choice(PARTICIPANT_ROLES, required=True)]
    recipient_type: Annotated[str | None, Choice(RECIPIENT_TYPES)]
    freelancer_node_id: str | None
    is_external_freelancer: bool
    email_status: str | None = Field(description="set when the address bounced or complained: `hard_bounce`, "
                                                 "`complaint`, ...")
    added_at: Timestamp = Field(description=UTC)


class Attachment(Answer):
    id: str
    filename: str
    content_type: str
    size: int = Field(ge=0)
    download_url: str = Field(description="pre-signed S3 URL", json_schema_extra={"format": "uri"})
    download_url_expires_in: int = Field(description="seconds (ATTACHMENT_URL_SECONDS, default 900)")


class StoredAttachment(Attachment):
    uploaded_by: str
    created_at: Timestamp = Field(description=UTC)


class Message(Answer):
    id: str = Field(description="time-ordered")
    author: str = Field(description="user id, or the sender's address for mail received")
    author_type: Annotated[str, Choice(("user", "email"), required=True)]
    body: str
    is_internal: bool
    created_at: Timestamp = Field(description=UTC)
    email_message_id: str | None
    email_in_reply_to: str | None
    attachments: list[Attachment]


class Discussion(Answer):
    id: str
    subject: str
    discussion_type: Annotated[str, Choice(DISCUSSION_TYPES, required=True)]
    status: Annotated[str, Choice(STATUSES, required=True)]
    context_type: Annotated[str | None, Choice(CONTEXT_TYPES)]
    context_id: str | None
    email_thread_id: str = Field(description="`<thread.ID@reply-domain>`")
    message_count: int = Field(ge=0)
    last_activity_at: Timestamp = Field(description=UTC)
    last_message_preview: str | None = Field(max_length=160)
    created_by: str
    created_at: Timestamp = Field(description=UTC)
    participants: list[Participant] = Field(max_length=MAX_PARTICIPANTS)
    read_state: ReadState


class DiscussionPage(Answer):
    items: list[Discussion]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class CreatedDiscussion(Discussion):
    messages: list[Message] = Field(max_length=1)


class DiscussionWithMessages(Discussion):
    messages: list[Message]
    messages_next_cursor: str | None = Field(description="pass as `messages_cursor`")


class AddedMessage(Answer):
    message: Message
    discussion: Discussion


class AddedParticipants(Answer):
    added: list[Participant]
    discussion: Discussion


class AttachmentPage(Answer):
    items: list[StoredAttachment]
    next_cursor: str | None


# One count per discussion type: the model is built from the same list the API validates against.
CategoryCountsByType = create_model(  # type: ignore[call-overload]
    "CategoryCountsByType", __base__=Answer, __doc__="one count per discussion_type",
    **{name: (int, Field(ge=0)) for name in DISCUSSION_TYPES})


class CategoryCounts(Answer):
    status: Annotated[str, Choice(STATUSES, required=True)]
    counts: CategoryCountsByType  # type: ignore[valid-type]
    total: int = Field(ge=0)

