"""One raw inbound email → `ParsedMail`; an SES `Received` notification → `ReceivedNotification`.

Pure parsing: no AWS, no storage. Never raises on malformed mail (every header and part read is
guarded); classifies bounces, complaints and automatic mail so that they never become replies that
trigger more email, and never mistakes a person's reply for automatic mail (NOTES.md, "Inbound mail").
"""
from __future__ import annotations

import base64
import binascii
import codecs
import email
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from typing import Any

from chalicelib.mail.reply_html import reply_from_html
from chalicelib.mail.trimming import trim_reply

REPLY, AUTOMATIC, BOUNCE, COMPLAINT = "reply", "automatic", "bounce", "complaint"
_MSG_ID = re.compile(r"<[^<>\s]+>")
_DAEMON_LOCALPARTS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)|returned mail|mail delivery (failed|failure|subsystem)|delivery (status notification|"
    r"failure|has failed)|failure notice|non[- ]?delivery|warning: could not send|mail system error|"
    r"delivery notification: delivery has failed|message delivery failure)", re.IGNORECASE)
# Precedence values that mark mass or automatic mail: a sign, never enough alone (RFC 3834 section 3.1.8).
AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}
# Subjects automatic replies are sent with: a sign, never enough alone (a person may write "Out of office?").
AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic|matische|matisch|matica|mática|matique|maattinen)?[ -]?(reply|respons\w*|antwort|antwoord|"
    r"risposta|respuesta|resposta|réponse|svar|vastaus)|(réponse|respuesta|resposta|risposta) automati\w+|"
    r"out of (the )?office|abwesen\w*|absence|fuera de la oficina|autosvar|автоответ|"
    r"automatyczna odpowied\w+|自動応答|自动回复|不在)", re.IGNORECASE)
SNS_SENDER = "no-reply@sns.amazonaws.com"
_SES_TYPE = re.compile(r'(?:notificationType|eventType)\\?"\s*:\s*\\?"(\w+)')


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str           # as the mail names it (untrusted: discussions.attachments.safe_filename stores it)
    content_type: str
    content: bytes


@dataclass(frozen=True)
class BouncedRecipient:
    address: str
    status: str | None = None
    action: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    from_address: str | None
    from_name: str | None
    recipients: list[str]
    subject: str
    text: str               # the new text, were it a reply (quote and signature cut)
    full_text: str
    attachments: list[ParsedAttachment] = field(default_factory=list)
    kind: str = REPLY
    automatic_reason: str | None = None
    bounced_recipients: list[BouncedRecipient] = field(default_factory=list)


@dataclass(frozen=True)
class Verdicts:
    spam: str | None
    virus: str | None
    spf: str | None
    dkim: str | None
    dmarc: str | None

    def failing(self) -> list[str]:
        """The verdicts that keep a mail out of a discussion (SPF and DKIM alone break on forwarding)."""
        return [name for name in ("spam", "virus", "dmarc") if (getattr(self, name) or "").upper() == "FAIL"]


@dataclass(frozen=True)
class ReceivedNotification:
    message_id: str | None
    timestamp: str | None
    recipients: list[str]
    s3_bucket: str | None
    s3_key: str | None
    content: bytes | None
    verdicts: Verdicts


# ---------------------------------------------------------------------------------------------- charsets

# What mail clients write vs what they mean (the WHATWG Encoding Standard's label table, as browsers read mail).
_CHARSET_ALIASES = {"us-ascii": "cp1252", "ascii": "cp1252", "iso-8859-1": "cp1252", "latin1": "cp1252",
                    "iso-8859-9": "cp1254", "iso-8859-11": "cp874", "tis-620": "cp874", "windows-874": "cp874",
                    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "ks_c_5601-1987": "cp949",
                    "euc-kr": "cp949", "shift_jis": "cp932", "x-sjis": "cp932", "iso-8859-8-i": "iso-8859-8",
                    "big5": "big5hkscs", "x-mac-roman": "mac_roman", "utf8": "utf-8", "unicode-1-1-utf-7": "utf-7"}


_SEVEN_BIT = {"iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3", "iso2022_jp_ext",
              "iso2022_kr", "utf-7", "hz"}


def _codec(charset: str | None) -> str | None:
    name = (charset or "").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text from bytes: ASCII as is; valid UTF-8 as UTF-8 (legacy text is almost never valid UTF-8, while mail
    labelled big5 or latin-1 or nothing often is); else the declared charset if the bytes decode cleanly with it;
    else a detector's reading. U+FFFD only where no reading decodes the bytes."""
    codec = _codec(declared)
    if codec in _SEVEN_BIT:  # ISO-2022 and UTF-7 text is ASCII bytes: only the declared charset reads it
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec and codec != "utf-8":
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    detected = _detect(data)
    return detected if detected is not None else data.decode(codec or "utf-8", errors="replace")


# Among readings a detector finds equally clean, the encodings mail is most often written in win: short Western text
# reads cleanly in a dozen single-byte code pages, and cp1252 is what an unlabelled one almost always is.
_PREFERRED = ("cp1252", "cp1250", "cp1251", "koi8_r", "cp1253", "cp1254", "cp1257", "cp1255", "cp1256", "gb18030",
              "big5", "cp932", "shift_jis", "euc_jp", "cp949", "euc_kr")


def _detect(data: bytes) -> str | None:
    from charset_normalizer import from_bytes  # imported on use: most mail is ASCII or UTF-8

    results = list(from_bytes(data))
    if not results:
        return None
    floor = min(r.chaos for r in results) + 0.01
    clean = {r.encoding: r for r in results if r.chaos <= floor}
    choice = next((clean[name] for name in _PREFERRED if name in clean), None) or min(results, key=lambda r: r.chaos)
    return str(choice)


# ---------------------------------------------------------------------------------------------- headers

def _raw_header(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items() if hasattr(msg, "raw_items") else []:
        if key.lower() == name.lower():
            return str(value)
    return None


def _header(msg: Message, name: str, hint: str | None = None) -> str:
    """A header as a decoded str, '' when absent or unreadable (never raises); raw 8-bit bytes are decoded like a
    body, `hint` (the message's own charset) first."""
    try:
        value = msg.get(name)
        text = "" if value is None else str(value).strip()
        unreadable = "\ufffd" in text
    except Exception:  # noqa: BLE001 - malformed headers must not stop a mail
        text, unreadable = "", True
    if unreadable:
        raw = _raw_header(msg, name)  # 8-bit bytes in a header: read them as a body would be read
        if raw is not None and any("\udc80" <= c <= "\udcff" for c in raw):
            text = " ".join(decode_bytes(raw.encode("utf-8", "surrogateescape"), hint).split())
    return text


def _headers(msg: Message, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
    except Exception:  # noqa: BLE001 - a malformed header must not stop a mail
        return []
    out = []
    for value in values:
        try:
            out.append(str(value))
        except Exception:  # noqa: BLE001 - one unreadable value is skipped, the rest are kept
            continue
    return out


def _charset_hint(msg: Message) -> str | None:
    for part in _walk(msg):
        try:
            charset = part.get_content_charset()
        except Exception:  # noqa: BLE001 - an unparsable Content-Type gives no hint
            charset = None
        if charset:
            return charset
    return None


def _msg_ids(value: str) -> list[str]:
    ids = _MSG_ID.findall(value or "")
    if not ids and value and value.strip() and " " not in value.strip():
        ids = [f"<{value.strip().strip('<>')}>"]
    return ids


def _addresses(values: list[str]) -> list[str]:
    seen: list[str] = []
    try:
        pairs = getaddresses(values)
    except Exception:  # noqa: BLE001 - unparsable address lists give no addresses
        pairs = []
    for _, address in pairs:
        address = address.strip().strip("<>").lower()
        if "@" in address and address not in seen:
            seen.append(address)
    return seen


# ---------------------------------------------------------------------------------------------- bodies

def part_text(part: Message) -> str:
    """A text part's content, decoded by `decode_bytes` (the part's own charset is only a hint)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - bad base64 or quoted-printable: fall back to the raw payload
        payload = None
    if isinstance(payload, bytes):
        try:
            declared = part.get_content_charset()
        except Exception:  # noqa: BLE001 - an unparsable Content-Type still has a body worth reading
            declared = None
        return decode_bytes(payload, declared)
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


_PLACEHOLDER = re.compile(r"(this (e-?mail|message) (requires|is in) html|your (e-?mail|mail) (client|program) "
                          r"(does not|doesn't) support html|view this (e-?mail|message) in (a|your) browser)",
                          re.IGNORECASE)


def _text_parts(msg: Message) -> tuple[str | None, str | None]:
    """The first text/plain and text/html parts that are the body (not attachments, not forwarded mail)."""
    plain = html = None
    try:
        body = msg.get_body(preferencelist=("plain",)) if isinstance(msg, EmailMessage) else None
        html_body = msg.get_body(preferencelist=("html",)) if isinstance(msg, EmailMessage) else None
    except Exception:  # noqa: BLE001 - a broken MIME tree is walked by hand below
        body = html_body = None
    if body is not None:
        plain = part_text(body)
    if html_body is not None:
        html = part_text(html_body)
    if plain is None and html is None:
        for part in _walk(msg):
            if _is_attachment(part) or part.is_multipart():
                continue
            ctype = part.get_content_type()
            if ctype == "text/plain" and plain is None:
                plain = part_text(part)
            elif ctype == "text/html" and html is None:
                html = part_text(part)
    return plain, html


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _reply_text(plain: str | None, html: str | None) -> tuple[str, str]:
    """(new text, whole body). The text part is what the writer's client wrote as text; the HTML part is used
    when there is no usable text part, when the text part is a poor rendering of the HTML (words missing), or
    when the HTML's structure shows a quote boundary that the text part lost."""
    plain = (plain or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not html:
        return trim_reply(plain), plain
    html_reply = reply_from_html(html)
    if not plain or _PLACEHOLDER.search(plain[:300]):
        return html_reply.text, html_reply.full_text
    html_words, plain_words = _words(html_reply.full_text), set(_words(plain))
    if html_words and sum(w in plain_words for w in html_words) < 0.8 * len(html_words):
        return html_reply.text, html_reply.full_text  # the text part lost words the HTML has
    trimmed = trim_reply(plain)
    if html_reply.structural and len(_words(trimmed)) > len(_words(html_reply.text)) + 2:
        return html_reply.text, plain  # the client marked its quote in the HTML only
    return trimmed, plain


def _walk(msg: Message) -> Iterator[Message]:
    try:
        yield from msg.walk()
    except Exception:  # noqa: BLE001 - a broken MIME tree yields what could be read
        return


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    try:
        disposition = part.get_content_disposition()
        filename = part.get_filename()
    except Exception:  # noqa: BLE001 - an unreadable disposition: treat the part as body
        return False
    return disposition == "attachment" or (filename is not None and disposition != "inline") or (
        filename is not None and not part.get_content_type().startswith("text/"))


def _attachments(msg: Message) -> list[ParsedAttachment]:
    found = []
    for part in _walk(msg):
        if not _is_attachment(part):
            continue
        try:
            content = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001 - an undecodable attachment is kept empty rather than dropped
            content = b""
        try:
            filename = part.get_filename() or ""
        except Exception:  # noqa: BLE001 - an unreadable name: the store names it "attachment"
            filename = ""
        found.append(ParsedAttachment(filename, part.get_content_type(), content if isinstance(content, bytes)
                                      else b""))
    return found


# ---------------------------------------------------------------------------------------------- classification

def _report_type(msg: Message) -> str | None:
    for part in _walk(msg):
        if part.get_content_type() == "multipart/report":
            try:
                return str(part.get_param("report-type") or "").lower() or None
            except Exception:  # noqa: BLE001 - a malformed report type: decided by its parts instead
                return None
        if part.get_content_type() == "message/feedback-report":
            return "feedback-report"
    return None


def _has_part(msg: Message, content_type: str) -> bool:
    return any(part.get_content_type() == content_type for part in _walk(msg))


def automatic_reason(msg: Message, subject: str) -> str | None:
    """Why this mail was sent by a machine (RFC 3834 and the de facto headers), None for a person's mail.

    `X-Auto-Response-Suppress` is not a sign: Exchange and Outlook put it on ordinary mail to ask *others* not
    to auto-reply. Precedence and an auto-reply subject count only together with another sign."""
    auto_submitted = _header(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _header(msg, name)
        if value and value.lower() not in ("no", "false", "0"):
            return f"{name}: {value}"
    if _header(msg, "X-Apple-Action").upper() == "VACATION":  # iCloud vacation replies
        return "X-Apple-Action: VACATION"
    signs = []
    precedence = _header(msg, "Precedence").lower()
    if precedence in AUTO_PRECEDENCE:
        signs.append(f"Precedence: {precedence}")
    if AUTO_SUBJECT.search(subject):
        signs.append(f"Subject: {subject[:80]}")
    if _header(msg, "Return-Path").replace(" ", "") == "<>":
        signs.append("Return-Path: <>")
    if _header(msg, "X-Autogenerated").lower() == "reply":
        signs.append("X-Autogenerated: Reply")
    return " and ".join(signs) if len(signs) >= 2 else None


def _is_hotmail_jmrp(msg: Message) -> bool:
    """Microsoft's JMRP complaints: the complained-about mail attached with an X-HmXmrOriginalRecipient header."""
    for part in _walk(msg):
        if part.get_content_type() == "message/rfc822" and b"X-HmXmrOriginalRecipient:" in part.as_bytes()[:20000]:
            return True
    return False


def _sns_notification(text: str) -> tuple[str, str]:
    """A mail from Amazon SNS (an SES notification sent by email, raw or in its SNS envelope, or a subscription
    message): never a reply."""
    start = text.find("{")
    try:
        data = json.JSONDecoder(strict=False).raw_decode(text[start:])[0] if start >= 0 else None
        if isinstance(data, dict) and isinstance(data.get("Message"), str) and data["Message"].startswith("{"):
            data = json.loads(data["Message"])  # the SNS envelope (raw message delivery off)
    except ValueError:
        data = None
    name = (data.get("notificationType") or data.get("eventType") or data.get("Type")) if isinstance(data, dict) \
        else None
    if data is None:  # JSON cut or wrapped by the mail: the type is still readable
        found = _SES_TYPE.search(text)
        name = found.group(1) if found else None
    kind = {"Bounce": BOUNCE, "Complaint": COMPLAINT}.get(str(name), AUTOMATIC)
    return kind, f"Amazon SNS notification ({name or 'not JSON'})"


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
            try:
                blocks.append({k.lower(): str(v) for k, v in block.items()} if isinstance(block, Message) else {})
            except Exception:  # noqa: BLE001 - one unreadable block is skipped
                continue
        return blocks
    text = payload if isinstance(payload, str) else part_text(part)
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


def _classify(msg: Message, sender: str | None, subject: str, full_text: str) -> tuple[str, str | None]:
    """(kind, why) for one mail: complaint, bounce, automatic, or a person's reply."""
    report = _report_type(msg)
    if report == "feedback-report" or _has_part(msg, "message/feedback-report") or _is_hotmail_jmrp(msg):
        return COMPLAINT, "complaint report (feedback report)"
    if report == "delivery-status" or _has_part(msg, "message/delivery-status") or _is_daemon(sender) or (
            _BOUNCE_SUBJECT.search(subject) and _header(msg, "Return-Path").replace(" ", "") in ("<>", "")):
        return BOUNCE, "bounce report (delivery status notification)"
    if sender == SNS_SENDER:
        return _sns_notification(full_text)
    reason = automatic_reason(msg, subject)
    return (AUTOMATIC, reason) if reason else (REPLY, None)


# ---------------------------------------------------------------------------------------------- entry points

_MBOX_FROM = re.compile(rb"\AFrom [^\r\n]*\r?\n(?=[\x21-\x39\x3b-\x7e]+:)")


def normalize_raw(raw: bytes) -> bytes:
    """Raw mail as the parser needs it: no leading blank lines or spaces (which would end the headers before
    they start), no mbox `From ` line, and no CR CR LF (a doubled CR would read as a blank line)."""
    raw = (raw or b"").lstrip(b" \t\r\n")
    raw = _MBOX_FROM.sub(b"", raw, count=1)
    return raw.replace(b"\r\r\n", b"\r\n")


def parse_inbound(raw: bytes) -> ParsedMail:
    """Parse one raw email; never raises for malformed mail."""
    msg = email.message_from_bytes(normalize_raw(raw), policy=policy.default)
    hint = _charset_hint(msg)
    try:
        from_name, from_address = parseaddr(_header(msg, "From", hint))
    except Exception:  # noqa: BLE001 - an unparsable From has no address
        from_name, from_address = "", ""
    sender = from_address.strip().lower() or None
    if not sender:
        sender = (parseaddr(_header(msg, "Return-Path"))[1] or "").lower() or None
    subject = " ".join(_header(msg, "Subject", hint).split())

    plain, html = _text_parts(msg)
    text, full_text = _reply_text(plain, html)
    kind, reason = _classify(msg, sender, subject, full_text)
    references: list[str] = []
    for value in _headers(msg, "References"):
        for mid in _msg_ids(value):
            if mid not in references:
                references.append(mid)
    recipients = _addresses([v for name in ("To", "Cc", "Delivered-To", "X-Original-To") for v in _headers(msg, name)])
    return ParsedMail(
        message_id=next(iter(_msg_ids(_header(msg, "Message-ID"))), None),
        in_reply_to=next(iter(_msg_ids(_header(msg, "In-Reply-To"))), None),
        references=references,
        from_address=from_address.strip().lower() or None,
        from_name=" ".join(from_name.split()) or None,
        recipients=recipients,
        subject=subject,
        text=text,
        full_text=full_text,
        attachments=_attachments(msg),
        kind=kind,
        automatic_reason=reason,
        bounced_recipients=_bounced_recipients(msg) if kind == BOUNCE else [],
    )


def _unwrap(message: Any) -> Any:
    """JSON string, Lambda event or SNS envelope → the SES notification inside."""
    data = message
    for _ in range(4):
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
    return data


def _inline_content(content: str | None, encoding: str | None) -> bytes | None:
    """The mail an SNS action carried inline (UTF-8 text, or base64 when the action says BASE64)."""
    if content is None:
        return None
    if (encoding or "").upper() == "BASE64":
        try:
            return base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError):
            return None
    return content.encode("utf-8")


def parse_received_notification(sns_message: dict | str) -> ReceivedNotification:
    """An SES `Received` notification (S3 action, SNS action with the mail inline, Lambda action, or any of
    them wrapped in an SNS envelope or a Lambda SNS event) → where the raw mail is, its content when inline,
    and the verdicts. Raises ValueError for anything else."""
    from pydantic import ValidationError

    from chalicelib.contract.aws_events import ReceiptNotification

    try:
        notification = ReceiptNotification.model_validate(_unwrap(sns_message))
    except (ValueError, TypeError, ValidationError) as error:  # ValidationError is a ValueError too
        raise ValueError("not an SES receipt notification") from error
    mail, receipt = notification.mail, notification.receipt
    action = receipt.action
    stored = action.type == "S3"
    return ReceivedNotification(
        message_id=mail.message_id,
        timestamp=receipt.timestamp or mail.timestamp,
        recipients=[r.lower() for r in receipt.recipients or mail.destination],
        s3_bucket=action.bucket_name if stored else None,
        s3_key=action.object_key if stored else None,
        content=_inline_content(notification.content, action.encoding),
        verdicts=Verdicts(*((verdict.status if verdict else None) for verdict in (
            receipt.spam_verdict, receipt.virus_verdict, receipt.spf_verdict, receipt.dkim_verdict,
            receipt.dmarc_verdict))),
    )
