"""Sending a discussion's messages: the request records what is to be sent; jobs send every copy once.

The journey of a send (docs/sending.md):
1. `queue_send` (POST /api/tenant/threads/{id}/send) checks, takes the messages waiting in the outbox (or the one
   named) and writes one `mail.fanout` job for them in one transaction that also takes them out of the outbox;
   it answers 202 with the recipients of each. Its DynamoDB calls do not depend on the number of recipients.
2. `run_fanout` (a job per send) reads the discussion, the suppressions and the history once for all the send's
   messages, writes the reply keys and the messages' ids for inbound matching, then per message a tracking record
   per copy (`queued`) in one transaction, and queues the copies of each message in groups (copies.groups: as
   many as one read serves and the SES rate lets one container send in seconds: `group_size`), each a
   `mail.copies` job carrying their plans (copies.Plan).
3. `run_copies` (a job per group), within the account's SES send rate: read all the group needs in one
   BatchGetItem; then for each copy: render → claim it at the CALLING step (chalicelib/claims.py) → SES
   SendRawEmail, once → record the Message-ID SES put on the mail, index it for inbound matching and count it, in
   one transaction: 1 + 2 DynamoDB calls a copy. SES throttled or unavailable: the group goes back on the queue with
   a delay. A worker that died before a copy's claim is replaced by the job's redelivery; one that died after it
   leaves that copy listed for an operator (`uncertain`): never sent twice, never silently dropped. `run_copy`
   sends one copy the same way (the sweep's, an admin's resend, jobs of older code).
4. `sweep` (every 15 minutes) queues again every copy left unfinished (a queue message lost, a job given up on).

States of a copy (its tracking record): queued → sending → sent | failed | uncertain. `failed` with a
`retry_shard` is retried by the queue and the sweep; without one (SES refused the message itself, email turned
off, recipient removed) it waits for a person to send that message again.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import claims, clock, db, jobs
from chalicelib.auth import Principal
from chalicelib.config import settings
from chalicelib.db import (
    VersionConflict,
    cancellation_codes,
    conflicted,
    refused_by_condition,
    retry_on_conflict,
    transaction,
)
from chalicelib.discussions import service as discussions
from chalicelib.discussions.models import Discussion, Message, ParticipantMap
from chalicelib.errors import Conflict, NotFound
from chalicelib.identities import reputation
from chalicelib.mail import anchors, communication, copies, ses
from chalicelib.mail.copies import external_recipients
from chalicelib.mail.models import CommunicationSettings, MessageIdIndex, ReplyKey
from chalicelib.tracking import counters
from chalicelib.tracking.ids import tracking_id
from chalicelib.tracking.models import EmailTracking, Suppression

logger = logging.getLogger(__name__)

MAX_MESSAGES_PER_SEND = 25          # one job + 25 outbox updates in the request's transaction; 25 × 39 copies a fan-out
SWEEP_AFTER_SECONDS = 15 * 60       # a queued copy untouched this long has lost its queue message
MAX_BACKOFF_SECONDS = jobs.MAX_DELAY_SECONDS
GROUP_SECONDS = 60                  # a group begins no copy after this (the jobs Lambda's timeout: 300 s)
GROUP_PACE_SECONDS = 5              # a group is what its container's share of the SES rate sends in this time


def _describe(record: EmailTracking) -> tuple[str, dict[str, Any]]:
    return record.tenant_id, {"discussion_id": record.discussion_id, "message_id": record.message_id,
                              "recipient": record.recipient_email}


# A copy's claim. Its lease outlasts the `jobs` Lambda (timeout 300 s) and ends before SQS shows the copy's
# message again (visibility 360 s), so the redelivery after a crash finds the lease over.
COPY = claims.Work(kind="copy", status=EmailTracking.state, claim=EmailTracking.claim, ready=("queued", "failed"),
                   lease_seconds=330, describe=_describe,
                   when_uncertain=lambda: [EmailTracking.retry_shard.remove()])  # out of the sweep: a person decides


def _shard(pixel: str) -> str:
    return f"failed#{int(pixel[:2], 16) % EmailTracking.RETRY_SHARDS}"


# ---------------------------------------------------------------- 1. the request


@dataclass
class Queued:
    queued: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    tracking_url: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"queued": self.queued, "skipped": self.skipped, "tracking_url": self.tracking_url}


def queue_send(principal: Principal, discussion_id: str, message_id: str | None = None) -> Queued:
    """Record what is to be sent and queue it: 3 DynamoDB reads (the settings, the discussion and the tenant's
    status, and a named message, in one BatchGetItem; the outbox; the recipients' suppressions, with a named
    message's copies), 1 transaction, and an SQS call per 10 messages, whatever the number of recipients."""
    tenant_id = principal.tenant_id
    key = discussions.discussion_key(tenant_id, discussion_id)
    config, discussion, status, *named = db.get_many(
        CommunicationSettings(tenant_id), discussions.key_of(tenant_id, discussion_id),
        reputation.status_key(tenant_id), *([Message(key, message_id)] if message_id else []))
    if discussion is None:
        raise NotFound("discussion not found")
    config = communication.as_read(tenant_id, config)
    if not config.email_integration_enabled:
        raise Conflict("email integration is disabled for this tenant; enable it in the communication settings",
                       field="email_integration_enabled")
    if discussion.status == "closed":
        raise Conflict("the discussion is closed; reopen it to send", field="status")
    reputation.refuse_if_paused(status)  # a tenant over SES's bounce/complaint levels is paused
    tracking = f"/api/tenant/threads/{discussion.discussion_id}/tracking"
    answer = Queued(tracking_url=tracking)
    recipients = [p.email for p in external_recipients(discussion)]
    message_ids = _messages_to_send(discussion, message_id, named[0] if named else None)
    if not recipients or not message_ids:
        return answer
    suppressed, busy = _skipped(discussion, message_id, recipients)
    # `busy` names recipients of a message sent again by name (one message then): the reasons hold for every message.
    reasons = {r: "suppressed" if r.lower() in suppressed else busy.get(r) for r in recipients}
    to = [r for r in recipients if not reasons[r]]
    answer.skipped.extend({"message_id": mid, "recipient": r, "reason": reasons[r]}
                          for mid in message_ids for r in recipients if reasons[r])
    records = []
    if to:
        # One fan-out for the whole send: it reads the discussion, the suppressions and the history once for all
        # its messages (issue 22: a backlog read the history once per message).
        records.append(jobs.new_job("mail.fanout", {"tenant_id": tenant_id, "discussion_id": discussion_id,
                                                    "message_ids": message_ids, "recipients": to,
                                                    "requested_by": principal.user_id, "again": bool(message_id)}))
        answer.queued.extend({"message_id": mid, "recipients": to, "tracking_url": f"{tracking}?message_id={mid}"}
                             for mid in message_ids)
    if records or not named or named[0].outbox_key:  # else: nothing to queue, and no outbox to leave
        _commit_queue(discussion, message_ids, records)
        jobs.dispatch_all(records)
    return answer


def _messages_to_send(discussion: Discussion, message_id: str | None, named: Message | None) -> list[str]:
    """The named message (as read with the discussion, checked), or the oldest messages waiting in the outbox (one
    Query)."""
    if message_id:
        if named is None:
            raise NotFound("message not found in this discussion", field="message_id")
        if named.is_internal:
            raise Conflict("internal notes are never emailed", field="message_id")
        return [named.message_id]
    key = discussions.discussion_key(discussion.tenant_id, discussion.discussion_id)
    return [m.message_id for m in Message.outbox.query(key, limit=MAX_MESSAGES_PER_SEND)]


def _skipped(discussion: Discussion, message_id: str | None, recipients: list[str]) -> tuple[set[str], dict[str, str]]:
    """The recipients suppressed, and for a message sent again by name those whose copy is already sent or on its
    way (recipient → reason): one BatchGetItem (at most 2 × 39 keys)."""
    tenant_id = discussion.tenant_id
    pixels = ({tracking_id(tenant_id, discussion.discussion_id, message_id, r): r for r in recipients}
              if message_id else {})
    found = db.get_many(*[Suppression(tenant_id, r.lower()) for r in recipients],
                        *[EmailTracking(pixel) for pixel in pixels])
    suppressed = {r.lower() for r, item in zip(recipients, found[:len(recipients)], strict=True)
                  if item is not None and item.suppressed_at}
    reasons = {"sent": "already sent", "queued": "in progress", "sending": "in progress", "uncertain": "uncertain"}
    busy = {pixels[record.tracking_pixel_id]: reasons[record.state] for record in found[len(recipients):]
            if record is not None and record.state in reasons}
    return suppressed, busy


def _commit_queue(discussion: Discussion, message_ids: list[str], records: list[Any]) -> None:
    """The jobs and the outbox's change in one transaction: a message leaves the outbox only with its job."""
    key = discussions.discussion_key(discussion.tenant_id, discussion.discussion_id)
    try:
        with transaction() as tx:
            for record in records:
                tx.save(record)
            for mid in message_ids:
                tx.update(Message(key, mid), actions=[Message.outbox_key.remove()],
                          condition=Message.message_id.exists())
    except TransactWriteError as error:
        if "ConditionalCheckFailed" in cancellation_codes(error):
            raise Conflict("a message changed while it was being queued; send again", field="message_id") from error
        raise


# ---------------------------------------------------------------- 2. one job per send: a record per copy


def run_fanout(payload: dict[str, Any]) -> None:
    """Job: write the tracking record of each copy of the send's messages and queue them in groups.

    DynamoDB calls, whatever the number of recipients (≤ 39) and messages (≤ 25): the discussion, the tenant's
    settings and the messages (one BatchGetItem); the recipients' suppression states with the copies an earlier run
    wrote (a BatchGetItem per 100 keys); the history of all the messages (one Query; two when the backlog is
    interleaved with many internal notes); the reply keys and the messages' Message-IDs (BatchWriteItem, 25 a call);
    then per message its copies with its `total` (one transaction). A payload of older code names one message."""
    tenant_id, discussion_id = payload["tenant_id"], payload["discussion_id"]
    key = discussions.discussion_key(tenant_id, discussion_id)
    message_ids = list(payload.get("message_ids") or [payload["message_id"]])
    discussion, config, *found_messages = db.get_many(Discussion(tenant_id, discussion_id),
                                                      CommunicationSettings(tenant_id),
                                                      *[Message(key, mid) for mid in message_ids])
    messages = [message for message in found_messages if message is not None]
    if discussion is None or len(messages) < len(message_ids):
        gone = [mid for mid, m in zip(message_ids, found_messages, strict=True) if m is None]
        logger.info("send of %s: %s dropped: the discussion or message is gone", discussion_id,
                    "all" if discussion is None else gone)
    if discussion is None or not messages:
        return None
    current = {p.email.lower(): p for p in external_recipients(discussion)}
    # Still participants and not suppressed since the request; and their copies, if an earlier run wrote them.
    wanted = list({r.lower(): current[r.lower()] for r in payload["recipients"] if r.lower() in current}.values())
    pixels = {(m.message_id, p.email): tracking_id(tenant_id, discussion_id, m.message_id, p.email)
              for m in messages for p in wanted}
    found = db.get_many(*[Suppression(tenant_id, p.email.lower()) for p in wanted],
                        *[EmailTracking(pixel) for pixel in pixels.values()])
    states = {p.email.lower(): item for p, item in zip(wanted, found[:len(wanted)], strict=True) if item is not None}
    existing = {item.tracking_pixel_id: item for item in found[len(wanted):] if item is not None}
    wanted = [p for p in wanted if not (p.email.lower() in states and states[p.email.lower()].suppressed_at)]
    soft_bouncing = {email for email, item in states.items() if item.soft_bounces_in_a_row}
    domain = communication.as_read(tenant_id, config).email_reply_domain or settings().default_reply_domain
    histories = copies.histories(tenant_id, discussion_id, [m.message_id for m in messages])
    staff = copies.staff_names(discussion, [*messages, *(m for earlier in histories.values() for m in earlier)])
    _anchors(discussion, [m.message_id for m in messages], wanted, domain)
    groups: list[list[copies.Plan]] = []
    most = group_size()
    for message in messages:  # oldest first: its copies are queued before those of the next message
        mine = {pixel: item for pixel, item in existing.items() if item.message_id == message.message_id}
        queued = _write_copies_again_on_conflict(discussion, message.message_id, wanted, bool(payload.get("again")),
                                                 soft_bouncing, mine)
        by_pixel = {pixels[(message.message_id, p.email)]: p.email for p in wanted}
        groups += copies.groups(copies.plans(discussion, message, histories[message.message_id], staff,
                                             [by_pixel[pixel] for pixel in queued],
                                             {recipient: pixel for pixel, recipient in by_pixel.items()}),
                                most)
    jobs.send_direct("mail.copies", [copies.group_payload(group) for group in groups])
    return None


def group_size() -> int:
    """The most copies a group holds: what its container's share of the account's SES rate (ses.take_a_send)
    sends in GROUP_PACE_SECONDS, at least 1 and at most copies.MAX_GROUP. A group's copies go one after the other
    at that share, where copies in jobs of their own go out in as many containers at once: at SES's default
    production rate of 14 a second (a share of 0.28) a group is one copy, so a message reaches its recipients as soon
    as before; from 250 a second, 25."""
    share = ses.max_send_rate() / jobs.MAX_CONCURRENCY
    return max(1, min(copies.MAX_GROUP, int(share * GROUP_PACE_SECONDS)))


def _anchors(discussion: Discussion, message_ids: list[str], people: list[ParticipantMap], domain: str) -> None:
    """What every copy of the messages shares, written once here rather than by each copy: the reply key of each
    recipient, and the thread's and each message's own Message-IDs in the index inbound mail is matched by. Plain
    idempotent writes, of both tables together (db.put_many): parallel copies would otherwise collide on these items
    in their transactions (DynamoDB cancels one of two transactions touching one item: TransactionConflict)."""
    tenant_id, discussion_id = discussion.tenant_id, discussion.discussion_id
    keys = [ReplyKey(anchors.reply_key(tenant_id, discussion_id, person.email), tenant_id=tenant_id,
                     discussion_id=discussion_id, recipient=person.email) for person in people]
    index = [MessageIdIndex(anchors.index_key(anchors.our_message_id(message_id, domain)), tenant_id=tenant_id,
                            discussion_id=discussion_id, message_id=message_id, origin="ours")
             for message_id in message_ids]
    index.append(MessageIdIndex(anchors.index_key(discussion.email_thread_id), tenant_id=tenant_id,
                                discussion_id=discussion_id, message_id=message_ids[-1], origin="thread"))
    db.put_many(*keys, *index)


def _write_copies_again_on_conflict(discussion: Discussion, message_id: str, people: list[ParticipantMap], again: bool,
                                    soft_bouncing: set[str], existing: dict[str, EmailTracking]) -> list[str]:
    """`_write_copies` with the copies as read first, then, after a concurrent fan-out of the message, as read again."""
    first = [existing]
    return retry_on_conflict(lambda: _write_copies(discussion, message_id, people, again, soft_bouncing,
                                                   first.pop() if first else None))


def _write_copies(discussion: Discussion, message_id: str, people: list[ParticipantMap], again: bool,
                  soft_bouncing: set[str], existing: dict[str, EmailTracking] | None) -> list[str]:
    """New copies as `queued`; copies waiting (or, when sent again by name, failed) queued again; the message's
    `total` moved by the new ones, in the same transaction. Returns the copies to queue jobs for. `existing`: the
    copies as the caller just read them (None: read them now). A concurrent fan-out of the same message makes it read
    again (VersionConflict). A copy to an address counting soft bounces is marked, so that its delivery alone ends
    the run (tracking/events.py)."""
    tenant_id, discussion_id = discussion.tenant_id, discussion.discussion_id
    key = discussions.discussion_key(tenant_id, discussion_id)
    by_pixel = {tracking_id(tenant_id, discussion_id, message_id, p.email): p for p in people}
    if existing is None:
        existing = {r.tracking_pixel_id: r for r in EmailTracking.batch_get(list(by_pixel))}
    now = clock.now_iso()
    queue: list[str] = []
    new = [pixel for pixel in by_pixel if pixel not in existing]
    try:
        with transaction() as tx:
            for pixel, person in by_pixel.items():
                record = existing.get(pixel)
                if record is None:
                    tx.save(EmailTracking(
                        pixel, tenant_id=tenant_id, discussion_id=discussion_id, message_id=message_id,
                        recipient_email=person.email, recipient_type=person.recipient_type, discussion_key=key,
                        message_recipient=f"{message_id}#{person.email}", state="queued", attempts=0,
                        retry_shard=_shard(pixel), queued_at=now,
                        soft_bounce_run=person.email.lower() in soft_bouncing or None),
                        condition=EmailTracking.tracking_pixel_id.does_not_exist())
                    queue.append(pixel)
                elif record.state == "failed" and (again or record.retry_shard):
                    tx.update(record, actions=[EmailTracking.state.set("queued"), EmailTracking.queued_at.set(now),
                                               EmailTracking.retry_shard.set(_shard(pixel))],
                              condition=EmailTracking.state == "failed")
                    queue.append(pixel)
                elif record.state == "queued":
                    queue.append(pixel)  # its job may have been lost with an earlier run of this fan-out
            total = counters.move(key, message_id, None, total=len(new))
            if total is not None:
                tx.update(total[0], actions=total[1])
    except TransactWriteError as error:
        if "ConditionalCheckFailed" in cancellation_codes(error) or conflicted(error):
            raise VersionConflict(message_id) from error
        raise
    return queue


# ---------------------------------------------------------------- 3. one job per copy


def run_copy(payload: dict[str, Any]) -> None:
    """Job: send one copy, once. A payload from older fan-outs carries the copy's plan; one from the sweep, an
    admin's resend or older code names the copy only."""
    plan = copies.Plan.from_payload(payload) if "earlier" in payload else None
    pixel = str(payload["tracking_id"])
    logger.info("copy %s: %s", pixel, send_copy(pixel, plan))


def run_copies(payload: dict[str, Any]) -> None:
    """Job: send a group of copies of one message (copies.groups), each once, one after the other."""
    outcomes = send_copies(copies.plans_of_group(payload))
    logger.info("copies of message %s: %s", payload["message_id"], outcomes)


def send_copy(pixel: str, plan: copies.Plan | None = None) -> str:
    """Send the copy whose tracking record is `pixel`; returns what became of it (sent, failed, done, uncertain,
    gone). Raises jobs.RetryLater when SES is to be asked again later, or the copy is held by another run.

    Read everything in one BatchGetItem, render, then claim the copy straight at the CALLING step (the claim is the
    step: a worker lost before it is replaced by the redelivery, one lost after it leaves the copy uncertain), call
    SES, end and count in one transaction: 3 DynamoDB calls (docs/sending.md)."""
    ses.take_a_send()
    plan = plan or _plan_from_record(pixel)
    if plan is None:
        return claims.GONE
    [read] = _read([plan])
    return _send_as_read(plan, read)


def send_copies(plans: list[copies.Plan]) -> dict[str, str]:
    """Send a group of copies of one message, each as `send_copy` would, after one read for them all: 1 + 2 DynamoDB
    calls a copy (docs/sending.md). Returns what became of each (tracking id → outcome).

    A copy held by another run does not hold up the others; the share of the send rate used up, or SES throttling
    us, stops the group. Either way the whole job comes back later (jobs.RetryLater) and reads again: the copies
    sent meanwhile answer `done`. A copy whose end could not be written (it stays claimed, to be listed uncertain)
    does not stop the others either; its error is raised after them, so the job is redelivered. No copy is begun
    after GROUP_SECONDS (AWS answering slowly): the rest come back in a run of their own, far from the Lambda's
    timeout."""
    ses.take_a_send()  # the first send's share, before anything is read
    first = True

    def pace() -> None:  # each later send's share, just before its claim
        nonlocal first
        if not first:
            ses.take_a_send()
        first = False

    outcomes: dict[str, str] = {}
    later: jobs.RetryLater | None = None
    failure: Exception | None = None
    started, worked = time.monotonic(), False
    for plan, read in zip(plans, _read(plans), strict=True):
        if worked and time.monotonic() - started > GROUP_SECONDS:
            later = jobs.RetryLater(1, "the group's time is used up")  # slow AWS: the rest in a run of their own
            break
        try:
            outcomes[plan.pixel] = _send_as_read(plan, read, pace)
            worked = worked or outcomes[plan.pixel] in ("sent", "failed")  # copies done before cost no time
        except _Busy as busy:
            later = later if later is not None and later.seconds >= busy.seconds else busy
        except jobs.RetryLater as wait:
            later = wait
            break  # the rate or SES: the copies after this one would wait too
        except Exception as error:  # raised after the other copies, below
            logger.exception("copy %s: its send did not end", plan.pixel)
            failure = failure or error
    if failure is not None:
        raise failure
    if later is not None:
        raise later
    return outcomes


def _send_as_read(plan: copies.Plan, read: _Read, pace: Callable[[], None] | None = None) -> str:
    """One copy, from what was read for it: refused as the record stands, failed when it can no longer be sent, or
    rendered, claimed at CALLING (`pace` first: the send rate's share), sent once
    and ended."""
    pixel = plan.pixel
    refused = claims.look(read.record, COPY)
    if refused is not None:
        return _not_claimed(refused, pixel)
    assert read.record is not None  # look answered GONE otherwise
    if _failed_for_good(read.record):
        return claims.DONE  # a person decides: sending the message again by name queues it anew
    if not _plan_fits(plan, read.record):
        logger.error("copy %s: its job's plan names another copy; dropped", pixel)
        return claims.GONE
    target = _target(plan, read)
    if isinstance(target, str):
        return _fail_unsent(pixel, target)
    discussion, participant, outgoing, config = target
    domain = config.email_reply_domain or settings().default_reply_domain
    rendered = copies.render(discussion, outgoing, participant, domain, config.email_signature, read.previous)
    # Claimed only as it was read: still waiting to be sent (not ended failed for good) and claimed by no one since
    # (every claim adds an attempt). A duplicate run that ended it meanwhile — the recipient removed, SES refusing
    # it — makes this one read again instead of sending what it prepared.
    attempts = read.record.attempts
    unchanged = ((EmailTracking.state != "failed") | EmailTracking.retry_shard.exists()) & (
        EmailTracking.attempts.does_not_exist() if attempts is None else EmailTracking.attempts == int(attempts))
    if pace is not None:
        pace()
    claim = claims.take(EmailTracking(pixel), COPY, actions=[EmailTracking.attempts.add(1)], step=claims.CALLING,
                        unchanged=unchanged)
    if not claim.held or claim.item is None:
        return _not_claimed(claim, pixel)
    record = claim.item
    try:
        ses_id = ses.send_raw(outgoing.sender.email, record.recipient_email, rendered.raw,
                              settings().ses_configuration_set)
    except ses.SendFailed as error:
        return _refused(claim, record, error)
    _record_sent(claim, record, ses_id, rendered, plan, read.message)
    return "sent"


class _Busy(jobs.RetryLater):
    """The copy is held by another run: look again when its lease is over."""


def _not_claimed(claim: claims.Claim[EmailTracking], pixel: str) -> str:
    if claim.state == claims.BUSY:
        # Another run holds it (or held it and died): look again when its lease is over. Cheap, and safe even when
        # this message is a duplicate of the holder's own.
        raise _Busy(claim.retry_in, f"copy {pixel} is held by another run")
    return claim.state  # done, uncertain (now listed), or gone


def _failed_for_good(record: EmailTracking) -> bool:
    """Ended `failed` for a reason time does not cure (no retry shard: the recipient removed, SES refusing the
    message, email turned off…), unlike a copy failed for now (throttled), which waits for its retry."""
    return record.state == "failed" and not record.retry_shard


def _plan_fits(plan: copies.Plan, record: EmailTracking) -> bool:
    """The plan is about this very copy: its record's tenant, discussion, message and recipient (a job is never
    trusted to name what goes to whom)."""
    return (record.tenant_id, record.discussion_id, record.message_id, record.recipient_email.lower()) == (
        plan.tenant_id, plan.discussion_id, plan.message_id, plan.recipient.lower())


def _plan_from_record(pixel: str) -> copies.Plan | None:
    """The plan of a copy whose job names it only: its record (GetItem) and the history (Query, kept a minute per
    container). Its bodies are all read, so nothing is left to quote; the message's first SES id is written after
    the end, as it was before plans (such copies may run in parallel: the sweep queues many)."""
    try:
        record = EmailTracking.get(pixel, consistent_read=True)
    except EmailTracking.DoesNotExist:
        return None
    earlier = copies.history(record.tenant_id, record.discussion_id, record.message_id)
    return copies.Plan(pixel, record.tenant_id, record.discussion_id, record.message_id, record.recipient_email,
                       earlier, full={m.message_id for m in earlier})


@dataclass
class _Read:
    """What was read for a copy (with the other copies of its group, in one BatchGetItem)."""
    record: EmailTracking | None
    status: Any
    config: CommunicationSettings
    discussion: Discussion | None
    message: Message | None
    previous: str | None                    # the Message-ID of the latest mail of the conversation in their mailbox
    quoted: dict[str, Message]              # the earlier messages the plan quotes, in full


def _read(plans: list[copies.Plan]) -> list[_Read]:
    """For copies of one message: the tenant's status and settings, the discussion and the message once; each copy's
    record and its recipient's latest earlier copies (copies.first_look: where the Message-ID it answers is, nearly
    always); the messages they quote — one BatchGetItem (copies.groups keeps a group within its 100 keys). One more,
    for the recipients none of whose latest copies holds a Message-ID (a late joiner, a backlog still on its way):
    their older copies, as far as copies.unread_previous says."""
    first = plans[0]
    tenant_id, key = first.tenant_id, first.discussion_key
    keys = [copies.previous_keys(plan.recipient, plan.earlier, tenant_id, plan.discussion_id) for plan in plans]
    looked = [pixel for plan_keys in keys for pixel in copies.first_look(plan_keys)]
    quoted = list(dict.fromkeys(mid for plan in plans for mid in plan.quote if mid not in plan.full))
    status, config, discussion, message, *rest = db.get_many(
        reputation.status_key(tenant_id), CommunicationSettings(tenant_id), Discussion(tenant_id, first.discussion_id),
        Message(key, first.message_id), *[EmailTracking(plan.pixel) for plan in plans],
        *[EmailTracking(pixel) for pixel in looked], *[Message(key, mid) for mid in quoted])
    records, rest = rest[:len(plans)], rest[len(plans):]
    found = {item.tracking_pixel_id: item for item in rest[:len(looked)] if item is not None}
    messages = {item.message_id: item for item in rest[len(looked):] if item is not None}
    more = [pixel for plan, plan_keys in zip(plans, keys, strict=True)
            for pixel in copies.unread_previous(plan.recipient, plan.earlier, plan_keys, found, set(looked))]
    if more:
        found |= {item.tracking_pixel_id: item for item in db.get_many(*[EmailTracking(pixel) for pixel in more])
                  if item is not None}
    config = communication.as_read(tenant_id, config)
    return [_Read(record, status, config, discussion, message,
                  copies.previous_id(plan.recipient, plan.earlier, plan_keys, found),
                  {mid: messages[mid] for mid in plan.quote if mid in messages})
            for plan, record, plan_keys in zip(plans, records, keys, strict=True)]


def _target(plan: copies.Plan, read: _Read) -> tuple[Discussion, ParticipantMap, copies.Outgoing, Any] | str:
    """What the copy needs, as read; or why it can no longer be sent (the tenant paused after the send was queued,
    email turned off, the discussion or message gone, the recipient no longer a participant)."""
    config = read.config
    if not config.email_integration_enabled or not config.from_address:
        return "email integration is disabled for this tenant"
    paused = reputation.reason_of(read.status)
    if paused:
        return f"sending is paused for this tenant: {paused}"
    discussion, message = read.discussion, read.message
    if discussion is None or message is None:
        return "the discussion or message no longer exists"
    participant = next((p for p in external_recipients(discussion)
                        if p.email.lower() == plan.recipient.lower()), None)
    if participant is None:
        return "no longer a participant of the discussion"
    return discussion, participant, copies.prepare(discussion, message, config, _with_bodies(plan, read, discussion),
                                                   plan.staff), config


def _with_bodies(plan: copies.Plan, read: _Read, discussion: Discussion) -> list[Message]:
    """The earlier messages, in full where the copy quotes them. The fan-out chose the quoted ones by the roles it
    read; a role changed since (a bcc made a participant…) needs other bodies: one more read, then."""
    full = {m.message_id: m for m in plan.earlier if m.message_id in plan.full} | read.quoted
    roles = {p.email.lower(): p.role for p in external_recipients(discussion)}
    missing = [m.message_id for m in copies.quoted(plan.earlier, plan.recipient, roles) if m.message_id not in full]
    if missing:
        full |= {item.message_id: item for item in db.get_many(*[Message(plan.discussion_key, mid) for mid in missing])
                 if item is not None}
    return [full.get(m.message_id, m) for m in plan.earlier]


def _fail_unsent(pixel: str, reason: str) -> str:
    """A copy that can no longer be sent: failed with the reason, counted once (claimed, then ended and counted in
    one transaction: two writes)."""
    claim = claims.take(EmailTracking(pixel), COPY, actions=[EmailTracking.attempts.add(1)])
    if not claim.held or claim.item is None:
        return _not_claimed(claim, pixel)
    claim.finish("failed", [EmailTracking.failure_reason.set(reason), EmailTracking.retry_shard.remove()],
                 also=_failure_counted(claim.item))
    return "failed"


def _failure_counted(record: EmailTracking) -> Callable[[Any], None] | None:
    """`failed` counts copies that failed and were not sent since: once, at their first failure (the record as read
    before its end), in the copy's shard of the message's counters, in the transaction that ends it failed — so a
    Lambda lost after the end cannot leave it uncounted. None: counted already."""
    counted = None if record.failure_reason else counters.move(record.discussion_key, record.message_id,
                                                               record.tracking_pixel_id, failed=1)
    if counted is None:
        return None
    item, actions = counted
    return lambda tx: tx.update(item, actions=actions)


def _refused(claim: claims.Claim[EmailTracking], record: EmailTracking, error: ses.SendFailed) -> str:
    """SES answered without sending. For now (throttled, unavailable): back on the queue after a backoff. For good
    (the message or sender refused): failed, until a person sends the message again."""
    reason = str(error)[:1000]
    counted = _failure_counted(record)  # from the record as read: ending the claim refreshes it
    if not error.retryable:
        claim.finish("failed", [EmailTracking.failure_reason.set(reason), EmailTracking.retry_shard.remove()],
                     also=counted)
        return "failed"
    claim.finish("failed", [EmailTracking.failure_reason.set(reason), EmailTracking.queued_at.set(clock.now_iso())],
                 also=counted)
    # Full jitter over an exponential backoff: copies throttled together do not all come back together.
    raise jobs.RetryLater(random.uniform(1, min(MAX_BACKOFF_SECONDS, 2 ** int(record.attempts))), reason)


def _record_sent(claim: claims.Claim[EmailTracking], record: EmailTracking, ses_id: str,
                 rendered: copies.Rendered, plan: copies.Plan, message: Message | None) -> None:
    """The copy is sent: the Message-ID SES put on it, on the record and in the inbound index, in one transaction
    with the claim's end. The message shows the SES id of one copy: the copy its fan-out chose writes it in the
    same transaction (no other copy of the message has it in a transaction, so parallel copies never collide); a
    copy planned from its record writes it after, while the message read has none."""
    header = anchors.ses_message_id_header(ses_id)
    index = MessageIdIndex(anchors.index_key(header), tenant_id=record.tenant_id, discussion_id=record.discussion_id,
                           message_id=record.message_id, recipient=record.recipient_email, origin="ses")
    actions: list[Action] = [
        EmailTracking.sent_at.set(clock.now_iso()), EmailTracking.ses_message_id.set(ses_id),
        EmailTracking.email_message_id.set(header), EmailTracking.links.set(rendered.links),
        EmailTracking.failure_reason.remove(), EmailTracking.retry_shard.remove()]
    had_failed = bool(record.failure_reason)  # read before: ending the claim refreshes the record
    first_id = message is not None and not message.email_message_id
    on_message = Message(plan.discussion_key, record.message_id)
    # Counted in the same transaction, in the copy's shard of the message's counters (a copy that had failed before
    # is failed no more): parallel copies of one message meet in a shard rarely, and a conflict is written again.
    counted = counters.move(record.discussion_key, record.message_id, record.tracking_pixel_id,
                            sent=1, failed=-1 if had_failed else 0)

    def end(with_message: bool) -> None:
        def also(tx: Any) -> None:
            tx.save(index)
            if counted is not None:
                tx.update(counted[0], actions=counted[1])
            if with_message:
                tx.update(on_message, actions=[Message.email_message_id.set(Message.email_message_id | header)],
                          condition=Message.message_id.exists())
        claim.finish("sent", actions, also=also)

    try:
        try:
            end(with_message=plan.marks_message and first_id)
        except TransactWriteError:
            if not (plan.marks_message and first_id):
                raise
            # The message is gone (its condition failed; a concurrent writer's conflict is retried by the claim):
            # the copy's own end again, without it. One more call, in that race only.
            end(with_message=False)
    except claims.LostClaim:
        # Only after this Lambda outlived its lease: the copy is listed as uncertain; say what SES answered.
        logger.error("copy %s was sent (SES id %s) after its claim was taken over", record.tracking_pixel_id, ses_id)
        raise
    except Exception:
        # The end failed for good (throttled past the SDK's attempts, conflicts past ours): the copy will be listed
        # as uncertain; the log keeps what SES answered, so an admin can see it was sent before choosing `resend`.
        logger.exception("copy %s was sent (SES id %s) but its end was not recorded", record.tracking_pixel_id, ses_id)
        raise
    if plan.from_fanout or not first_id:
        return
    try:
        on_message.update(actions=[Message.email_message_id.set(header)],
                          condition=Message.message_id.exists() & Message.email_message_id.does_not_exist())
    except UpdateError as error:  # another copy was first (or a transaction holds the item): nothing is lost
        if not refused_by_condition(error):
            logger.info("message %s keeps no first SES id: %s", record.message_id, error)


# ---------------------------------------------------------------- 4. the sweep, and the operator's resend


def sweep(limit_per_shard: int = 100) -> dict[str, int]:
    """Queue again every copy left unfinished: queued or failed-for-now and untouched for SWEEP_AFTER_SECONDS, or
    held by a lease that ran out. The copy job decides what to do with each (send, take over, or list)."""
    stale = clock.iso(clock.now() - timedelta(seconds=SWEEP_AFTER_SECONDS))
    now = int(clock.now().timestamp())
    due: list[str] = []
    for shard in range(EmailTracking.RETRY_SHARDS):
        for record in EmailTracking.failed_copies.query(f"failed#{shard}", limit=limit_per_shard):
            waiting = record.state in ("queued", "failed") and (record.queued_at or "") <= stale
            abandoned = record.state == "sending" and (record.claim is None or int(record.claim.until) < now)
            if waiting or abandoned:
                due.append(record.tracking_pixel_id)
    jobs.send_direct("mail.copy", [{"tracking_id": pixel} for pixel in due])
    return {"requeued": len(due)}


def resend_uncertain(item_key: list[Any]) -> str:
    """An admin says this uncertain copy did not arrive: queue it again (claims.resolve)."""
    pixel = str(item_key[0])
    actions: list[Action] = [EmailTracking.queued_at.set(clock.now_iso()),
                             EmailTracking.retry_shard.set(_shard(pixel)), EmailTracking.failure_reason.remove()]
    if not claims.reopen(COPY, EmailTracking(pixel), "queued", actions):
        return "no longer uncertain"
    jobs.send_direct("mail.copy", [{"tracking_id": pixel}])
    return "queued again"
