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

The payloads are dataclasses, read by a checker of a few lines derived from their fields (`_reader`): the types
used here (str, X | None, list[X], dict[str, X], another payload), pydantic's lax rules for them on decoded JSON,
and pydantic's wording of the first problem, located by AWS's field names (`PayloadError.loc`, `.msg`; e.g.
"bounce.bounceType: Input should be a valid string"). tests/tracking/test_aws_payloads.py holds it to pydantic's
own core on every fixture and on mutations of them: same values, same refusals, same first error. Neither pydantic
nor its core is imported: an SES event is the first thing a Lambda of the SES-events function does, and importing
pydantic and building its model classes cost about 35 ms of CPU there, its core alone 12 ms (bench/coldstart.py;
docs/deployment.md, "Cold start").
"""
import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Self


class _SkipOdd:
    """Marks a list whose entries of the wrong JSON type are dropped instead of refusing the payload."""


SKIP_ODD = _SkipOdd()


def aws(name: str | None = None, default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING,
        min_length: int | None = None) -> Any:
    """A payload field: `name` is AWS's (when it differs from ours), then its default (none: required);
    `min_length` for a required string that may not be empty."""
    return field(default=default, default_factory=factory,
                 metadata={"alias": name, "min_length": min_length})


class PayloadError(ValueError):
    """A payload that is not of the documented shape: where (`loc`, by AWS's names) and what (`msg`, pydantic's
    words), for its first problem."""

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(f"{'.'.join(str(part) for part in loc)}: {msg}")
        self.loc, self.msg = loc, msg


class Payload:
    """A payload that AWS sends: `model_validate(data)` checks a decoded JSON object and returns the typed value
    (as pydantic's models do), or raises `PayloadError`."""

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        value: Self = _read_payload(cls, data, ())
        return value


Reader = Callable[[Any, tuple[str | int, ...]], Any]  # (value, where it is) → the typed value, or PayloadError
_Field = tuple[str, str, Reader, Any, Any]  # our name, AWS's, reader, default, default factory
_FIELDS: dict[type, list[_Field]] = {}  # built on first use, per payload


def _read_payload(cls: type, value: Any, loc: tuple[str | int, ...]) -> Any:
    """A dict → the payload, field by field in their order, each read under AWS's name (the first problem raises);
    keys it does not declare are ignored."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, dict):
        raise PayloadError(loc, f"Input should be a dictionary or an instance of {cls.__name__}")
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = _fields(cls)
    values = {}
    for name, key, read, default, factory in fields:
        if key in value:
            values[name] = read(value[key], (*loc, key))
        elif default is not dataclasses.MISSING:
            values[name] = default
        elif factory is not dataclasses.MISSING:
            values[name] = factory()
        else:
            raise PayloadError((*loc, key), "Field required")
    return cls(**values)


def _fields(cls: type) -> list[_Field]:
    fields = []
    for each in dataclasses.fields(cls):
        alias, min_length = each.metadata.get("alias"), each.metadata.get("min_length")
        read = _reader(each.type) if min_length is None else functools.partial(_string_of_at_least, min_length)
        fields.append((each.name, alias or each.name, read, each.default, each.default_factory))
    return fields


def _reader(kind: Any) -> Reader:
    """The reader of one field's type: str, X | None, list[X] (entries of the wrong type dropped when marked
    SKIP_ODD), dict[str, X], or another payload."""
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if kind is str:
        return _string
    if origin is Annotated:
        inner, marks = arguments[0], arguments[1:]
        if SKIP_ODD in marks:
            entry = typing.get_args(inner)[0]
            return functools.partial(_odd_skipped, dict if dataclasses.is_dataclass(entry) else entry,
                                     _reader(inner))
        return _reader(inner)
    if origin is types.UnionType and type(None) in arguments:
        [other] = [argument for argument in arguments if argument is not type(None)]
        return functools.partial(_nullable, _reader(other))
    if origin is list:
        return functools.partial(_list, _reader(arguments[0]))
    if origin is dict:
        return functools.partial(_dict, _reader(arguments[0]), _reader(arguments[1]))
    if isinstance(kind, type) and issubclass(kind, Payload):
        return functools.partial(_read_payload, kind)
    raise TypeError(f"no reader for {kind!r}")


def _string(value: Any, loc: tuple[str | int, ...]) -> str:
    if not isinstance(value, str):
        raise PayloadError(loc, "Input should be a valid string")
    return value


def _string_of_at_least(length: int, value: Any, loc: tuple[str | int, ...]) -> str:
    text = _string(value, loc)
    if len(text) < length:
        raise PayloadError(loc, f"String should have at least {length} character{'' if length == 1 else 's'}")
    return text


def _nullable(read: Reader, value: Any, loc: tuple[str | int, ...]) -> Any:
    return None if value is None else read(value, loc)


def _list(read: Reader, value: Any, loc: tuple[str | int, ...]) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise PayloadError(loc, "Input should be a valid list")
    return [read(entry, (*loc, index)) for index, entry in enumerate(value)]


def _dict(read_key: Reader, read_value: Reader, value: Any, loc: tuple[str | int, ...]) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise PayloadError(loc, "Input should be a valid dictionary")
    return {read_key(key, (*loc, key, "[key]")): read_value(entry, (*loc, key)) for key, entry in value.items()}


def _odd_skipped(kind: type, read: Reader, value: Any, loc: tuple[str | int, ...]) -> Any:
    """A list's entries of the given JSON type (the others dropped: not a list at all is an empty one), read."""
    return read([item for item in value if isinstance(item, kind)] if isinstance(value, list) else [], loc)


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
