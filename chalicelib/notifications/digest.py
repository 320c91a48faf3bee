"""The digest: once per period, one email per user grouping what waited for it, by discussion or thread.

The hourly schedule (`digest_tick`) queues one job per shard of the sparse `digest_due` index; a shard job
reads the users due (100 per run) and queues one job per user; SQS runs those in parallel Lambdas, so
100,000 users are served well inside Lambda's 15 minutes (bench/digest.py measures one user's cost).

A user's digest is claimed with a conditional write on (user, period) — daily:2026-11-23, weekly:2026-W48,
monthly:2026-11, in their time zone — before SES is called: a rerun, a duplicate queue message or a second
tick never sends a period's digest twice. The claim lists the notifications it carries and is marked `sent`
as soon as SES took the email; only then do they leave the pending index. A run that dies after that mark is
finished by its retry (they are marked sent, nothing is mailed again); one that dies between SES and the mark
leaves them pending for the next period's digest. Never lost, never twice in a period. Notifications the user
already read in the app are left out, and a digest with nothing left in it is not sent.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import PutError

from chalicelib import clock, jobs
from chalicelib.notifications import email, rendering, service
from chalicelib.notifications.models import DigestRun, Notification
from chalicelib.notifications.schedule import effective_frequency, next_due, period_key

if TYPE_CHECKING:
    from chalicelib.users.models import UserProfile

logger = logging.getLogger(__name__)

USERS_PER_SHARD_RUN = 100
NOTIFICATIONS_PER_DIGEST = 100
RUN_RETENTION_SECONDS = 400 * 24 * 3600


def tick(due_before: str | None = None) -> int:
    """The hourly entry point: one job per shard of the due index. Returns the number of jobs queued."""
    from chalicelib.users.models import DIGEST_SHARDS

    due_before = due_before or clock.now_iso()
    jobs.send_direct("digest.shard", [{"shard": str(shard), "due_before": due_before}
                                      for shard in range(DIGEST_SHARDS)])
    return DIGEST_SHARDS


def run_shard(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Job: queue a digest job for each user of one shard who is due; continue with the next page."""
    from chalicelib.users.service import due_for_digest

    due, cursor = due_for_digest(str(payload["shard"]), str(payload["due_before"]), USERS_PER_SHARD_RUN,
                                 payload.get("cursor"))
    jobs.send_direct("digest.user", [{"tenant_id": tenant_id, "user_id": user_id} for tenant_id, user_id in due])
    return {**payload, "cursor": cursor} if cursor else None


def run_inline(due_before: str | None = None) -> dict[str, str]:
    """Every due digest, one after another in this process (`make digest`; operators): the same steps as the jobs."""
    from chalicelib.users.models import DIGEST_SHARDS
    from chalicelib.users.service import due_for_digest

    due_before = due_before or clock.now_iso()
    outcomes: dict[str, str] = {}
    for shard in range(DIGEST_SHARDS):
        cursor = None
        while True:
            due, cursor = due_for_digest(str(shard), due_before, USERS_PER_SHARD_RUN, cursor)
            for tenant_id, user_id in due:
                outcomes[f"{tenant_id}/{user_id}"] = send_digest(tenant_id, user_id)
            if not cursor:
                break
    return outcomes


def run_user(payload: dict[str, Any]) -> None:
    """Job: one user's digest."""
    outcome = send_digest(str(payload["tenant_id"]), str(payload["user_id"]))
    logger.info("digest for %s/%s: %s", payload["tenant_id"], payload["user_id"], outcome)


def _following(frequency: str, profile: UserProfile, after: datetime) -> str:
    """The user's next digest time after `after` (a frequency other than `never`)."""
    hour = int(profile.digest_hour) if profile.digest_hour is not None else None
    moment = next_due(frequency, profile.timezone, hour, after)
    if moment is None:
        raise ValueError(f"no next digest time for frequency {frequency}")
    return clock.iso(moment)


def send_digest(tenant_id: str, user_id: str) -> str:
    """One user's digest if it is due: claimed for its period, sent once, then its notifications leave the index."""
    from chalicelib.mail import communication, ses
    from chalicelib.users import service as users

    now = clock.now()
    profile = users.profile_of(tenant_id, user_id)
    if profile is None or not profile.digest_due_at or profile.digest_due_at > clock.iso(now):
        return "not due"
    due_at = profile.digest_due_at
    version = int(profile.digest_pending_version) if profile.digest_pending_version is not None else None
    config = communication.get(tenant_id)
    frequency = effective_frequency(profile.digest_frequency, config.default_digest_frequency)
    pending = service.pending_digest(tenant_id, user_id, NOTIFICATIONS_PER_DIGEST + 1)
    more = len(pending) > NOTIFICATIONS_PER_DIGEST
    if frequency == "never":  # unsubscribed since: what waited is never emailed (it stays listed)
        service.mark_digested(pending, "never", None)
        if not more:
            users.reschedule_digest(tenant_id, user_id, due_at, None, version)
        return "never"
    batch = pending[:NOTIFICATIONS_PER_DIGEST]
    # What the user already read in the app is not news: it leaves the index unmailed, and a digest of
    # nothing but read notifications is an empty digest, which is never sent (NodeBB skips them too).
    seen = [item for item in batch if item.read_at]
    unread = [item for item in batch if not item.read_at]
    if seen:
        service.mark_digested(seen, "read", None)
    following = _following(frequency, profile, max(now, datetime.fromisoformat(due_at.replace("Z", "+00:00"))))
    if not unread:
        if more or not users.reschedule_digest(tenant_id, user_id, due_at, None, version):
            users.reschedule_digest(tenant_id, user_id, due_at, following)
        return "empty"
    # The period is the one the run happens in: a run delayed past its period (a crash, an outage) sends that
    # later period's digest instead of being refused as a repeat of the missed one.
    period = period_key(frequency, now, profile.timezone)
    recipient = email.recipient_for(tenant_id, profile, config)
    blocked = email.blocked(tenant_id, recipient)
    # Rendered before the claim: nothing between the claim and SES can fail but SES itself.
    rendered = None if blocked else rendering.render(
        tenant_id, "digest", _context(frequency, period, unread, recipient, tenant_id, user_id))
    key = service.user_key(tenant_id, user_id)
    run = DigestRun(key, period, status="sending", claimed_at=clock.iso(now),
                    notification_ids=[item.notification_id for item in unread],
                    expires_at=int(now.timestamp()) + RUN_RETENTION_SECONDS)
    try:
        run.save(condition=DigestRun.period_key.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        _finish_claimed(key, period, pending)
        users.reschedule_digest(tenant_id, user_id, due_at, following)
        return "already sent"
    if blocked is not None or rendered is None:
        reason = blocked or "not rendered"
        service.mark_digested(unread, reason, None)
        run.update(actions=[DigestRun.status.set(reason)])
    else:
        try:
            ses_id = email.send_email(tenant_id, user_id, recipient, f"digest.{period}", rendered)
        except ses.SendFailed:
            run.delete()  # nothing went out: the redelivered job may try again
            raise
        # Recorded before the notifications are marked: a run that dies in between is finished by its retry.
        run.update(actions=[DigestRun.status.set("sent"), DigestRun.ses_message_id.set(ses_id),
                            DigestRun.notification_count.set(len(unread))])
        service.mark_digested(unread, "digest", ses_id)
    if more or not users.reschedule_digest(tenant_id, user_id, due_at, None, version):
        users.reschedule_digest(tenant_id, user_id, due_at, following)
    return blocked or "sent"


def _finish_claimed(key: str, period: str, pending: list[Notification]) -> None:
    """This period's digest was claimed before. If SES took it, mark what it carried that is still pending (the
    run died before marking them); if the run died before SES answered, they stay pending for the next period —
    at most one digest per period, and nothing lost."""
    try:
        run = DigestRun.get(key, period, consistent_read=True)
    except DigestRun.DoesNotExist:
        return
    if run.status != "sent" or not run.notification_ids:
        return
    carried = set(run.notification_ids)
    service.mark_digested([item for item in pending if item.notification_id in carried], "digest",
                          run.ses_message_id, sent_at=run.claimed_at)


def _context(frequency: str, period: str, items: list[Notification], recipient: email.Recipient, tenant_id: str,
             user_id: str) -> dict[str, Any]:
    from chalicelib.notifications.unsubscribe import url_for

    groups: dict[str, dict[str, Any]] = {}
    for item in items:
        group_id = item.discussion_id or (f"thread-{int(item.community_thread_id)}"
                                          if item.community_thread_id is not None else "other")
        group = groups.setdefault(group_id, {"label": item.context_label or item.title, "items": []})
        group["items"].append({"title": item.title, "excerpt": item.body, "created_at": item.created_at,
                               "link": item.link})
    count = len(items)
    label = {"daily": "daily", "weekly": "weekly", "monthly": "monthly"}[frequency]
    return {"subject": f"Your {label} summary: {count} notification{'s' if count != 1 else ''}",
            "groups": list(groups.values()), "count": count, "period": period,
            "recipient_name": recipient.name, "unsubscribe_url": url_for(tenant_id, user_id)}
