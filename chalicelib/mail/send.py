"""Sending a discussion's messages: one rendered copy per external recipient, each claimed before it goes.

The journey of one copy: claim its tracking record (a conditional write on a key derived from
message and recipient, so a retry or a concurrent send can never mail it twice) → build the MIME →
SES SendRawEmail with that recipient alone → record the Message-ID SES really put on the mail and
index every id for inbound matching. A copy SES refused stays `failed` with its reason and the
message stays in the outbox, so the next send picks it up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.config import settings
from chalicelib.discussions import service as discussions
from chalicelib.discussions.models import Discussion, Message, ParticipantMap
from chalicelib.errors import Conflict, NotFound
from chalicelib.identities import reputation
from chalicelib.mail import anchors, communication, compose, ses
from chalicelib.mail.models import MessageIdIndex, ReplyKey
from chalicelib.tracking import suppression
from chalicelib.tracking.ids import tracking_id
from chalicelib.tracking.models import EmailTracking

HISTORY_MESSAGES = 3
MAX_REFERENCES = 20


@dataclass
class SendReport:
    sent: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "skipped": self.skipped, "failed": self.failed}


def external_recipients(discussion: Discussion) -> list[ParticipantMap]:
    return [p for p in discussion.participants if p.email and not p.user_id]


def _visible(people: list[ParticipantMap], roles: set[str]) -> list[compose.Person]:
    return [compose.Person(p.email, p.name) for p in people if p.email and p.role in roles]


def _messages_to_send(discussion: Discussion, message_id: str | None) -> list[Message]:
    key = discussions.discussion_key(discussion.tenant_id, discussion.discussion_id)
    if message_id:
        try:
            message = Message.get(key, message_id)
        except Message.DoesNotExist:
            raise NotFound("message not found in this discussion") from None
        if message.is_internal:
            raise Conflict("internal notes are never emailed", field="message_id")
        return [message]
    pending = [m.message_id for m in Message.outbox.query(key, limit=25)]
    return sorted(Message.batch_get([(key, i) for i in pending]), key=lambda m: m.message_id)


def _history(discussion: Discussion, before: str) -> list[Message]:
    """Earlier non-internal messages, oldest first (internal notes are never quoted)."""
    key = discussions.discussion_key(discussion.tenant_id, discussion.discussion_id)
    earlier = Message.query(key, Message.message_id < before, scan_index_forward=False, limit=50)
    return list(reversed([m for m in earlier if not m.is_internal]))


def _claim(record: EmailTracking) -> bool:
    """Take the right to send this copy: new, or failed before. False if it is sent or being sent."""
    try:
        record.save(condition=EmailTracking.tracking_pixel_id.does_not_exist())
        return True
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
    try:
        record.update(actions=[EmailTracking.state.set("sending"), EmailTracking.attempts.add(1)],
                      condition=EmailTracking.state == "failed")
        return True
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False


def _previous_id_for(recipient: str, earlier: list[Message], tenant_id: str, discussion_id: str) -> str | None:
    """The Message-ID of the latest message of the conversation this recipient has in their mailbox."""
    for message in reversed(earlier):
        if message.author.lower() == recipient and message.email_message_id:
            return message.email_message_id
        pixel = tracking_id(tenant_id, discussion_id, message.message_id, recipient)
        try:
            copy = EmailTracking.get(pixel)
        except EmailTracking.DoesNotExist:
            continue
        if copy.email_message_id:
            return copy.email_message_id
    return None


def _references(discussion: Discussion, domain: str, earlier: list[Message], recipient: str,
                in_reply_to: str | None) -> list[str]:
    ids = [anchors.our_message_id(m.message_id, domain) for m in earlier if m.author_type == "user"]
    ids += [m.email_message_id for m in earlier if m.author.lower() == recipient and m.email_message_id]
    chain = [discussion.email_thread_id, *ids[-MAX_REFERENCES:]]
    if in_reply_to and in_reply_to not in chain:
        chain.append(in_reply_to)
    return chain


def _index(tenant_id: str, discussion_id: str, message_id: str, recipient: str, headers: dict[str, str]) -> None:
    with MessageIdIndex.batch_write() as batch:
        for origin, header in headers.items():
            batch.save(MessageIdIndex(anchors.index_key(header), tenant_id=tenant_id,
                                      discussion_id=discussion_id, message_id=message_id,
                                      recipient=recipient if origin == "ses" else None, origin=origin))


def send_discussion(principal: Principal, discussion_id: str, message_id: str | None = None) -> SendReport:
    config = communication.get(principal.tenant_id)
    discussion = discussions.load(principal.tenant_id, discussion_id)
    if not config.email_integration_enabled:
        raise Conflict("email integration is disabled for this tenant; enable it in the communication settings",
                       field="email_integration_enabled")
    if discussion.status == "closed":
        raise Conflict("the discussion is closed; reopen it to send", field="status")
    reputation.ensure_sending_allowed(principal.tenant_id)  # a tenant over SES's bounce/complaint levels is paused
    report = SendReport()
    recipients = external_recipients(discussion)
    if not recipients:
        return report
    suppressed = suppression.suppressed_among(principal.tenant_id, [p.email for p in recipients])
    domain = config.email_reply_domain
    sender = compose.Person(config.from_address, config.from_name)
    to = _visible(discussion.participants, {"owner", "participant"})
    cc = _visible(discussion.participants, {"cc"})
    for message in _messages_to_send(discussion, message_id):
        earlier = _history(discussion, message.message_id)
        all_done = True
        first_ses_header = None
        for participant in recipients:
            recipient = participant.email
            if recipient in suppressed:
                report.skipped.append({"message_id": message.message_id, "recipient": recipient,
                                       "reason": "suppressed"})
                continue
            outcome = _send_copy(principal.tenant_id, discussion, message, participant, earlier, sender, to, cc,
                                 domain, config.email_signature)
            if outcome["state"] == "sent":
                report.sent.append({k: outcome[k] for k in ("message_id", "recipient", "email_message_id")})
                first_ses_header = first_ses_header or outcome["email_message_id"]
            elif outcome["state"] == "failed":
                all_done = False
                report.failed.append({k: outcome[k] for k in ("message_id", "recipient", "reason")})
            else:
                report.skipped.append({"message_id": message.message_id, "recipient": recipient,
                                       "reason": "already sent"})
        _finish(message, all_done, first_ses_header, domain)
    return report


def _finish(message: Message, all_done: bool, ses_header: str | None, domain: str) -> None:
    actions: list[Action] = []
    if ses_header and not message.email_message_id:
        actions.append(Message.email_message_id.set(ses_header))
    if all_done and message.outbox_key:
        actions.append(Message.outbox_key.remove())
    if actions:
        try:
            message.update(actions=actions)
        except (UpdateError, DeleteError):
            pass  # the copies are recorded; a stale outbox entry only makes the next send skip them


def _send_copy(tenant_id: str, discussion: Discussion, message: Message, participant: ParticipantMap,
               earlier: list[Message], sender: compose.Person, to: list[compose.Person],
               cc: list[compose.Person], domain: str, signature: str | None) -> dict[str, Any]:
    recipient = participant.email
    pixel = tracking_id(tenant_id, discussion.discussion_id, message.message_id, recipient)
    record = EmailTracking(pixel, tenant_id=tenant_id, discussion_id=discussion.discussion_id,
                           message_id=message.message_id, recipient_email=recipient,
                           recipient_type=participant.recipient_type,
                           discussion_key=discussions.discussion_key(tenant_id, discussion.discussion_id),
                           message_recipient=f"{message.message_id}#{recipient}", state="sending", attempts=1)
    base = {"message_id": message.message_id, "recipient": recipient}
    if not _claim(record):
        return {**base, "state": "skipped"}
    in_reply_to = _previous_id_for(recipient, earlier, tenant_id, discussion.discussion_id)
    key = anchors.reply_key(tenant_id, discussion.discussion_id, recipient)
    ReplyKey(key, tenant_id=tenant_id, discussion_id=discussion.discussion_id, recipient=recipient).save()
    public = settings().public_base_url
    links: list[str] = []
    email = compose.OutboundEmail(
        sender=sender, recipient=compose.Person(recipient, participant.name), to=to, cc=cc,
        reply_to=anchors.reply_address(key, domain),
        subject=anchors.subject_for(discussion.subject, is_reply=bool(earlier)),
        message_id=anchors.our_message_id(message.message_id, domain), in_reply_to=in_reply_to,
        references=_references(discussion, domain, earlier, recipient, in_reply_to),
        body=message.body, signature=signature,
        history=[compose.HistoryItem(m.author, m.created_at, m.body) for m in earlier[-HISTORY_MESSAGES:]],
        pixel_url=f"{public}/t/o/{pixel}.gif", links=links)
    raw = compose.build(email, lambda index: f"{public}/t/c/{pixel}-{index}")
    try:
        ses_id = ses.send_raw(sender.email, recipient, raw, settings().ses_configuration_set)
    except ses.SendFailed as error:
        shard = f"failed#{int(pixel[:2], 16) % EmailTracking.RETRY_SHARDS}"
        record.update(actions=[EmailTracking.state.set("failed"), EmailTracking.failure_reason.set(str(error)),
                               EmailTracking.retry_shard.set(shard)])
        return {**base, "state": "failed", "reason": str(error)}
    header = anchors.ses_message_id_header(ses_id)
    record.update(actions=[EmailTracking.state.set("sent"), EmailTracking.sent_at.set(clock.now_iso()),
                           EmailTracking.ses_message_id.set(ses_id), EmailTracking.email_message_id.set(header),
                           EmailTracking.links.set(links), EmailTracking.failure_reason.remove(),
                           EmailTracking.retry_shard.remove()])
    _index(tenant_id, discussion.discussion_id, message.message_id, recipient,
           {"ses": header, "ours": email.message_id, "thread": discussion.email_thread_id})
    return {**base, "state": "sent", "email_message_id": header}


def retry_failed(limit_per_shard: int = 100) -> SendReport:
    """The scheduled retry: send again every copy SES refused, wherever it is (bounded per run)."""
    report = SendReport()
    for shard in range(EmailTracking.RETRY_SHARDS):
        failed = EmailTracking.failed_copies.query(f"failed#{shard}", limit=limit_per_shard)
        for tenant_id, discussion_id, message_id in sorted({(r.tenant_id, r.discussion_id, r.message_id)
                                                            for r in failed}):
            system = Principal(tenant_id=tenant_id, user_id="system:retry", roles=frozenset({"admin"}))
            try:
                result = send_discussion(system, discussion_id, message_id)
            except (Conflict, NotFound) as error:  # integration switched off, discussion closed or gone
                report.skipped.append({"message_id": message_id, "reason": error.message})
                continue
            report.sent += result.sent
            report.failed += result.failed
            report.skipped += result.skipped
    return report
