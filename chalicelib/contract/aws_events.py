"""What AWS sends us, as typed payloads: SNS envelopes, SES event notifications (both shapes) and SES receipt
notifications. The fields are AWS's own names, as documented:
- SES notifications and event publishing: https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html and
  https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
- SES receiving notifications: https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html
- SNS message format: https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html

Only what the handlers read is declared; anything else AWS adds is ignored, so a field AWS adds later changes
nothing. A list entry of the wrong shape (a header that is not a name/value pair, a destination that is not a
string) is skipped rather than failing the whole event: one odd entry must not cost the others their update.
Loaded by the SNS handlers only (`tracking/ses_events.py`, `mail/inbound.py`), never at app import.

The payloads are dataclasses checked by pydantic's own validator core (`pydantic_core`, the compiled engine
under pydantic's models), which builds its validator from a core schema derived here from each dataclass's fields.
Not pydantic `BaseModel`s: an SES event is the first thing a Lambda of the SES-events function does, and importing
pydantic and building its model classes cost about 35 ms of CPU there (bench/coldstart.py; docs/deployment.md,
"Cold start"). The checks are pydantic's: the same types, lax mode, errors located by AWS's field names, raised as
`pydantic_core.ValidationError` (which is `pydantic.ValidationError`); only a nested object of the wrong type is
worded "a dictionary or an instance of X" where a model said "a valid dictionary or instance of X".
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Self

if TYPE_CHECKING:
    from pydantic_core import CoreSchema, SchemaValidator


class _SkipOdd:
    """Marks a list whose entries of the wrong JSON type are dropped instead of refusing the payload."""


SKIP_ODD = _SkipOdd()


def aws(name: str | None = None, default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING,
        min_length: int | None = None) -> Any:
    """A payload field: `name` is AWS's (when it differs from ours), then its default (none: required);
    `min_length` for a required string that may not be empty."""
    return field(default=default, default_factory=factory,
                 metadata={"alias": name, "min_length": min_length})


class Payload:
    """A payload that AWS sends: `model_validate(data)` checks a decoded JSON object and returns the typed value
    (as pydantic's models do), or raises `pydantic_core.ValidationError`."""

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        validator = _VALIDATORS.get(cls) or _VALIDATORS.setdefault(cls, _validator(cls))
        value: Self = validator.validate_python(data)
        return value


_VALIDATORS: dict[type[Payload], SchemaValidator] = {}  # built on first use, one per payload validated at the top


def _validator(cls: type[Payload]) -> SchemaValidator:
    from pydantic_core import SchemaValidator, core_schema

    definitions: dict[str, CoreSchema] = {}
    schema = core_schema.definitions_schema(_schema(cls, definitions), list(definitions.values()))
    # AWS's names or ours, as pydantic's `populate_by_name`; loc in errors by AWS's names.
    return SchemaValidator(schema, core_schema.CoreConfig(validate_by_alias=True, validate_by_name=True,
                                                          loc_by_alias=True))


def _schema(kind: Any, definitions: dict[str, CoreSchema]) -> CoreSchema:
    """The core schema of one field's type: str, X | None, list[X] (entries of the wrong type dropped when marked
    SKIP_ODD), dict[str, X], or another payload."""
    from pydantic_core import core_schema

    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if kind is str:
        return core_schema.str_schema()
    if origin is Annotated:
        inner, marks = arguments[0], arguments[1:]
        if SKIP_ODD in marks:
            entry = typing.get_args(inner)[0]
            keep = functools.partial(_keep, dict if dataclasses.is_dataclass(entry) else entry)
            return core_schema.no_info_before_validator_function(keep, _schema(inner, definitions))
        return _schema(inner, definitions)
    if origin is types.UnionType and type(None) in arguments:
        [other] = [argument for argument in arguments if argument is not type(None)]
        return core_schema.nullable_schema(_schema(other, definitions))
    if origin is list:
        return core_schema.list_schema(_schema(arguments[0], definitions))
    if origin is dict:
        return core_schema.dict_schema(_schema(arguments[0], definitions), _schema(arguments[1], definitions))
    if isinstance(kind, type) and issubclass(kind, Payload):
        return _payload_schema(kind, definitions)
    raise TypeError(f"no schema for {kind!r}")


def _payload_schema(cls: type[Payload], definitions: dict[str, CoreSchema]) -> CoreSchema:
    from pydantic_core import core_schema

    name = cls.__qualname__
    if name not in definitions:
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = []
        for each in dataclasses.fields(cls):  # type: ignore[arg-type]
            schema = _schema(hints[each.name], definitions)
            if each.metadata.get("min_length") is not None:
                schema = core_schema.str_schema(min_length=each.metadata["min_length"])
            if each.default is not dataclasses.MISSING:
                schema = core_schema.with_default_schema(schema, default=each.default)
            elif each.default_factory is not dataclasses.MISSING:
                schema = core_schema.with_default_schema(schema, default_factory=each.default_factory)
            fields.append(core_schema.dataclass_field(each.name, schema, validation_alias=each.metadata.get("alias")))
        definitions[name] = core_schema.dataclass_schema(
            cls, core_schema.dataclass_args_schema(name, fields, extra_behavior="ignore"),
            [each["name"] for each in fields], ref=name)
    return core_schema.definition_reference_schema(name)


def _keep(kind: type, value: Any) -> Any:
    """A list validator's first step: keep the entries of the given JSON type, drop the rest."""
    return [item for item in value if isinstance(item, kind)] if isinstance(value, list) else []


Strings = Annotated[list[str], SKIP_ODD]


@dataclass(eq=False)
class SnsEnvelope(Payload):
    """An SNS message as an HTTP endpoint receives it; a Lambda gets the same fields under `Records[].Sns`."""
    Type: str
    Message: str
    MessageId: str | None = None


# ---------------------------------------------------------------- SES events (notifications and event publishing)


@dataclass(eq=False)
class MailHeader(Payload):
    name: str
    value: str


@dataclass(eq=False)
class SesMail(Payload):
    message_id: str = aws("messageId", min_length=1)
    timestamp: str | None = None
    destination: Strings = aws(factory=list)
    headers: Annotated[list[MailHeader], SKIP_ODD] = aws(factory=list)
    tags: dict[str, list[str]] = aws(factory=dict)

    def header_values(self) -> dict[str, str]:
        """Header name → value; the first occurrence wins."""
        return {header.name: header.value for header in reversed(self.headers)}


@dataclass(eq=False)
class AffectedRecipient(Payload):
    """One of `bouncedRecipients`, `complainedRecipients` or `delayedRecipients`."""
    email_address: str | None = aws("emailAddress", None)
    diagnostic_code: str | None = aws("diagnosticCode", None)
    status: str | None = None


Recipients = Annotated[list[AffectedRecipient], SKIP_ODD]


@dataclass(eq=False)
class EventDetail(Payload):
    """The event's own object (`bounce`, `complaint`, `delivery`, `open`, `click`, `reject`, `deliveryDelay`,
    `failure`…): the union of the fields we read, each present on the types that have it."""
    timestamp: str | None = None
    feedback_id: str | None = aws("feedbackId", None)
    bounce_type: str | None = aws("bounceType", None)
    bounce_sub_type: str | None = aws("bounceSubType", None)
    bounced_recipients: Recipients = aws("bouncedRecipients", factory=list)
    complained_recipients: Recipients = aws("complainedRecipients", factory=list)
    complaint_feedback_type: str | None = aws("complaintFeedbackType", None)
    complaint_sub_type: str | None = aws("complaintSubType", None)
    delayed_recipients: Recipients = aws("delayedRecipients", factory=list)
    delay_type: str | None = aws("delayType", None)
    recipients: Strings = aws(factory=list)
    smtp_response: str | None = aws("smtpResponse", None)
    user_agent: str | None = aws("userAgent", None)
    ip_address: str | None = aws("ipAddress", None)
    link: str | None = None
    reason: str | None = None
    error_message: str | None = aws("errorMessage", None)


@dataclass(eq=False)
class SesNotification(Payload):
    """An SES event: `notificationType` (identity notifications) or `eventType` (event publishing), the mail it
    is about, and the event's own object under a key that depends on the type."""
    mail: SesMail
    event_type: str | None = aws("eventType", None)
    notification_type: str | None = aws("notificationType", None)
    bounce: EventDetail | None = None
    complaint: EventDetail | None = None
    delivery: EventDetail | None = None
    open: EventDetail | None = None
    click: EventDetail | None = None
    reject: EventDetail | None = None
    send: EventDetail | None = None
    subscription: EventDetail | None = None
    delivery_delay: EventDetail | None = aws("deliveryDelay", None)
    failure: EventDetail | None = None

    @property
    def type_name(self) -> str | None:
        return self.event_type or self.notification_type


# ---------------------------------------------------------------- SES receiving


@dataclass(eq=False)
class Verdict(Payload):
    status: str | None = None


@dataclass(eq=False)
class ReceiptAction(Payload):
    type: str | None = None
    bucket_name: str | None = aws("bucketName", None)
    object_key: str | None = aws("objectKey", None)
    encoding: str | None = None


@dataclass(eq=False)
class Receipt(Payload):
    timestamp: str | None = None
    recipients: Strings = aws(factory=list)
    action: ReceiptAction = aws(factory=ReceiptAction)
    spam_verdict: Verdict | None = aws("spamVerdict", None)
    virus_verdict: Verdict | None = aws("virusVerdict", None)
    spf_verdict: Verdict | None = aws("spfVerdict", None)
    dkim_verdict: Verdict | None = aws("dkimVerdict", None)
    dmarc_verdict: Verdict | None = aws("dmarcVerdict", None)


@dataclass(eq=False)
class ReceivedMail(Payload):
    message_id: str | None = aws("messageId", None)
    timestamp: str | None = None
    destination: Strings = aws(factory=list)


@dataclass(eq=False)
class ReceiptNotification(Payload):
    """An SES `Received` notification: where the raw mail is (S3 action) or the mail itself (SNS action)."""
    mail: ReceivedMail
    receipt: Receipt = aws(factory=Receipt)
    content: str | None = None
