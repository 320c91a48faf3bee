"""One raw inbound email → `InboundMail`; an SES `Received` notification → `ReceivedNotification`.

Pure parsing: no AWS, no storage. Never raises on malformed mail (every header and part read is
guarded); classifies bounces, complaints and auto-replies so that they never become replies that
trigger more email (NOTES.md, "Inbound mail").
"""
from __future__ import annotations

import base64
import binascii
import email
import json
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any

from chalicelib.mail.trimming import trim_reply

REPLY, AUTO_REPLY, BOUNCE, COMPLAINT = "reply", "auto_reply", "bounce", "complaint"
_MSG_ID = re.compile(r"<[^<>\s]+>")
_DAEMON_LOCALPARTS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)|returned mail|mail delivery (failed|failure|subsystem)|delivery (status notification|"
    r"failure|has failed)|failure notice|non[- ]?delivery|warning: could not send|mail system error|"
    r"delivery notification: delivery has failed|message delivery failure)", re.IGNORECASE)
_AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class BouncedRecipient:
    address: str
    status: str | None = None
    action: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True)
class InboundMail:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    from_address: str | None
    from_name: str | None
    recipients: list[str]
    subject: str
    text: str
    full_text: str
    attachments: list[InboundAttachment] = field(default_factory=list)
    kind: str = REPLY
    auto_reply_reason: str | None = None
    bounced_recipients: list[BouncedRecipient] = field(default_factory=list)


@dataclass(frozen=True)
class Verdicts:
    spam: str | None
    virus: str | None
    spf: str | None
    dkim: str | None
    dmarc: str | None


@dataclass(frozen=True)
class ReceivedNotification:
    message_id: str | None
    recipients: list[str]
    s3_bucket: str | None
    s3_key: str | None
    content: bytes | None
    verdicts: Verdicts


# ---------------------------------------------------------------------------------------------- headers

def _header(msg: Message, name: str) -> str:
    """A header as a decoded str, '' when absent or unreadable (never raises)."""
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - malformed headers must not stop a mail
        try:
            value = msg.get_all(name, [None])[0] if hasattr(msg, "get_all") else None
        except Exception:  # noqa: BLE001
            return ""
    if value is None:
        return ""
    try:
        return str(value).strip()
    except Exception:  # noqa: BLE001
        return ""


def _headers(msg: Message, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
    except Exception:  # noqa: BLE001
        return []
    out = []
    for value in values:
        try:
            out.append(str(value))
        except Exception:  # noqa: BLE001
            continue
    return out


def _msg_ids(value: str) -> list[str]:
    ids = _MSG_ID.findall(value or "")
    if not ids and value and value.strip() and " " not in value.strip():
        ids = [f"<{value.strip().strip('<>')}>"]
    return ids


def _addresses(values: list[str]) -> list[str]:
    seen: list[str] = []
    try:
        pairs = getaddresses(values)
    except Exception:  # noqa: BLE001
        pairs = []
    for _, address in pairs:
        address = address.strip().strip("<>").lower()
        if "@" in address and address not in seen:
            seen.append(address)
    return seen


# ---------------------------------------------------------------------------------------------- bodies

class _HtmlText(HTMLParser):
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "hr"}
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self.quote += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        elif tag == "blockquote" and self.quote:
            self.quote -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        if self.quote:  # quoted history: mark it as a quote so the trimmer drops it
            data = "\n".join("> " + line if line.strip() else line for line in data.split("\n"))
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001
        return re.sub(r"<[^>]+>", " ", html)
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _part_text(part: Message) -> str:
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else None
        if isinstance(content, str):
            return content
    except Exception:  # noqa: BLE001 - unknown charset, bad base64: decode by hand below
        pass
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        payload = None
    if isinstance(payload, bytes):
        charset = "utf-8"
        try:
            charset = part.get_content_charset() or "utf-8"
            return payload.decode(charset, errors="replace")
        except (LookupError, Exception):  # noqa: BLE001
            return payload.decode("utf-8", errors="replace")
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def _body_text(msg: Message) -> str:
    plain = html = None
    try:
        body = msg.get_body(preferencelist=("plain", "html")) if isinstance(msg, EmailMessage) else None
    except Exception:  # noqa: BLE001
        body = None
    if body is not None:
        if body.get_content_type() == "text/plain":
            plain = _part_text(body)
        else:
            html = _part_text(body)
    if plain is None and html is None:
        for part in _walk(msg):
            ctype = part.get_content_type()
            if _is_attachment(part):
                continue
            if ctype == "text/plain" and plain is None:
                plain = _part_text(part)
            elif ctype == "text/html" and html is None:
                html = _part_text(part)
    if plain is not None and plain.strip():
        return plain.replace("\r\n", "\n").strip()
    if html:
        return html_to_text(html)
    return ""


def _walk(msg: Message):
    try:
        yield from msg.walk()
    except Exception:  # noqa: BLE001
        return


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    try:
        disposition = part.get_content_disposition()
        filename = part.get_filename()
    except Exception:  # noqa: BLE001
        return False
    return disposition == "attachment" or (filename is not None and disposition != "inline") or (
        filename is not None and not part.get_content_type().startswith("text/"))


def sanitize_filename(name: str | None, default: str = "attachment") -> str:
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "", name).strip().lstrip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 16 else name[:200]
    return name or default


def _attachments(msg: Message) -> list[InboundAttachment]:
    found = []
    for part in _walk(msg):
        if not _is_attachment(part):
            continue
        try:
            content = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001
            content = b""
        try:
            filename = part.get_filename()
        except Exception:  # noqa: BLE001
            filename = None
        found.append(InboundAttachment(sanitize_filename(filename), part.get_content_type(), content))
    return found


# ---------------------------------------------------------------------------------------------- classification

def _report_type(msg: Message) -> str | None:
    for part in _walk(msg):
        if part.get_content_type() == "multipart/report":
            try:
                return (part.get_param("report-type") or "").lower() or None
            except Exception:  # noqa: BLE001
                return None
        if part.get_content_type() == "message/feedback-report":
            return "feedback-report"
    return None


def _has_part(msg: Message, content_type: str) -> bool:
    return any(part.get_content_type() == content_type for part in _walk(msg))


def auto_reply_reason(msg: Message) -> str | None:
    """Why this mail is automatic (RFC 3834 and the de facto headers), None for a person's mail."""
    auto_submitted = _header(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autogenerated"):
        value = _header(msg, name)
        if value:
            return f"{name}: {value}"
    if _header(msg, "X-Apple-Action").upper() == "VACATION":  # Apple iCloud vacation replies
        return "X-Apple-Action: VACATION"
    precedence = _header(msg, "Precedence").lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    return None


def _is_hotmail_jmrp(msg: Message) -> bool:
    """Microsoft's JMRP complaints: the complained-about mail attached with an X-HmXmrOriginalRecipient header."""
    for part in _walk(msg):
        if part.get_content_type() == "message/rfc822" and b"X-HmXmrOriginalRecipient:" in part.as_bytes()[:20000]:
            return True
    return False


def _ses_notification_kind(text: str) -> str | None:
    start = text.find("{")
    try:
        data = json.JSONDecoder(strict=False).raw_decode(text[start:])[0] if start >= 0 else None
    except ValueError:
        return None
    kind = data.get("notificationType") or data.get("eventType") if isinstance(data, dict) else None
    return {"Bounce": BOUNCE, "Complaint": COMPLAINT}.get(str(kind))


def _is_daemon(address: str | None) -> bool:
    return bool(address) and str(address).split("@")[0] in _DAEMON_LOCALPARTS


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-recipient field blocks of a delivery-status part, keys lower-cased."""
    blocks: list[dict[str, str]] = []
    try:
        payload = part.get_payload()
    except Exception:  # noqa: BLE001 - a malformed report must not stop the mail
        payload = None
    if isinstance(payload, list):
        for block in payload:
            if not isinstance(block, Message):
                continue
            try:
                blocks.append({k.lower(): str(v) for k, v in block.items()})
            except Exception:  # noqa: BLE001
                continue
        return blocks
    text = payload if isinstance(payload, str) else _part_text(part)
    for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        fields: dict[str, str] = {}
        for line in re.sub(r"\n[ \t]+", " ", chunk).split("\n"):
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        blocks.append(fields)
    return blocks


def _bounced_recipients(msg: Message) -> list[BouncedRecipient]:
    out: list[BouncedRecipient] = []
    for part in _walk(msg):
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        for fields in _status_blocks(part):
            recipient = fields.get("final-recipient") or fields.get("original-recipient")
            if not recipient:
                continue
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            if address and all(b.address != address for b in out):
                out.append(BouncedRecipient(address, fields.get("status") or None, fields.get("action") or None,
                                            " ".join((fields.get("diagnostic-code") or "").split()) or None))
    return out


# ---------------------------------------------------------------------------------------------- entry points

def parse_inbound(raw: bytes) -> InboundMail:
    """Parse one raw email; never raises for malformed mail."""
    msg = email.message_from_bytes(raw or b"", policy=policy.default)
    from_value = _header(msg, "From")
    try:
        from_name, from_address = parseaddr(from_value)
    except Exception:  # noqa: BLE001
        from_name, from_address = "", ""
    address: str | None = from_address.strip().lower() or None
    sender = address or (parseaddr(_header(msg, "Return-Path"))[1] or "").lower() or None
    subject = " ".join(_header(msg, "Subject").split())

    report = _report_type(msg)
    reason = auto_reply_reason(msg)
    kind = REPLY
    full_text = _body_text(msg)
    if report == "feedback-report" or _has_part(msg, "message/feedback-report") or _is_hotmail_jmrp(msg):
        kind = COMPLAINT
    elif report == "delivery-status" or _has_part(msg, "message/delivery-status") or _is_daemon(sender) or (
            _BOUNCE_SUBJECT.search(subject) and _header(msg, "Return-Path") in ("<>", "")):
        kind = BOUNCE
    elif sender == "no-reply@sns.amazonaws.com":  # an SES notification delivered by SNS email
        kind = _ses_notification_kind(full_text) or kind
    if kind == REPLY and reason:
        kind = AUTO_REPLY

    text = trim_reply(full_text) if kind == REPLY else full_text
    references: list[str] = []
    for value in _headers(msg, "References"):
        for mid in _msg_ids(value):
            if mid not in references:
                references.append(mid)
    in_reply_to = next(iter(_msg_ids(_header(msg, "In-Reply-To"))), None)
    recipients = _addresses([v for name in ("To", "Cc", "Delivered-To", "X-Original-To") for v in _headers(msg, name)])
    return InboundMail(
        message_id=next(iter(_msg_ids(_header(msg, "Message-ID"))), None),
        in_reply_to=in_reply_to,
        references=references,
        from_address=address,
        from_name=" ".join(from_name.split()) or None,
        recipients=recipients,
        subject=subject,
        text=text,
        full_text=full_text,
        attachments=_attachments(msg),
        kind=kind,
        auto_reply_reason=reason if kind == AUTO_REPLY else None,
        bounced_recipients=_bounced_recipients(msg) if kind == BOUNCE else [],
    )


def _verdict(receipt: dict, key: str) -> str | None:
    value = receipt.get(key)
    return value.get("status") if isinstance(value, dict) else None


def parse_received_notification(sns_message: dict | str) -> ReceivedNotification:
    """An SES `Received` notification (SNS action, S3 action alert, Lambda action, or any of them wrapped in an
    SNS envelope or a Lambda SNS event) → where the raw mail is, its content when inline, and the verdicts."""
    data: Any = sns_message
    for _ in range(4):  # unwrap: JSON string, Lambda event, SNS envelope
        if isinstance(data, str | bytes):
            data = json.loads(data)
        if isinstance(data, dict) and isinstance(data.get("Records"), list) and data["Records"]:
            record = data["Records"][0]
            data = record.get("Sns", {}).get("Message") if "Sns" in record else record.get("ses", record)
            continue
        if isinstance(data, dict) and "Message" in data and "mail" not in data:
            data = data["Message"]
            continue
        break
    if not isinstance(data, dict) or not isinstance(data.get("mail"), dict):
        raise ValueError("not an SES receipt notification")
    mail, receipt = data["mail"], data.get("receipt") or {}
    action = receipt.get("action") or {}
    content = data.get("content")
    raw: bytes | None = None
    if isinstance(content, str):
        if (action.get("encoding") or "").upper() == "BASE64":
            try:
                raw = base64.b64decode(content, validate=False)
            except (binascii.Error, ValueError):
                raw = None
        else:
            raw = content.encode("utf-8")
    recipients = receipt.get("recipients") or mail.get("destination") or []
    return ReceivedNotification(
        message_id=mail.get("messageId"),
        recipients=[r.lower() for r in recipients if isinstance(r, str)],
        s3_bucket=action.get("bucketName") if action.get("type") == "S3" else None,
        s3_key=action.get("objectKey") if action.get("type") == "S3" else None,
        content=raw,
        verdicts=Verdicts(*(_verdict(receipt, k) for k in ("spamVerdict", "virusVerdict", "spfVerdict",
                                                              "dkimVerdict", "dmarcVerdict"))),
    )
