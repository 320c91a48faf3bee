"""The digest: once per period, one email per user grouping what waited for it, by discussion or thread.

The hourly schedule (`digest_tick`) queues one job per shard of the sparse `digest_due` index; a shard job
reads the users due (100 per run) and queues one job per user; SQS runs those in parallel Lambdas, so
100,000 users are served well inside Lambda's 15 minutes (bench/digest.py measures one user's cost).

A user's digest is claimed (chalicelib/claims.py) on its run record (user, period) — daily:2026-11-23,
weekly:2026-W48, monthly:2026-11, in their time zone — before SES is called: a rerun, a duplicate queue message
or a second tick never sends a period's digest twice. The claim lists the notifications it carries and is marked
`sent` as soon as SES took the email; only then do they leave the pending index. A run that dies after that mark
is finished by its retry (they are marked sent, nothing is mailed again); one that dies before SES is taken over
once its lease ran out; one that dies while SES had the email leaves the run `uncertain`, listed for an operator,
and what it carried leaves the pending index as `uncertain` too (an admin's resend puts it back): never mailed
twice, never silently lost. Notifications the user already read in the app are left out, and a digest with
nothing left in it is not sent.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib import claims, clock, jobs
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
    """Job: one user's digest, within this container's share of the account's SES send rate."""
    from chalicelib.mail import ses

    ses.take_a_send()
    outcome = send_digest(str(payload["tenant_id"]), str(payload["user_id"]))
    logger.info("digest for %s/%s: %s", payload["tenant_id"], payload["user_id"], outcome)


def _following(frequency: str, profile: UserProfile, after: datetime) -> str:
    """The user's next digest time after `after` (a frequency other than `never`)."""
    hour = int(profile.digest_hour) if profile.digest_hour is not None else None
    moment = next_due(frequency, profile.timezone, hour, after)
    if moment is None:
        raise ValueError(f"no next digest time for frequency {frequency}")
    return clock.iso(moment)


def _deliver(claim: claims.Claim[DigestRun], unread: list[Any], blocked: str | None,
             rendered: rendering.Rendered | None, who: tuple[str, str, Any, str]) -> None:
    """Send the claimed digest (or end the claim with why not); its notifications leave the pending index."""
    from chalicelib.mail import ses

    tenant_id, user_id, recipient, period = who
    if blocked is not None or rendered is None:
        reason = blocked or "not rendered"
        service.mark_digested(unread, reason, None)
        claim.finish(reason)
    else:
        try:
            ses_id = email.send_email(tenant_id, user_id, recipient, f"digest.{period}", rendered)
        except ses.SendFailed as error:
            claim.release()  # nothing went out: the job may try again
            if error.retryable:
                raise jobs.RetryLater(RETRY_SECONDS, str(error)) from error
            raise
        # The run's end and its notifications leaving the index in one transaction when they fit in one (DynamoDB
        # takes 100 items); else the end first: a run that dies before the marks is finished by its retry.
        together = len(unread) < 100
        claim.finish("sent", [DigestRun.ses_message_id.set(ses_id), DigestRun.notification_count.set(len(unread))],
                     also=service.digested(unread, "digest", ses_id) if together else None)
        if not together:
            service.mark_digested(unread, "digest", ses_id)


def send_digest(tenant_id: str, user_id: str) -> str:
    """One user's digest if it is due: claimed for its period, sent once, then its notifications leave the index."""
    from chalicelib.mail import communication
    from chalicelib.users import service as users

    now = clock.now()
    profile = users.profile_of(tenant_id, user_id)
    if profile is None or not profile.digest_due_at or profile.digest_due_at > clock.iso(now):
        return "not due"
    due_at = profile.digest_due_at
    version = int(profile.digest_pending_version) if profile.digest_pending_version is not None else None
    config = communication.recent(tenant_id)
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
    sending = blocked is None and rendered is not None
    # Taken straight at the calling step when nothing but SES is left to do (rendered above).
    claim = claims.take(DigestRun(key, period), DIGEST, actions=[
        DigestRun.claimed_at.set(clock.iso(now)), DigestRun.notification_ids.set([i.notification_id for i in unread]),
        DigestRun.expires_at.set(int(now.timestamp()) + RUN_RETENTION_SECONDS)],
        step=claims.CALLING if sending else None)
    if not claim.held:
        return _claimed_before(claim, pending, tenant_id, user_id, due_at, following)
    _deliver(claim, unread, blocked, rendered, (tenant_id, user_id, recipient, period))
    if more or not users.reschedule_digest(tenant_id, user_id, due_at, None, version):
        users.reschedule_digest(tenant_id, user_id, due_at, following)
    return blocked or "sent"


def _describe(run: DigestRun) -> tuple[str, dict[str, Any]]:
    tenant_id, _, user_id = run.user_key.partition("#")
    return tenant_id, {"user_id": user_id, "period": run.period_key,
                       "notification_count": len(run.notification_ids or [])}


# One user's digest of a period: the lease outlasts the `jobs` Lambda (timeout 300 s).
DIGEST = claims.Work(kind="digest", status=DigestRun.status, claim=DigestRun.claim, ready=("released",),
                     creates=True, lease_seconds=330, describe=_describe)
RETRY_SECONDS = 60  # SES throttled or unavailable: the user's digest job comes back this much later


def _claimed_before(claim: claims.Claim[DigestRun], pending: list[Notification], tenant_id: str, user_id: str,
                    due_at: str, following: str) -> str:
    """This period's digest was claimed before: by a run at work now (try later), one that finished, or one lost
    while SES had it."""
    from chalicelib.users import service as users

    if claim.state == claims.BUSY:
        raise jobs.RetryLater(claim.retry_in, "this digest is being sent by another run")
    run = claim.item
    if run is not None and run.notification_ids and run.status in ("sent", claims.UNCERTAIN):
        # Sent (the run died before marking what it carried), or perhaps sent: either way not again.
        carried = set(run.notification_ids)
        status = "digest" if run.status == "sent" else claims.UNCERTAIN
        service.mark_digested([item for item in pending if item.notification_id in carried], status,
                              run.ses_message_id, sent_at=run.claimed_at)
    users.reschedule_digest(tenant_id, user_id, due_at, following)
    return "already sent" if run is None or run.status != claims.UNCERTAIN else claims.UNCERTAIN


def resend_uncertain(item_key: list[Any]) -> str:
    """An admin says this uncertain digest did not arrive: what it carried waits for the user's next digest run
    (the next hourly tick: the period's own run stays closed)."""
    key, period = str(item_key[0]), str(item_key[1])
    try:
        run = DigestRun.get(key, period)
    except DigestRun.DoesNotExist:
        return "gone"
    if not claims.reopen(DIGEST, run, "resent"):
        return "no longer uncertain"
    tenant_id, _, user_id = key.partition("#")
    service.wait_for_digest(tenant_id, user_id, list(run.notification_ids or []), clock.now_iso())
    return "in the user's next digest"


def _context(frequency: str, period: str, items: list[Notification], recipient: email.Recipient, tenant_id: str,
             user_id: str) -> dict[str, Any]:
    from chalicelib.config import settings
    from chalicelib.notifications.unsubscribe import url_for

    groups: dict[str, dict[str, Any]] = {}
    for item in items:
        group_id = item.discussion_id or (f"thread-{int(item.community_thread_id)}"
                                          if item.community_thread_id is not None else "other")
        group = groups.setdefault(group_id, {"label": item.context_label or item.title, "items": []})
        group["items"].append({"title": item.title, "excerpt": item.body, "created_at": item.created_at,
                               "link": _app_link(item, settings())})
    count = len(items)
    label = {"daily": "daily", "weekly": "weekly", "monthly": "monthly"}[frequency]
    return {"subject": f"Your {label} summary: {count} notification{'s' if count != 1 else ''}",
            "groups": list(groups.values()), "count": count, "period": period,
            "recipient_name": recipient.name, "unsubscribe_url": url_for(tenant_id, user_id)}


def _app_link(item: Notification, config: Any) -> str | None:
    """Where a person opens what the notification is about: the web app (APP_*_URL), never the JSON API, which
    answers 401 in a browser. Built from the notification's ids, so links stored before this rule are right too."""
    if item.discussion_id:
        return str(config.discussion_url(item.discussion_id))
    if item.community_thread_id is not None:
        return str(config.community_thread_url(int(item.community_thread_id)))
    return item.link
