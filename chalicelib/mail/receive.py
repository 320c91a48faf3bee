"""Email in: one raw inbound mail → the right discussion, trimmed, checked, loop-safe, and recorded.

The straight line (after Zulip's email_mirror and Discourse's Receiver): read the SES receipt
notification → fetch the raw mail (S3, or inline from an SNS action) → parse → classify (automatic,
bounce report, reply) → find the discussion (reply key in a recipient address, else our ids in
In-Reply-To/References) → check the sender and SES verdicts → keep the new text → post, or quarantine
with the reason. Whatever the outcome, the mail gets an `InboundRecord` (kept RETENTION_DAYS with its raw
S3 key), so that nothing is decided in a log line only and staff can release what was not posted.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib import claims, clock, ids, storage
from chalicelib.config import settings, stage_resource
from chalicelib.discussions import attachments as discussion_attachments
from chalicelib.discussions import service as discussions
from chalicelib.errors import ApiError, Conflict, NotFound
from chalicelib.logs import redact
from chalicelib.mail import anchors, communication, inbound
from chalicelib.mail.models import InboundRecord, MessageIdIndex, ReplyKey

logger = logging.getLogger(__name__)

MAX_RAW_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
RETENTION_DAYS = 90             # inbound records (DynamoDB TTL); the raw mail stays in S3 for 365 days
PREVIEW_CHARS = 280
REPLY_ADDRESS = re.compile(r"^reply\+([a-z2-7]{26})@", re.IGNORECASE)
UNMATCHED_TENANT = "_unmatched"  # records of mail that matched no discussion: seen by operators, not by tenants
POSTED, QUARANTINED, AUTOMATIC, BOUNCE, DUPLICATE, UNMATCHED = (
    "posted", "quarantined", "automatic", "bounce", "duplicate", "unmatched")
OUTCOMES = (POSTED, QUARANTINED, AUTOMATIC, BOUNCE, DUPLICATE, UNMATCHED)


@dataclass
class Outcome:
    status: str            # one of OUTCOMES
    reason: str | None = None
    tenant_id: str | None = None
    discussion_id: str | None = None
    message_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    inbound_id: str | None = None


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


def _match_reply_key(addresses: list[str]) -> Match | None:
    for address in addresses:
        key = REPLY_ADDRESS.match(address)
        if key:
            try:
                record = ReplyKey.get(key.group(1).lower())
                return Match(record.tenant_id, record.discussion_id, record.recipient, "reply_key")
            except ReplyKey.DoesNotExist:
                continue
    return None


def find_discussion(mail: inbound.ParsedMail, envelope_recipients: list[str]) -> Match | None:
    match = _match_reply_key([*envelope_recipients, *mail.recipients])
    if match is not None:
        return match
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


def process(raw: bytes, raw_key: str, envelope_recipients: list[str] | None = None,
            verdicts: inbound.Verdicts | None = None, received_at: str | None = None) -> Outcome:
    """Decide what one raw mail is and do it; record the outcome whatever it is."""
    received_at = received_at or clock.now_iso()
    if len(raw) > MAX_RAW_BYTES:  # not parsed; the reply key of an envelope recipient still names its tenant
        match = _match_reply_key([r.lower() for r in envelope_recipients or []])
        too_large = Outcome(QUARANTINED, f"message is larger than {MAX_RAW_BYTES} bytes",
                            match.tenant_id if match else None, match.discussion_id if match else None)
        return _record(too_large, None, raw_key, received_at)
    mail = inbound.parse_inbound(raw)
    match = find_discussion(mail, [r.lower() for r in envelope_recipients or []])
    outcome = _not_a_reply(mail, match)
    if outcome is None and match is None:
        outcome = Outcome(UNMATCHED, "no discussion matches this mail")
    elif outcome is None and match is not None:
        discussion = _discussion_of(match)
        outcome = _refused(mail, match, verdicts, discussion) or _post(mail, match, raw_key, discussion)
    assert outcome is not None
    return _record(outcome, mail, raw_key, received_at)


def _not_a_reply(mail: inbound.ParsedMail, match: Match | None) -> Outcome | None:
    """Bounces, complaints and automatic mail: never posted, never answered."""
    tenant, discussion = (match.tenant_id, match.discussion_id) if match else (None, None)
    if mail.kind in (inbound.BOUNCE, inbound.COMPLAINT):
        failed = [{"recipient": b.address, "status": b.status or "", "diagnostic": b.diagnostic or ""}
                  for b in mail.bounced_recipients if (b.action or "failed").lower() in ("failed", "delayed")]
        if match is not None:
            _record_bounces(match, failed)
        return Outcome(BOUNCE, mail.automatic_reason, tenant, discussion, details={"failed_recipients": failed})
    if mail.kind == inbound.AUTOMATIC:
        return Outcome(AUTOMATIC, f"automatic mail ({mail.automatic_reason})", tenant, discussion)
    if match is None:
        return None
    config = communication.recent(match.tenant_id)  # background work: read once a minute per container
    if config.from_address and (mail.from_address or "") == config.from_address.lower():
        return Outcome(AUTOMATIC, "mail from our own sending address (loop)", tenant, discussion)
    return None


def _discussion_of(match: Match) -> Any:
    """The matched discussion (read once: the checks and the posting share it), or None when it is gone."""
    try:
        return discussions.load(match.tenant_id, match.discussion_id)
    except ApiError:
        return None


def _refused(mail: inbound.ParsedMail, match: Match, verdicts: inbound.Verdicts | None,
             discussion: Any) -> Outcome | None:
    """A reply that may not be posted as it is: quarantined with the reason, for staff to release or not."""
    failing = verdicts.failing() if verdicts else []
    reason = f"SES verdict FAIL: {', '.join(failing)}" if failing else None
    if reason is None:
        if discussion is None:
            reason = "the discussion no longer exists"
        else:
            sender = mail.from_address or ""
            if sender not in {p.email for p in discussion.participants if p.email} and sender != match.recipient:
                reason = f"sender {sender} is not a participant of the discussion"
            elif discussion.status == "closed":
                reason = "the discussion is closed"
    if reason is None:
        return None
    logger.info("inbound mail quarantined: %s", redact(reason))
    return Outcome(QUARANTINED, reason, match.tenant_id, match.discussion_id)


def _preview(mail: inbound.ParsedMail | None, outcome: str) -> str | None:
    if mail is None:
        return None
    text = mail.text if outcome in (POSTED, QUARANTINED, DUPLICATE, UNMATCHED) else mail.full_text
    return " ".join(text.split())[:PREVIEW_CHARS] or None


def _record(outcome: Outcome, mail: inbound.ParsedMail | None, raw_key: str, received_at: str) -> Outcome:
    """The inbound record of this mail. A redelivery of the same stored mail writes the same record again,
    except over one that says the mail was posted."""
    tenant = outcome.tenant_id or UNMATCHED_TENANT
    inbound_id = ids.sortable_id_for(received_at, raw_key)
    record = InboundRecord(
        tenant, inbound_id, tenant_outcome=f"{tenant}#{outcome.status}", outcome=outcome.status,
        reason=(outcome.reason or "")[:1000] or None, discussion_id=outcome.discussion_id,
        matched_by=outcome.details.get("matched_by"), sender=(mail.from_address if mail else None),
        subject=(mail.subject[:500] if mail else None) or None, preview=_preview(mail, outcome.status),
        raw_s3_key=raw_key, received_at=received_at,
        email_message_id=((mail.message_id or "")[:500] if mail else "") or None, message_id=outcome.message_id,
        expires_at=int((clock.now() + timedelta(days=RETENTION_DAYS)).timestamp()))
    try:
        record.save(condition=InboundRecord.inbound_id.does_not_exist() | (InboundRecord.outcome != POSTED))
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
    outcome.inbound_id = inbound_id
    if outcome.status != POSTED:
        logger.info("inbound mail %s: %s (%s)", inbound_id, outcome.status, redact(outcome.reason))
    return outcome


def _post(mail: inbound.ParsedMail, match: Match, raw_key: str, loaded: Any = None) -> Outcome:
    """Post once, even when SNS delivers the mail twice or a Lambda dies half-way.

    The Message-ID is claimed first (claims.take on its record); the message and the claim's end (`message_id`,
    on condition that the claim is still ours) are written in one transaction; attachments follow and are marked
    done. A redelivery finishes what a crashed run left: attachments not stored yet are stored, a claim never
    posted is taken over once its lease ran out. A mail without a Message-ID gets one on the tenant's reply domain
    (it is indexed there, and a reply quoting it must come home)."""
    sender = mail.from_address or ""
    their_id = mail.message_id or f"<inbound.{ids.new_id()}@{_reply_domain(match.tenant_id)}>"
    claim = _claim_delivery(their_id, match)
    if not claim.held:
        existing = claim.item
        if existing is not None and existing.message_id and not existing.attachments_stored:
            _store_attachments(mail, match, existing.message_id, existing)
        return Outcome(DUPLICATE, "this Message-ID was already posted", match.tenant_id, match.discussion_id,
                       existing.message_id if existing is not None else None)
    text = mail.text or "(no text)"
    spec = discussions.MessageInput(body=text[:100_000], is_internal=False)

    def posted_claim(message: Any) -> list[Any]:
        item, still_ours = claim.finished_in_caller_transaction(POSTED)
        item.message_id = message.message_id
        if not mail.attachments:
            item.attachments_stored = True  # nothing to store: no write of its own afterwards
        return [(item, still_ours)]

    _, posted = discussions.add_message(
        match.tenant_id, match.discussion_id, spec, author=sender, author_user_id=None, author_type="email",
        email_message_id=their_id, email_in_reply_to=mail.in_reply_to, raw_s3_key=raw_key,
        author_name=mail.from_name or sender, also_save=posted_claim, loaded=loaded)
    assert claim.item is not None
    if mail.attachments:
        _store_attachments(mail, match, posted.message_id, claim.item)
    return Outcome(POSTED, None, match.tenant_id, match.discussion_id, posted.message_id,
                   {"matched_by": match.by, "sender_name": mail.from_name})


def _reply_domain(tenant_id: str) -> str:
    return communication.recent(tenant_id).email_reply_domain or settings().default_reply_domain


# Posting one inbound mail: the lease outlasts the inbound_mail Lambda (timeout 120 s, .chalice/config.json).
DELIVERY = claims.Work(kind="inbound", status=MessageIdIndex.status, claim=MessageIdIndex.claim,
                       ready=("released",), working="posting", creates=True, lease_seconds=150)


class DeliveryInProgress(Exception):
    """Another run is posting this mail right now: fail, so the event is retried (and finished) later."""


def _claim_delivery(their_id: str, match: Match) -> claims.Claim[MessageIdIndex]:
    """The Message-ID record of this delivery, claimed now; or as it is (posted: `message_id` set; or one of our own
    outbound ids, which a mail loop can bring back). Raises DeliveryInProgress while another run holds it."""
    claim = claims.take(MessageIdIndex(anchors.index_key(their_id)), DELIVERY, actions=[
        MessageIdIndex.tenant_id.set(match.tenant_id), MessageIdIndex.discussion_id.set(match.discussion_id),
        MessageIdIndex.origin.set("inbound"), MessageIdIndex.claimed_at.set(clock.now_iso())])
    if claim.state in (claims.BUSY, claims.GONE):
        raise DeliveryInProgress(f"{redact(their_id)} is being posted by another run")
    return claim


def _store_attachments(mail: inbound.ParsedMail, match: Match, message_id: str, record: MessageIdIndex) -> None:
    for attachment in mail.attachments[:MAX_ATTACHMENTS]:
        try:
            discussion_attachments.store(match.tenant_id, match.discussion_id, filename=attachment.filename,
                                         content_type=attachment.content_type, content=attachment.content,
                                         uploaded_by="email", message_id=message_id)
        except ApiError as error:
            logger.info("inbound attachment refused: %s", redact(str(error)))
    record.update(actions=[MessageIdIndex.attachments_stored.set(True)])


def handle_receipt(notification: dict[str, Any] | str) -> Outcome:
    """An SES receipt notification: the raw mail from S3 (S3 action) or inline (SNS action), then `process`."""
    try:
        received = inbound.parse_received_notification(notification)
    except ValueError:
        logger.warning("not an SES receipt notification; nothing to do")  # e.g. SES's setup notification
        return Outcome(AUTOMATIC, "not an SES receipt notification")
    if received.s3_bucket and received.s3_key:
        raw_key = f"s3://{received.s3_bucket}/{received.s3_key}"
        raw = _raw(raw_key)
    elif received.content is not None:
        # Delivered inline by an SNS action: keep the original in the inbound bucket like the S3 action would.
        raw = received.content
        key = f"inbound/sns/{received.message_id or ids.new_id()}"
        bucket = os.environ.get("INBOUND_BUCKET") or stage_resource("inbound-mail")
        storage.s3().put_object(Bucket=bucket, Key=key, Body=raw)
        raw_key = f"s3://{bucket}/{key}"
    else:
        raise ValueError("SES receipt notification names neither an S3 object nor the mail's content")
    return process(raw, raw_key, received.recipients, received.verdicts, received.timestamp)


def _raw(raw_key: str) -> bytes:
    bucket, _, key = raw_key.removeprefix("s3://").partition("/")
    return storage.s3().get_object(Bucket=bucket, Key=key)["Body"].read(MAX_RAW_BYTES + 1)


# ---------------------------------------------------------------- staff: the inbound records


def list_records(tenant_id: str, outcome: str | None, limit: int,
                 cursor: str | None) -> tuple[list[InboundRecord], str | None]:
    """The tenant's inbound records, newest first, all or of one outcome: one Query."""
    from chalicelib.db import decode_cursor, encode_cursor

    scope = f"{tenant_id}|inbound|{outcome or ''}"
    start = decode_cursor(cursor, scope)
    if outcome:
        results = InboundRecord.by_outcome.query(f"{tenant_id}#{outcome}", scan_index_forward=False, limit=limit,
                                                 last_evaluated_key=start)
    else:
        results = InboundRecord.query(tenant_id, scan_index_forward=False, limit=limit, last_evaluated_key=start)
    items = list(results)
    return items, encode_cursor(results.last_evaluated_key, scope)


def _record_of(tenant_id: str, inbound_id: str) -> InboundRecord:
    try:
        return InboundRecord.get(tenant_id, inbound_id)
    except InboundRecord.DoesNotExist:
        raise NotFound("inbound mail not found") from None


def release(tenant_id: str, inbound_id: str, released_by: str) -> Outcome:
    """Staff vouch for a mail that was not posted (quarantined, taken for automatic mail or a bounce): post it to
    its discussion, bypassing the checks that stopped it."""
    record = _record_of(tenant_id, inbound_id)
    if record.outcome == POSTED:
        raise Conflict("this mail was already posted", field="inbound_id")
    if not record.discussion_id:
        raise Conflict("this mail matched no discussion; it cannot be released", field="inbound_id")
    raw = _raw(record.raw_s3_key)
    if len(raw) > MAX_RAW_BYTES:
        raise Conflict(f"this mail is larger than {MAX_RAW_BYTES} bytes; it cannot be posted", field="inbound_id")
    discussion = discussions.load(tenant_id, record.discussion_id)
    if discussion.status == "closed":
        raise Conflict("the discussion is closed; reopen it first", field="status")
    outcome = _post(inbound.parse_inbound(raw), Match(tenant_id, record.discussion_id, None, "released"),
                    record.raw_s3_key)
    if outcome.status != POSTED:
        raise Conflict("a mail with the same Message-ID is already posted", field="inbound_id")
    record.update(actions=[InboundRecord.outcome.set(POSTED),
                           InboundRecord.tenant_outcome.set(f"{tenant_id}#{POSTED}"),
                           InboundRecord.message_id.set(outcome.message_id or ""),
                           InboundRecord.released_by.set(released_by), InboundRecord.released_at.set(clock.now_iso())])
    outcome.inbound_id = inbound_id
    return outcome


def discard(tenant_id: str, inbound_id: str) -> None:
    _record_of(tenant_id, inbound_id).delete()
