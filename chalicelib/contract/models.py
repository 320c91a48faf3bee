"""Base models of the contract and the shapes both families share (errors, the board's envelope, pages)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
MAX_BOARD_ID = 2**53 - 1
BoardKey = Annotated[int, Field(ge=1, le=MAX_BOARD_ID)]


class Request(BaseModel):
    """A request body: unknown fields refused, every field checked by its type (chalicelib/contract/types.py)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    def given(self) -> dict[str, Any]:
        """The fields the client sent, validated (an update changes only these)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name in self.model_fields_set}


class Query(BaseModel):
    """Query parameters: every value arrives as a string; parameters the operation does not take are ignored."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


class Path(BaseModel):
    """Path parameters (always present: API Gateway routes only requests that have them)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


class Answer(BaseModel):
    """A response: what the view returns is checked against it and serialised from it; a field the model does not
    name is an error in our code (500), so the document cannot fall behind the answers."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class ErrorDetail(Answer):
    code: Literal["bad_request", "validation_error", "unauthorized", "forbidden", "not_found", "conflict",
                  "payload_too_large", "unavailable", "unsupported_media_type", "method_not_allowed",
                  "internal_error"]
    message: str
    field: str | None = Field(default=None, description="the request field (or path / query parameter) at fault")


class Error(Answer):
    """The one error shape of the tenant API (chalicelib/errors.py)."""

    error: ErrorDetail


class CommunityFieldError(Answer):
    AttemptedValue: Any = Field(description="the value sent (strings and lists over 200 characters are shortened); "
                                            "null when absent")
    Message: str
    PropertyName: str = Field(description="the field at fault; `Body`, `Authorization`, `Cursor`, `Id`, ... or empty")


class CommunityError(Answer):
    """The community envelope of a failure (chalicelib/community/envelope.py)."""

    Status: int = Field(description="the HTTP status")
    Message: str = Field(description="`PropertyName: message` of every error, joined by ` | `")
    Value: None
    Errors: list[CommunityFieldError] = Field(min_length=1)
    WasSuccessful: Literal[False]


class CommunityEnvelope(Answer):
    """The community envelope of a successful write (seed community-threads-api.txt)."""

    Status: Literal[200]
    Message: str = Field(description="e.g. `CommunityThread was successfully created.`")
    Value: Any = Field(description="what the write produced (see each operation)")
    OpenInDialog: Literal[False]
    OpenInWindow: Literal[False]
    RedirectURL: None
    JavaScript: None
    UpdatedOn: Timestamp | None
    UpdatedBy: str | None = Field(description="email (or user id) of the caller who wrote")
    Errors: None
    WasSuccessful: Literal[True]


class CommunityIdValue(Answer):
    Id: BoardKey


class CommunityIdEnvelope(CommunityEnvelope):
    Value: CommunityIdValue


class UnreadCount(Answer):
    unread_count: int = Field(ge=0)
