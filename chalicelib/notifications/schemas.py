"""The contract of the notifications routes: the caller's notifications, preferences and the tenant's templates."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from chalicelib.contract.models import Answer, Path, Query, Request, Timestamp, UnreadCount
from chalicelib.contract.types import Checked, Choice, Cursor, Integer, PageLimit, PathText, Text, rule
from chalicelib.notifications.rendering import TYPES
from chalicelib.notifications.schedule import FREQUENCIES, valid_zone, zones

__all__ = ["UnreadCount"]
E164 = r"^\+[1-9]\d{6,14}$"


class PageQuery(Query):
    limit: Annotated[int, PageLimit()] = 25
    cursor: Annotated[str | None, Cursor()] = None


class NotificationPath(Path):
    notification_id: Annotated[str, PathText(None, "a notification of the caller (another's: 404)")]


class TemplatePath(Path):
    kind: Annotated[str, PathText(None, "the notification type (an unknown one: 404)", TYPES)]


class PreferencesUpdate(Request):
    """Fields left out keep their value; null clears one."""

    digest_frequency: Annotated[str | None, Choice(FREQUENCIES, description="null: back to the tenant's default")] = (
        None
    )
    timezone: Annotated[
        str | None,
        Checked(
            Text(64, description="an IANA time zone; null for UTC"),
            valid_zone,
            "time_zone",
            enum=tuple(sorted(zones())),
        ),
    ] = None
    digest_hour: Annotated[int | None, Integer(0, 23, description="local hour the digest is sent at")] = None
    phone: Annotated[
        str | None, Checked(Text(16, description="E.164, for SMS"), re.compile(E164).match, "phone", pattern=E164)
    ] = None


class NotificationTemplateUpdate(Request):
    """At least one of subject, text, html, not empty; each must render against sample data within the sandbox's
    budget."""

    subject: Annotated[str | None, Text(300, description="Jinja2")] = None
    text: Annotated[str | None, Text(20_000, single_line=False, strip=False, description="Jinja2")] = None
    html: Annotated[str | None, Text(50_000, single_line=False, strip=False, description="Jinja2, autoescaped")] = None

    @model_validator(mode="after")
    def _something(self) -> NotificationTemplateUpdate:
        if not (self.subject or self.text or self.html):
            raise rule("subject", "give at least one of subject, text, html")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        result = handler.resolve_ref_schema(handler(schema))
        result["anyOf"] = [
            {"type": "object", "properties": {name: {"type": "string", "minLength": 1}}, "required": [name]}
            for name in ("subject", "text", "html")
        ]
        return result


class Notification(Answer):
    id: str
    type: str = Field(
        description="`discussion_message`, `inbound_reply`, `email_bounced`, `community_mention`, `community_thread`, "
                    "`community_reply`"
    )
    priority: Literal["urgent", "high", "normal", "low"]
    title: str
    body: str | None
    discussion_id: str | None
    community_thread_id: int | None
    community_message_id: int | None
    internal: bool = Field(description="about a discussion's internal note (staff only)")
    delivery: Literal["instant", "digest"]
    created_at: Timestamp = Field(description="UTC, ISO 8601 with microseconds")
    read_at: Timestamp | None
    email_status: str | None = Field(
        description="`sending`, `sent`, `failed`, `digest`, `no_address`, `suppressed`, ..."
    )
    email_sent_at: Timestamp | None


class NotificationPage(Answer):
    items: list[Notification]
    next_cursor: str | None


class NotificationRead(Answer):
    id: str
    read: Literal[True]
    unread_count: int = Field(ge=0)


class Preferences(Answer):
    digest_frequency: Literal["never", "daily", "weekly", "monthly"] = Field(
        description="in effect: the user's choice, else the tenant's default, else daily"
    )
    digest_frequency_chosen: Literal["never", "daily", "weekly", "monthly"] | None
    timezone: str = Field(description="IANA name; UTC by default")
    digest_hour: int = Field(ge=0, le=23)
    phone: str | None
    next_digest_at: Timestamp | None
    unsubscribed_at: Timestamp | None


class NotificationTemplate(Answer):
    type: Literal[
        "discussion_message",
        "inbound_reply",
        "email_bounced",
        "community_mention",
        "community_thread",
        "community_reply",
        "digest",
    ]
    customised: bool
    subject: str | None
    text: str | None
    html: str | None
    updated_at: Timestamp | None
    variables: list[str] = Field(description="the names a template of this type may use")
