"""Background jobs: a transactional outbox in DynamoDB, delivered through SQS, swept by a schedule.

A request that must start work elsewhere (notify a group's members, purge a deleted thread's replies)
writes a job record in the same DynamoDB transaction as its change, then sends it to the jobs queue.
If that send fails or the Lambda dies first, the sweeper finds the record and sends it again, so no
work is lost; handlers are idempotent, so work done twice changes nothing. A long job does one page
per run and sends its continuation, keeping each run far inside Lambda's time limit. A job that must
wait (SES throttled us, the account's send rate is used up) raises `RetryLater`: its message goes back
on the queue with a delay, instead of the Lambda sleeping or failing.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import aws, clock, ids
from chalicelib.config import stage_resource
from chalicelib.jobs.models import JobRecord

logger = logging.getLogger(__name__)

QUEUE_NAME = os.environ.get("JOBS_QUEUE") or stage_resource("jobs")
SHARDS = 8
STALE_AFTER = timedelta(minutes=5)
# At most this many `jobs` Lambdas run at once (the SQS event source's MaximumConcurrency, app.py); the SES send
# rate is shared among them (mail/ses.py).
MAX_CONCURRENCY = 50
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds


class RetryLater(Exception):
    """Raised by a job that cannot go on now: the runner puts its message back on the queue, delayed."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {seconds:.1f} s")
        self.seconds = min(max(1, math.ceil(seconds)), MAX_DELAY_SECONDS)

Handler = Callable[[dict[str, Any]], "dict[str, Any] | None"]
_HANDLERS: dict[str, str] = {
    # kind → "module:function"; imported on first use so a cold start loads only what its jobs need.
    "community.notify": "chalicelib.community.fanout:run",
    "community.purge": "chalicelib.community.cleanup:run",
    "discussion.notify": "chalicelib.discussions.notify:run",
    "digest.shard": "chalicelib.notifications.digest:run_shard",
    "digest.user": "chalicelib.notifications.digest:run_user",
    "mail.fanout": "chalicelib.mail.send:run_fanout",
    "mail.copy": "chalicelib.mail.send:run_copy",
    "mail.copies": "chalicelib.mail.send:run_copies",
}


def new_job(kind: str, payload: dict[str, Any]) -> JobRecord:
    """A job record to save inside the caller's transaction; `dispatch` it once the transaction committed."""
    if kind not in _HANDLERS:
        raise ValueError(f"unknown job kind {kind}")
    job_id = ids.new_sortable_id()
    now = clock.now_iso()
    return JobRecord(f"jobs#{int(job_id[-2:], 16) % SHARDS}", job_id, kind=kind,
                     payload=json.dumps(payload, separators=(",", ":")), created_at=now, updated_at=now)


def _sqs() -> Any:
    return aws.client("sqs")


@functools.lru_cache(maxsize=1)
def _queue_url() -> str:
    return _sqs().get_queue_url(QueueName=QUEUE_NAME)["QueueUrl"]


def reset_clients() -> None:
    _queue_url.cache_clear()


def _message(record: JobRecord, payload: dict[str, Any] | None = None) -> str:
    return json.dumps({"shard": record.shard, "job_id": record.job_id, "kind": record.kind,
                       "payload": payload if payload is not None else json.loads(record.payload)})


def dispatch(record: JobRecord) -> bool:
    """Send a committed job to the queue; False (and the sweeper's turn) if SQS did not take it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _sqs().send_message(QueueUrl=_queue_url(), MessageBody=_message(record))
        return True
    except (BotoCoreError, ClientError):
        logger.warning("job %s not queued; the sweeper will send it", record.job_id, exc_info=True)
        return False


def dispatch_all(records: list[JobRecord]) -> bool:
    """`dispatch` for several committed jobs, ten to an SQS call; False if any is left to the sweeper."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _send_batches([_message(record) for record in records])
        return True
    except (BotoCoreError, ClientError, RuntimeError):
        logger.warning("%d jobs not all queued; the sweeper will send them", len(records), exc_info=True)
        return False


def send_direct(kind: str, payloads: list[dict[str, Any]]) -> None:
    """Queue jobs that need no outbox record: work that the next schedule finds again if this send is lost."""
    _send_batches([json.dumps({"kind": kind, "payload": payload}) for payload in payloads])


# SendMessageBatch takes at most 10 messages whose bodies add up to at most 256 KiB (262,144 bytes), the limit of one
# message too (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html).
# moto allows 1 MiB, so the rule is ours to keep: tests/test_jobs.py checks it against AWS's figures.
BATCH_ENTRIES = 10
BATCH_BYTES = 262_144


def batches(bodies: list[str]) -> list[list[str]]:
    """The bodies in order, cut into SendMessageBatch calls within both of AWS's limits; a body over the byte limit
    alone is a ValueError (SQS would refuse it: the caller's bug, never split or truncated here)."""
    cut: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if length > BATCH_BYTES:
            raise ValueError(f"a job of {length} bytes is over SQS's {BATCH_BYTES}")
        if not cut or len(cut[-1]) == BATCH_ENTRIES or size + length > BATCH_BYTES:
            cut.append([])
            size = 0
        cut[-1].append(body)
        size += length
    return cut


def _send_batches(bodies: list[str]) -> None:
    for batch in batches(bodies):
        entries = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(batch)]
        failed = _sqs().send_message_batch(QueueUrl=_queue_url(), Entries=entries).get("Failed", [])
        if failed:
            raise RuntimeError(f"SQS refused {len(failed)} jobs: {failed[0].get('Message')}")


def _later(body: str, record: JobRecord | None, wait: RetryLater) -> str:
    """Put the message back on the queue, delayed; an outbox job's record is touched so the sweeper leaves it be."""
    _sqs().send_message(QueueUrl=_queue_url(), MessageBody=body, DelaySeconds=wait.seconds)
    if record is not None:
        try:
            record.update(actions=[JobRecord.updated_at.set(clock.now_iso())], condition=JobRecord.job_id.exists())
        except UpdateError:
            pass  # finished meanwhile
    logger.info("job deferred %d s: %s", wait.seconds, wait)
    return "deferred"


def _handler(kind: str) -> Handler:
    import importlib

    module, _, function = _HANDLERS[kind].partition(":")
    return getattr(importlib.import_module(module), function)


def run_message(body: str) -> str:
    """Run one queued job (the SQS handler calls this per message). Malformed messages are dropped."""
    try:
        message = json.loads(body)
        kind, payload = message["kind"], message["payload"]
        record = JobRecord(message["shard"], message["job_id"], kind=kind) if "job_id" in message else None
    except (ValueError, KeyError, TypeError):
        logger.error("dropping a malformed job message: %.200s", body)
        return "malformed"
    if kind not in _HANDLERS or not isinstance(payload, dict):
        logger.error("dropping a job of unknown kind %r: %.300s", kind, body)
        return "unknown"
    try:
        continuation = _handler(kind)(payload)
    except RetryLater as wait:
        return _later(body, record, wait)
    if record is None:  # a direct job: its continuation is simply queued
        if continuation is not None:
            _sqs().send_message(QueueUrl=_queue_url(), MessageBody=json.dumps({"kind": kind, "payload": continuation}))
        return "done" if continuation is None else "continued"
    if continuation is None:
        record.delete()
        return "done"
    # Progress is saved before the next page is queued: if the send fails the message is redelivered
    # and the page is redone (idempotently); if the Lambda dies, the sweeper resumes from the saved page.
    saved = json.dumps(continuation, separators=(",", ":"))
    try:
        record.update(actions=[JobRecord.payload.set(saved), JobRecord.updated_at.set(clock.now_iso()),
                               JobRecord.runs.add(1)], condition=JobRecord.job_id.exists())
    except UpdateError:
        return "finished elsewhere"  # a redelivered copy already completed this job
    _sqs().send_message(QueueUrl=_queue_url(), MessageBody=_message(record, continuation))
    return "continued"


def sweep(limit_per_shard: int = 100) -> int:
    """Send again the jobs whose record has not moved for STALE_AFTER: lost sends and crashed runs."""
    cutoff = clock.iso(clock.now() - STALE_AFTER)
    resent = 0
    for shard in range(SHARDS):
        for record in JobRecord.query(f"jobs#{shard}", limit=limit_per_shard):
            if record.updated_at <= cutoff and dispatch(record):
                resent += 1
                try:
                    record.update(actions=[JobRecord.updated_at.set(clock.now_iso())],
                                  condition=JobRecord.job_id.exists())
                except UpdateError:
                    pass  # finished meanwhile
    return resent
