"""What AWS sends us, as typed models: SNS envelopes, SES event notifications (both shapes) and SES receipt
notifications. The fields are AWS's own names, as documented:
- SES notifications and event publishing: https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html and
  https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
- SES receiving notifications: https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html
- SNS message format: https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html

Only what the handlers read is declared; anything else AWS adds is ignored, so a field AWS adds later changes
nothing. A list entry of the wrong shape (a header that is not a name/value pair, a destination that is not a
string) is skipped rather than failing the whole event: one odd entry must not cost the others their update.
Loaded by the SNS handlers only (`tracking/ses_events.py`, `mail/inbound.py`), never at app import.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _only(kind: type | tuple[type, ...]) -> BeforeValidator:
    """A list validator that keeps the entries of the given JSON type and drops the rest."""
    def keep(value: Any) -> Any:
        return [item for item in value if isinstance(item, kind)] if isinstance(value, list) else []
    return BeforeValidator(keep)


Strings = Annotated[list[str], _only(str)]
Objects = Annotated[list[dict[str, Any]], _only(dict)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)


class SnsEnvelope(Payload):
    """An SNS message as an HTTP endpoint receives it; a Lambda gets the same fields under `Records[].Sns`."""
    Type: str
    MessageId: str | None = None
    Message: str


# ---------------------------------------------------------------- SES events (notifications and event publishing)


class MailHeader(Payload):
    name: str
    value: str


class SesMail(Payload):
    message_id: str = Field(alias="messageId", min_length=1)
    timestamp: str | None = None
    destination: Strings = []
    headers: Annotated[list[MailHeader], _only(dict)] = []
    tags: dict[str, list[str]] = {}

    def header_values(self) -> dict[str, str]:
        """Header name → value; the first occurrence wins."""
        return {header.name: header.value for header in reversed(self.headers)}


class AffectedRecipient(Payload):
    """One of `bouncedRecipients`, `complainedRecipients` or `delayedRecipients`."""
    email_address: str | None = Field(default=None, alias="emailAddress")
    diagnostic_code: str | None = Field(default=None, alias="diagnosticCode")
    status: str | None = None


class EventDetail(Payload):
    """The event's own object (`bounce`, `complaint`, `delivery`, `open`, `click`, `reject`, `deliveryDelay`,
    `failure`…): the union of the fields we read, each present on the types that have it."""
    timestamp: str | None = None
    feedback_id: str | None = Field(default=None, alias="feedbackId")
    bounce_type: str | None = Field(default=None, alias="bounceType")
    bounce_sub_type: str | None = Field(default=None, alias="bounceSubType")
    bounced_recipients: Annotated[list[AffectedRecipient], _only(dict)] = Field(default=[], alias="bouncedRecipients")
    complained_recipients: Annotated[list[AffectedRecipient], _only(dict)] = Field(
        default=[], alias="complainedRecipients")
    complaint_feedback_type: str | None = Field(default=None, alias="complaintFeedbackType")
    complaint_sub_type: str | None = Field(default=None, alias="complaintSubType")
    delayed_recipients: Annotated[list[AffectedRecipient], _only(dict)] = Field(default=[], alias="delayedRecipients")
    delay_type: str | None = Field(default=None, alias="delayType")
    recipients: Strings = []
    smtp_response: str | None = Field(default=None, alias="smtpResponse")
    user_agent: str | None = Field(default=None, alias="userAgent")
    ip_address: str | None = Field(default=None, alias="ipAddress")
    link: str | None = None
    reason: str | None = None
    error_message: str | None = Field(default=None, alias="errorMessage")


class SesNotification(Payload):
    """An SES event: `notificationType` (identity notifications) or `eventType` (event publishing), the mail it
    is about, and the event's own object under a key that depends on the type."""
    event_type: str | None = Field(default=None, alias="eventType")
    notification_type: str | None = Field(default=None, alias="notificationType")
    mail: SesMail
    bounce: EventDetail | None = None
    complaint: EventDetail | None = None
    delivery: EventDetail | None = None
    open: EventDetail | None = None
    click: EventDetail | None = None
    reject: EventDetail | None = None
    send: EventDetail | None = None
    subscription: EventDetail | None = None
    delivery_delay: EventDetail | None = Field(default=None, alias="deliveryDelay")
    failure: EventDetail | None = None

    @property
    def type_name(self) -> str | None:
        return self.event_type or self.notification_type


# ---------------------------------------------------------------- SES receiving


class Verdict(Payload):
    status: str | None = None


class ReceiptAction(Payload):
    type: str | None = None
    bucket_name: str | None = Field(default=None, alias="bucketName")
    object_key: str | None = Field(default=None, alias="objectKey")
    encoding: str | None = None


class Receipt(Payload):
    timestamp: str | None = None
    recipients: Strings = []
    action: ReceiptAction = ReceiptAction()
    spam_verdict: Verdict | None = Field(default=None, alias="spamVerdict")
    virus_verdict: Verdict | None = Field(default=None, alias="virusVerdict")
    spf_verdict: Verdict | None = Field(default=None, alias="spfVerdict")
    dkim_verdict: Verdict | None = Field(default=None, alias="dkimVerdict")
    dmarc_verdict: Verdict | None = Field(default=None, alias="dmarcVerdict")


class ReceivedMail(Payload):
    message_id: str | None = Field(default=None, alias="messageId")
    timestamp: str | None = None
    destination: Strings = []


class ReceiptNotification(Payload):
    """An SES `Received` notification: where the raw mail is (S3 action) or the mail itself (SNS action)."""
    mail: ReceivedMail
    receipt: Receipt = Receipt()
    content: str | None = None
