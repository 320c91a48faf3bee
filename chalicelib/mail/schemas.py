"""The contract of mail's routes: communication settings, sending a discussion, the inbound mail records."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator

from chalicelib.contract.models import Answer, Path, Query, Request, Timestamp
from chalicelib.contract.types import Checked, Choice, Cursor, Domain, Email, Flag, PageLimit, PathText, Text
from chalicelib.mail.receive import OUTCOMES
from chalicelib.notifications.schedule import FREQUENCIES, valid_zone, zones

MAX_SIGNATURE = 2000


class CommunicationSettingsUpdate(Request):
    """Fields left out keep their value."""

    email_integration_enabled: Annotated[bool, Flag(default=False, description="true needs email_reply_domain and "
                                                                               "from_address")] = False
    email_reply_domain: Annotated[str | None, Domain(
        description="the service's reply domain, or a verified domain (or subdomain) of this tenant's sending "
                    "identities (POST /api/tenant/identities); otherwise 409")] = None
    from_address: Annotated[str | None, Email(
        description="an address on a verified sending identity of this tenant (its domain, a parent domain, or the "
                    "address itself); otherwise 409")] = None
    from_name: Annotated[str | None, Text(200)] = None
    email_signature: Annotated[str | None, Text(MAX_SIGNATURE, single_line=False, description="plain text")] = None
    default_digest_frequency: Annotated[str | None, Choice(FREQUENCIES)] = None
    sms_enabled: Annotated[bool, Flag(default=False)] = False
    time_zone: Annotated[str | None, Checked(Text(64, description="an IANA time zone such as Europe/Paris; null or "
                                                                  "empty for UTC"), valid_zone, "time_zone",
                                             enum=tuple(sorted(zones())))] = None


class CommunicationSettings(Answer):
    email_integration_enabled: bool
    email_reply_domain: str | None
    from_address: str | None
    from_name: str | None
    email_signature: str | None
    default_digest_frequency: Annotated[str, Choice(FREQUENCIES, required=True)]
    sms_enabled: bool
    time_zone: str = Field(description="IANA time zone of dates in outbound mail (attribution lines); UTC unless set")
    updated_at: Timestamp | None
    updated_by: str | None


class SendRequest(Request):
    message_id: Annotated[str | None, Text(64, description="send this one message (default: every unsent external "
                                                           "message)")] = None


class QueuedMessage(Answer):
    message_id: str
    recipients: list[str] = Field(description="one copy each")
    tracking_url: str = Field(description="GET it for the state of each copy of this message")


class SkippedCopy(Answer):
    message_id: str
    recipient: str
    reason: Annotated[str, Choice(("suppressed", "already sent", "in progress", "uncertain"), required=True)]


class SendQueued(Answer):
    """What a send queued; the copies go out in the background (docs/sending.md)."""

    queued: list[QueuedMessage]
    skipped: list[SkippedCopy]
    tracking_url: str = Field(description="the discussion's tracking: every copy of every message")


UNCERTAIN_KINDS = ("copy", "notification_email", "notification_sms", "digest")
UNCERTAIN_ACTIONS = ("resend", "dismiss")


class UncertainQuery(Query):
    limit: Annotated[int, PageLimit()] = 25
    cursor: Annotated[str | None, Cursor()] = None


class UncertainPath(Path):
    uncertain_id: Annotated[str, PathText(None)]


class UncertainSend(Answer):
    """An email or text whose sender was lost while SES or SNS had it: sent or not, nobody knows."""

    model_config = ConfigDict(extra="allow")  # the kind's own fields (discussion, message, recipient, user…)

    id: str
    kind: Annotated[str, Choice(UNCERTAIN_KINDS, required=True)]
    discussion_id: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    user_id: str | None = None
    notification_id: str | None = None
    title: str | None = None
    period: str | None = None
    notification_count: int | None = None
    claimed_at: Timestamp | None
    detected_at: Timestamp


class UncertainSendPage(Answer):
    items: list[UncertainSend]
    next_cursor: str | None


class UncertainSendResolve(Request):
    action: Annotated[str, Choice(UNCERTAIN_ACTIONS, required=True, description=(
        "`resend`: it did not arrive, send it again (a copy is queued; a notification or digest goes in the user's "
        "next digest; a text cannot be resent). `dismiss`: it arrived, or never mind."))]


class UncertainSendResolved(Answer):
    id: str
    action: Annotated[str, Choice(UNCERTAIN_ACTIONS, required=True)]
    outcome: str


class InboundQuery(Query):
    outcome: Annotated[str | None, Choice(OUTCOMES, description="only mail with this outcome")] = None
    limit: Annotated[int, PageLimit()] = 25
    cursor: Annotated[str | None, Cursor()] = None

    @field_validator("outcome", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return value or None


class InboundPath(Path):
    inbound_id: Annotated[str, PathText(None)]


class DiscussionPath(Path):
    discussion_id: Annotated[str, PathText(64, "a discussion id (longer than 64 characters: 404)")]


class InboundRecord(Answer):
    id: str
    outcome: Annotated[str, Choice(OUTCOMES, required=True)]
    reason: str | None
    discussion_id: str | None
    sender: str | None
    subject: str | None
    preview: str | None
    received_at: str
    email_message_id: str | None
    message_id: str | None
    released_by: str | None
    released_at: str | None


class InboundMailPage(Answer):
    items: list[InboundRecord]
    next_cursor: str | None


class ReleaseOutcome(Answer):
    status: Annotated[str, Choice(("posted",), required=True)]
    reason: str | None
    discussion_id: str | None
    message_id: str | None


class DiscardedMail(Answer):
    id: str
    discarded: bool = Field(json_schema_extra={"const": True})
