"""Sending a discussion's messages: one rendered copy per external recipient, each claimed before it goes.

The journey of one copy: claim its tracking record (a conditional write on a key derived from
message and recipient, so a retry or a concurrent send can never mail it twice) → build the MIME →
SES SendRawEmail with that recipient alone → record the Message-ID SES really put on the mail and
index every id for inbound matching. A copy SES refused stays `failed` with its reason and the
message stays in the outbox, so the next send picks it up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock, storage
from chalicelib.auth import Principal
from chalicelib.config import settings
from chalicelib.discussions import downloads
from chalicelib.discussions import service as discussions
from chalicelib.discussions.attachments import safe_filename
from chalicelib.discussions.models import Discussion, Message, ParticipantMap
from chalicelib.errors import Conflict, NotFound
from chalicelib.identities import reputation
from chalicelib.mail import anchors, communication, compose, ses
from chalicelib.mail.models import MessageIdIndex, ReplyKey
from chalicelib.notifications.schedule import zone
from chalicelib.tracking import suppression
from chalicelib.tracking.ids import tracking_id
from chalicelib.tracking.models import EmailTracking

HISTORY_MESSAGES = 3
MAX_REFERENCES = 20
BODY_ALLOWANCE = 512 * 1024  # room kept for text, HTML, quoted history and headers within SES's raw limit


@dataclass
class SendReport:
    sent: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "skipped": self.skipped, "failed": self.failed}


def external_recipients(discussion: Discussion) -> list[ParticipantMap]:
    return [p for p in discussion.participants if p.email and not p.user_id]


# Who sees whom (docs/mail-journeys.md): To lists the external participants, Cc the cc role; bcc appear nowhere,
# and staff appear only in the From display name ("Dana Demo via Acme Events"). Staff get no copy, so putting
# them in To would make Reply-All mail them directly, around the hub.
TO_ROLES = frozenset({"owner", "participant"})
CC_ROLES = frozenset({"cc"})
VISIBLE_ROLES = TO_ROLES | CC_ROLES


def _visible(people: list[ParticipantMap], roles: frozenset[str]) -> list[compose.Person]:
    return [compose.Person(p.email, p.name) for p in people if p.email and not p.user_id and p.role in roles]


def may_see(message: Message, recipient: str, roles_by_email: dict[str, str]) -> bool:
    """Whether an external recipient may read this earlier message quoted in their copy.

    Staff messages (never internal notes: those are never loaded here) and messages of visible participants
    are seen by everyone; a bcc participant's words (or anyone's no longer in the discussion) only by their
    author. The same rule for every mail that quotes a discussion to an external person."""
    if message.is_internal:
        return False
    if message.author_type == "user":
        return True
    author = message.author.lower()
    return author == recipient.lower() or roles_by_email.get(author) in VISIBLE_ROLES


@dataclass
class Outgoing:
    """What every copy of one message shares: the sender as shown, names and dates, files; read once per message."""
    message: Message
    earlier: list[Message]
    sender: compose.Person
    names: dict[str, str]
    zone: ZoneInfo
    attachments: list[compose.Attachment]
    download_links: list[compose.DownloadLink]

    def history_for(self, recipient: str, roles_by_email: dict[str, str]) -> list[compose.HistoryItem]:
        visible = [m for m in self.earlier if may_see(m, recipient, roles_by_email)]
        return [compose.HistoryItem(self.names.get(m.author, m.author), self.written(m.created_at), m.body)
                for m in visible[-HISTORY_MESSAGES:]]

    def written(self, iso: str) -> str:
        return compose.human_date(datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(self.zone))


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


def _display_names(tenant_id: str, discussion: Discussion, messages: list[Message], fallback: str) -> dict[str, str]:
    """author → the name a person reads: participant name, else the users directory (one BatchGet for all staff
    authors), else for staff the tenant's sender name. Never an internal user id; an external author without a
    name shows as their address, which the recipient already sees in the mail anyway."""
    from chalicelib.users import service as users

    names: dict[str, str] = {}
    for participant in discussion.participants:
        if participant.name:
            for key in (participant.user_id, (participant.email or "").lower()):
                if key:
                    names[key] = participant.name
    staff = {m.author for m in messages if m.author_type == "user" and m.author not in names}
    profiles = users.get_many(tenant_id, staff) if staff else {}
    for user_id in staff:
        profile = profiles.get(user_id)
        names[user_id] = (profile.name if profile and profile.name else fallback)
    for message in messages:
        if message.author_type != "user":
            names.setdefault(message.author, names.get(message.author.lower(), message.author))
    return names


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
    # Ids of mail this recipient sent us come from their mailer: only well-formed ones are written back.
    ids += [i for m in earlier if m.author.lower() == recipient
            for i in [compose.message_id_or_none(m.email_message_id)] if i]
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
    to = _visible(discussion.participants, TO_ROLES)
    cc = _visible(discussion.participants, CC_ROLES)
    roles_by_email = {p.email.lower(): p.role for p in recipients}
    for message in _messages_to_send(discussion, message_id):
        outgoing = _prepare(principal.tenant_id, discussion, message, config)
        all_done = True
        first_ses_header = None
        for participant in recipients:
            recipient = participant.email
            if recipient in suppressed:
                report.skipped.append({"message_id": message.message_id, "recipient": recipient,
                                       "reason": "suppressed"})
                continue
            outcome = _send_copy(principal.tenant_id, discussion, outgoing, participant, to, cc, domain,
                                 config.email_signature, roles_by_email)
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


def _prepare(tenant_id: str, discussion: Discussion, message: Message, config: Any) -> Outgoing:
    """Everything the copies of one message share: one history Query, at most one BatchGet of staff names."""
    earlier = _history(discussion, message.message_id)
    brand = config.from_name or config.from_address
    names = _display_names(tenant_id, discussion, [*earlier[-50:], message], brand)
    author = names.get(message.author) if message.author_type == "user" else None
    shown = f"{author} via {brand}" if author and author != brand else brand
    attachments, links = attachments_for_mail(message.attachments)
    return Outgoing(message=message, earlier=earlier, sender=compose.Person(config.from_address, shown),
                    names=names, zone=zone(config.time_zone), attachments=attachments, download_links=links)


def attachments_for_mail(files: list[Any]) -> tuple[list[compose.Attachment], list[compose.DownloadLink]]:
    """The message's files as MIME parts while the raw message stays under SES's limit; the rest as links.

    Base64 grows a file by 4/3 plus line breaks; BODY_ALLOWANCE leaves room for the text, HTML, history and
    headers. A link is a presigned S3 URL valid ATTACHMENT_LINK_SECONDS (default 7 days, SigV4's maximum); signed
    with a Lambda role's temporary credentials it stops working when that session ends, whichever is first
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration)."""
    budget = settings().email_max_raw_bytes - BODY_ALLOWANCE
    inline: list[compose.Attachment] = []
    links: list[compose.DownloadLink] = []
    seconds = settings().attachment_link_seconds
    until = compose.human_date(clock.now() + timedelta(seconds=seconds)) + " UTC"
    for file in files:
        encoded = (int(file.size) * 4 // 3) + int(file.size) // 57 * 2 + 1024
        if encoded <= budget:
            budget -= encoded
            data = storage.get_object(settings().attachments_bucket, file.s3_key)
            inline.append(compose.Attachment(file.filename, file.content_type, data))
        else:
            url = downloads.link_for(file.s3_key, safe_filename(file.filename), seconds)
            links.append(compose.DownloadLink(file.filename, int(file.size), url, until))
    return inline, links


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


def _send_copy(tenant_id: str, discussion: Discussion, outgoing: Outgoing, participant: ParticipantMap,
               to: list[compose.Person], cc: list[compose.Person], domain: str, signature: str | None,
               roles_by_email: dict[str, str]) -> dict[str, Any]:
    message, earlier = outgoing.message, outgoing.earlier
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
    in_reply_to = compose.message_id_or_none(_previous_id_for(recipient, earlier, tenant_id,
                                                              discussion.discussion_id))
    key = anchors.reply_key(tenant_id, discussion.discussion_id, recipient)
    ReplyKey(key, tenant_id=tenant_id, discussion_id=discussion.discussion_id, recipient=recipient).save()
    public = settings().public_base_url
    ours = settings().our_tracker
    links: list[str] = []
    email = compose.OutboundEmail(
        sender=outgoing.sender, recipient=compose.Person(recipient, participant.name), to=to, cc=cc,
        reply_to=anchors.reply_address(key, domain),
        subject=anchors.subject_for(discussion.subject, is_reply=bool(earlier)),
        message_id=anchors.our_message_id(message.message_id, domain), in_reply_to=in_reply_to,
        references=_references(discussion, domain, earlier, recipient, in_reply_to),
        body=message.body, signature=signature, history=outgoing.history_for(recipient, roles_by_email),
        pixel_url=f"{public}/t/o/{pixel}.gif" if ours else "", links=links, attachments=outgoing.attachments,
        download_links=outgoing.download_links, date=clock.now())
    raw = compose.build(email, (lambda index: f"{public}/t/c/{pixel}-{index}") if ours else None)
    try:
        ses_id = ses.send_raw(outgoing.sender.email, recipient, raw, settings().ses_configuration_set)
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
