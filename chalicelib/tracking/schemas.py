"""The contract of tracking's routes: a discussion's email statistics and the suppression list."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import unquote

from pydantic import Field

from chalicelib.contract.models import Answer, Path, Query, Timestamp
from chalicelib.contract.types import Cursor, Email, PageLimit, PathText, _Type, fail


class TrackingQuery(Query):
    message_id: str | None = Field(default=None, description="only this message")
    limit: Annotated[int, PageLimit()] = 25
    cursor: Annotated[str | None, Cursor()] = None


class SuppressionsQuery(Query):
    limit: Annotated[int, PageLimit()] = 25
    cursor: Annotated[str | None, Cursor()] = None


class EncodedEmail(_Type):
    """An address in a path segment, percent-encoded by the client (`@` as %40)."""

    def check(self, value: Any) -> str:
        address = Email(required=True).check(unquote(value) if isinstance(value, str) else value)
        if address is None:
            raise fail("email")
        return address

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "email", "maxLength": 254, "description": "the address (URL-encoded)"}


class SuppressionPath(Path):
    email: Annotated[str, EncodedEmail()]


class DiscussionPath(Path):
    discussion_id: Annotated[str, PathText(64, "a discussion id (longer than 64 characters: 404)")]


class TrackingStatistics(Answer):
    total: int = Field(ge=0)
    sent: int = Field(ge=0)
    failed: int = Field(ge=0)
    delivered: int = Field(ge=0)
    opened: int = Field(ge=0)
    human_opened: int = Field(ge=0)
    clicked: int = Field(ge=0)
    bounced: int = Field(ge=0)
    complained: int = Field(ge=0)
    open_rate: float = Field(description="% of sent copies", ge=0, le=100)
    human_open_rate: float = Field(ge=0, le=100)


class MessageTrackingStatistics(TrackingStatistics):
    message_id: str


class TrackingRecipient(Answer):
    """One DiscussionEmailTracking record (a copy to one recipient)."""

    thread_id: str
    message_id: str
    recipient_email: str
    recipient_type: str | None
    tracking_pixel_id: str = Field(pattern="^[0-9a-f]{32}$")
    state: Literal["queued", "sending", "sent", "failed", "uncertain"]
    failure_reason: str | None
    ses_message_id: str | None
    email_message_id: str | None
    sent_at: Timestamp | None
    delivered_at: Timestamp | None
    opened_at: Timestamp | None
    open_count: int = Field(ge=0)
    machine_open_count: int = Field(ge=0)
    human_opened_at: Timestamp | None
    clicked_at: Timestamp | None
    click_count: int = Field(ge=0)
    bounced_at: Timestamp | None
    bounce_type: Literal["hard", "soft", "complaint"] | None
    bounce_reason: str | None
    complained_at: Timestamp | None = Field(
        description="the first complaint about this copy; kept beside an earlier or later bounce"
    )
    user_agent: str | None
    ip_address: str | None


class ThreadTracking(TrackingStatistics):
    thread_id: str
    messages: list[MessageTrackingStatistics]
    recipients: list[TrackingRecipient] = Field(description="a page of the copies, `limit` at a time")
    recipients_next_cursor: str | None = Field(description="the next page of `recipients`, as `cursor`")


class Suppression(Answer):
    email: str
    reason: Literal["hard_bounce", "complaint", "soft_bounces"] | None
    detail: str | None
    suppressed_at: Timestamp | None


class SuppressionPage(Answer):
    items: list[Suppression]
    next_cursor: str | None


class LiftedSuppression(Answer):
    email: str
    lifted: Literal[True]
