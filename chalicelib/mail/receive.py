"""Email in: one raw inbound mail → the right discussion, trimmed, checked and loop-safe.

The straight line (after Zulip's email_mirror and Discourse's Receiver): read the SES receipt
notification → fetch the raw mail from S3 → parse → classify (auto-reply, bounce report, reply) →
find the discussion (reply key in a recipient address, else our ids in In-Reply-To/References) →
check the sender and SES verdicts → keep the new text → post, or quarantine with the reason.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib import clock, ids, storage
from chalicelib.config import settings
from chalicelib.discussions import attachments as discussion_attachments
from chalicelib.discussions import service as discussions
from chalicelib.errors import ApiError
from chalicelib.mail import anchors, communication, inbound
from chalicelib.mail.models import InboundMail as QuarantinedMail
from chalicelib.mail.models import MessageIdIndex, ReplyKey

logger = logging.getLogger(__name__)

MAX_RAW_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
REPLY_ADDRESS = re.compile(r"^reply\+([a-z2-7]{26})@", re.IGNORECASE)
AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}
AUTO_SUBJECT = re.compile(r"^\s*(auto(matic)?[ -]?reply|out of (the )?office|abwesenheitsnotiz|"
                          r"réponse automatique|respuesta automática)\b", re.IGNORECASE)


@dataclass
class Outcome:
    status: str            # posted | quarantined | duplicate | ignored
    reason: str | None = None
    tenant_id: str | None = None
    discussion_id: str | None = None
    message_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _record_bounces(match: Match, failed: list[dict[str, str]]) -> None:
    """A DSN that reached a reply address feeds the same suppression and participant marks as SES bounces."""
    from chalicelib.tracking import suppression

    discussion_addresses = {p.email for p in discussions.load(match.tenant_id, match.discussion_id).participants
                            if p.email}
    for entry in failed:
        if entry["recipient"] not in discussion_addresses:
            continue  # only addresses of this discussion: a forged report cannot suppress anyone else
        if entry["status"].startswith("5"):
            suppression.suppress(match.tenant_id, entry["recipient"], "hard_bounce",
                                 entry["diagnostic"] or entry["status"])
            discussions.mark_participant_email_status(match.tenant_id, match.discussion_id, entry["recipient"],
                                                      "hard_bounce")


# ---------------------------------------------------------------- finding the discussion


@dataclass
class Match:
    tenant_id: str
    discussion_id: str
    recipient: str | None
    by: str


def find_discussion(mail: inbound.InboundMail, envelope_recipients: list[str]) -> Match | None:
    for address in [*envelope_recipients, *mail.recipients]:
        key = REPLY_ADDRESS.match(address)
        if key:
            try:
                record = ReplyKey.get(key.group(1).lower())
                return Match(record.tenant_id, record.discussion_id, record.recipient, "reply_key")
            except ReplyKey.DoesNotExist:
                continue
    candidates = [anchors.index_key(i) for i in [*([mail.in_reply_to] if mail.in_reply_to else []),
                                                   *reversed(mail.references)]]
    candidates = list(dict.fromkeys(candidates))[:50]
    if candidates:
        # Our ids, the SES ids recipients saw, and ids of mail they sent us earlier all lead home.
        found = {item.message_id_header: item for item in MessageIdIndex.batch_get(candidates)}
        for candidate in candidates:
            if candidate in found:
                return Match(found[candidate].tenant_id, found[candidate].discussion_id, None, "references")
    return None


# ---------------------------------------------------------------- the journey


def _quarantine(raw_key: str, mail: inbound.InboundMail, reason: str, match: Match | None,
                sender: str) -> Outcome:
    tenant = match.tenant_id if match else "_unmatched"
    item = QuarantinedMail(tenant, ids.new_sortable_id(), discussion_id=match.discussion_id if match else None,
                           sender=sender, subject=(mail.subject or "")[:500], reason=reason,
                           raw_s3_key=raw_key, received_at=clock.now_iso(),
                           email_message_id=(mail.message_id or "")[:500] or None)
    item.save()
    logger.info("inbound mail quarantined: %s", reason)
    return Outcome("quarantined", reason, match.tenant_id if match else None,
                   match.discussion_id if match else None, details={"quarantine_id": item.inbound_id})


def process(raw: bytes, raw_key: str, envelope_recipients: list[str] | None = None,
            verdicts: dict[str, str] | None = None) -> Outcome:
    if len(raw) > MAX_RAW_BYTES:
        return Outcome("ignored", f"message is larger than {MAX_RAW_BYTES} bytes")
    mail = inbound.parse_inbound(raw)
    sender = mail.from_address or ""
    match = find_discussion(mail, [r.lower() for r in envelope_recipients or []])

    if mail.kind in (inbound.BOUNCE, inbound.COMPLAINT):
        failed = [{"recipient": b.address, "status": b.status or "", "diagnostic": b.diagnostic or ""}
                  for b in mail.bounced_recipients if (b.action or "failed").lower() in ("failed", "delayed")]
        if match is not None:
            _record_bounces(match, failed)
        outcome = _quarantine(raw_key, mail, f"{mail.kind} report (delivery status notification)", match, sender)
        outcome.details["failed_recipients"] = failed
        return outcome
    if mail.kind == inbound.AUTO_REPLY:
        return Outcome("ignored", f"automatic reply ({mail.auto_reply_reason})", match.tenant_id if match else None)
    if match is None:
        return _quarantine(raw_key, mail, "no discussion matches this mail", None, sender)
    config = communication.get(match.tenant_id)
    if config.from_address and sender == config.from_address.lower():
        return Outcome("ignored", "mail from our own sending address (loop)", match.tenant_id)
    failing = [name for name, verdict in (verdicts or {}).items()
               if name in ("spam", "virus", "dmarc") and str(verdict).upper() == "FAIL"]
    if failing:
        return _quarantine(raw_key, mail, f"SES verdict FAIL: {', '.join(failing)}", match, sender)
    try:
        discussion = discussions.load(match.tenant_id, match.discussion_id)
    except ApiError:
        return _quarantine(raw_key, mail, "the discussion no longer exists", match, sender)
    participants = {p.email for p in discussion.participants if p.email}
    if sender not in participants and sender != match.recipient:
        return _quarantine(raw_key, mail, f"sender {sender} is not a participant of the discussion", match,
                           sender)
    if discussion.status == "closed":
        return _quarantine(raw_key, mail, "the discussion is closed", match, sender)
    return _post(mail, match, raw_key)


def _post(mail: inbound.InboundMail, match: Match, raw_key: str) -> Outcome:
    """Post once, even when SNS delivers the mail twice or a Lambda dies half-way.

    The Message-ID is claimed first; the message and the claim's `message_id` are written in one transaction;
    attachments follow and are marked done. A redelivery finishes what a crashed run left: attachments not
    stored yet are stored, a claim never posted is taken over once it is older than CLAIM_TIMEOUT."""
    sender = mail.from_address or ""
    their_id = mail.message_id or f"<inbound.{ids.new_id()}@{settings().default_reply_domain}>"
    claim = _claim_delivery(their_id, match)
    if claim.message_id:
        if not claim.attachments_stored:
            _store_attachments(mail, match, claim.message_id, claim)
        return Outcome("duplicate", "this Message-ID was already posted", match.tenant_id, match.discussion_id)
    text = mail.text or "(no text)"
    spec = discussions.MessageInput(body=text[:100_000], is_internal=False)

    def posted_claim(message: Any) -> list[Any]:
        claim.message_id = message.message_id
        return [claim]

    _, posted = discussions.add_message(
        match.tenant_id, match.discussion_id, spec, author=sender, author_user_id=None, author_type="email",
        email_message_id=their_id, email_in_reply_to=mail.in_reply_to, raw_s3_key=raw_key,
        author_name=mail.from_name or sender, also_save=posted_claim)
    _store_attachments(mail, match, posted.message_id, claim)
    return Outcome("posted", None, match.tenant_id, match.discussion_id, posted.message_id,
                   {"matched_by": match.by, "sender_name": mail.from_name})


CLAIM_TIMEOUT_SECONDS = 90


class DeliveryInProgress(Exception):
    """Another run is posting this mail right now: fail, so the event is retried (and finished) later."""


def _claim_delivery(their_id: str, match: Match) -> MessageIdIndex:
    """The Message-ID record of this delivery: new (claimed now), posted (message_id set) or taken over."""
    key = anchors.index_key(their_id)
    now = clock.now_iso()
    claim = MessageIdIndex(key, tenant_id=match.tenant_id, discussion_id=match.discussion_id, origin="inbound",
                           claimed_at=now)
    try:
        claim.save(condition=MessageIdIndex.message_id_header.does_not_exist())
        return claim
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
    existing = MessageIdIndex.get(key, consistent_read=True)
    if existing.message_id or existing.origin != "inbound":
        return existing
    stale = clock.iso(clock.now() - timedelta(seconds=CLAIM_TIMEOUT_SECONDS))
    if existing.claimed_at and existing.claimed_at > stale:
        raise DeliveryInProgress(f"{their_id} is being posted by another run")
    try:  # the run that claimed it died before posting: take the claim over, once
        existing.update(actions=[MessageIdIndex.claimed_at.set(now)],
                        condition=(MessageIdIndex.claimed_at == existing.claimed_at)
                        & MessageIdIndex.message_id.does_not_exist())
    except UpdateError as error:
        raise DeliveryInProgress(f"{their_id} was taken over by another run") from error
    return existing


def _store_attachments(mail: inbound.InboundMail, match: Match, message_id: str, claim: MessageIdIndex) -> None:
    for attachment in mail.attachments[:MAX_ATTACHMENTS]:
        try:
            discussion_attachments.store(match.tenant_id, match.discussion_id, filename=attachment.filename,
                                         content_type=attachment.content_type, content=attachment.content,
                                         uploaded_by="email", message_id=message_id)
        except ApiError as error:
            logger.info("inbound attachment refused: %s", error)
    claim.update(actions=[MessageIdIndex.attachments_stored.set(True)])


def handle_receipt(notification: dict[str, Any]) -> Outcome:
    """An SES receipt notification (S3 action): fetch the stored raw mail and process it."""
    receipt = notification.get("receipt", {})
    action = receipt.get("action", {})
    bucket, key = action.get("bucketName"), action.get("objectKey")
    if not bucket or not key:
        return Outcome("ignored", "receipt notification without an S3 object")
    raw = storage.s3().get_object(Bucket=bucket, Key=key)["Body"].read(MAX_RAW_BYTES + 1)
    verdicts = {name.removesuffix("Verdict"): (receipt.get(name) or {}).get("status", "")
                for name in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict")}
    return process(raw, f"s3://{bucket}/{key}", receipt.get("recipients", []), verdicts)


def _raw(raw_key: str) -> bytes:
    bucket, _, key = raw_key.removeprefix("s3://").partition("/")
    return storage.s3().get_object(Bucket=bucket, Key=key)["Body"].read(MAX_RAW_BYTES + 1)


def list_quarantine(tenant_id: str, limit: int, cursor: str | None) -> tuple[list[QuarantinedMail], str | None]:
    from chalicelib.db import decode_cursor, encode_cursor

    scope = f"{tenant_id}|quarantine"
    results = QuarantinedMail.query(tenant_id, scan_index_forward=False, limit=limit,
                                last_evaluated_key=decode_cursor(cursor, scope))
    items = list(results)
    return items, encode_cursor(results.last_evaluated_key, scope)


def _quarantined(tenant_id: str, inbound_id: str) -> QuarantinedMail:
    from chalicelib.errors import NotFound

    try:
        return QuarantinedMail.get(tenant_id, inbound_id)
    except QuarantinedMail.DoesNotExist:
        raise NotFound("quarantined mail not found") from None


def release(tenant_id: str, inbound_id: str) -> Outcome:
    """Staff vouch for a quarantined mail: post it to its discussion despite the failed check."""
    from chalicelib.errors import Conflict

    item = _quarantined(tenant_id, inbound_id)
    if not item.discussion_id:
        raise Conflict("this mail matched no discussion; it cannot be released", field="inbound_id")
    mail = inbound.parse_inbound(_raw(item.raw_s3_key))
    discussion = discussions.load(tenant_id, item.discussion_id)
    if discussion.status == "closed":
        raise Conflict("the discussion is closed; reopen it first", field="status")
    outcome = _post(mail, Match(tenant_id, item.discussion_id, None, "released"), item.raw_s3_key)
    item.delete()
    return outcome


def discard(tenant_id: str, inbound_id: str) -> None:
    _quarantined(tenant_id, inbound_id).delete()
