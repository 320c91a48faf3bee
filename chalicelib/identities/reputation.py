"""Each tenant's sending reputation: bounce and complaint rates over a rolling window, and a pause above SES's levels.

SES judges the whole account: above a 5 % bounce rate or a 0.1 % complaint rate it puts the account under review,
and higher still pauses it — every tenant at once (SES developer guide, "Sending review process FAQs",
https://docs.aws.amazon.com/ses/latest/dg/faqs-enforcement.html). So each tenant is held to those levels on its own:
the SES events the `ses_events` Lambda has already applied (each exactly once) are counted per tenant and day; when
a tenant's rates over the window pass a level, that tenant alone is paused — its sends are refused with the reason,
its admins read it at GET /api/tenant/reputation, a CloudWatch metric raises the `tenant-paused` alarm — while every
other tenant keeps sending. Lifting a pause is an operator's decision (`resume`), after the cause is dealt with.

The rates: hard (Permanent) bounces ÷ (deliveries + hard bounces), complaints ÷ the same: what SES counts, over
mail whose outcome is known. Nothing is judged below MIN_VOLUME outcomes in the window: 1 bounce in 10 is noise.

Every delivery of a tenant is counted, in its own transaction, by concurrent Lambdas: a day's counts are spread over
the copies' shards (`day#DATE#NN`, tracking/ids.py), and no delivery's transaction holds an item of the whole tenant
(docs/email.md, "Hot items"). Whether the tenant is `watched` a delivery learns from its container's reading of the
status item, at most a minute old (`is_watched`): a tenant marked watched by another container is judged by this
container's deliveries within that minute, and by its own next bounce or complaint at once.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException

from chalicelib import cache, clock
from chalicelib.db import outlasting_transactions
from chalicelib.errors import Conflict, Forbidden
from chalicelib.identities.models import TenantReputation
from chalicelib.transactions import Tx

if TYPE_CHECKING:  # the admin report's caller; the event handlers that count outcomes never authenticate anyone
    from chalicelib.auth import Principal

logger = logging.getLogger(__name__)

BOUNCE_LEVEL = 0.05
COMPLAINT_LEVEL = 0.001
METRIC_NAMESPACE = "DiscussionHub/Reputation"


def window_days() -> int:
    return int(os.environ.get("REPUTATION_WINDOW_DAYS", "14"))


def min_volume() -> int:
    return int(os.environ.get("REPUTATION_MIN_VOLUME", "200"))


@dataclass(frozen=True)
class Report:
    state: str
    reason: str | None
    changed_at: str | None
    delivered: int
    bounced: int
    complained: int
    judged_since: str | None = None    # YYYY-MM-DD: counted since an operator resumed the tenant that day

    @property
    def outcomes(self) -> int:
        return self.delivered + self.bounced

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.outcomes if self.outcomes else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.outcomes if self.outcomes else 0.0


def _day(offset: int = 0) -> str:
    return "day#" + (clock.now() - timedelta(days=offset)).strftime("%Y-%m-%d")


def _today(tenant_id: str, shard: str | None) -> TenantReputation:
    """Today's count item of the copy's shard (the day's own item for an outcome of no known copy)."""
    return TenantReputation(tenant_id, f"{_day()}#{shard}" if shard else _day())


def _count_actions(kind: str, bounce_type: str | None) -> list[Any]:
    """Today's count of this outcome moved by one: deliveries, hard bounces and complaints count; soft bounces,
    opens and clicks do not ([] then)."""
    counter = {"delivery": TenantReputation.delivered, "complaint": TenantReputation.complained}.get(kind)
    if kind == "bounce" and bounce_type == "hard":
        counter = TenantReputation.bounced
    if counter is None:
        return []
    expires = int((clock.now() + timedelta(days=window_days() + 7)).timestamp())
    return [counter.add(1), TenantReputation.expires_at.set(expires)]


def count_delivery_in(tx: Tx, tenant_id: str, shard: str) -> None:
    """A delivery, counted in the transaction that applies it (tracking/events.py), in today's item of the copy's
    shard: never an item of the whole tenant, which every concurrent delivery would hold."""
    tx.update("reputation", _today(tenant_id, shard), _count_actions("delivery", None))


@cache.for_a_minute
def is_watched(tenant_id: str) -> bool:
    """Whether the tenant is `watched` — over a level on fewer outcomes than the minimum volume, where later
    deliveries bring the volume that makes the rate count — as this container read its status at most a minute ago
    (a GetItem, which no transaction conflicts with). A delivery only lowers the rates, so it judges the tenant only
    then: most deliveries cost no read of the window and, once a minute, one read of the status."""
    status = _status(tenant_id)
    return bool(status is not None and status.watched)


def judge(tenant_id: str, *, watched: bool = False) -> None:
    """Pause the tenant if it is over a level now (one Query of the window, and a write when the verdict changes);
    a failure is logged, not raised: the outcome was counted already, and the next one judges again. `watched`: the
    caller read the tenant as watched (a delivery, `is_watched`), so the mark is lifted once it is no longer needed."""
    try:
        _pause_if_over(tenant_id, watched)
    except (ClientError, PynamoDBException):
        logger.exception("could not judge the reputation of tenant %s", tenant_id)


def record_outcome(tenant_id: str, kind: str, bounce_type: str | None, shard: str | None = None) -> None:
    """Count one applied bounce or complaint (called once per event by tracking/events.py), in today's item of the
    copy's shard, and pause the tenant if it is over a level now (deliveries: `count_delivery_in`)."""
    actions = _count_actions(kind, bounce_type)
    if not actions:
        return
    item = _today(tenant_id, shard)
    outlasting_transactions(lambda: item.update(actions=actions))  # a delivery's transaction may hold the shard
    judge(tenant_id)


def _counts(tenant_id: str) -> tuple[int, int, int, TenantReputation | None]:
    """(delivered, bounced, complained) judged now, and the status item: one Query of at most `window_days()` ×
    (1 + 16 shards) + 1 items, from the first day's own item to the status item ("status" sorts after every day).

    Judged are the outcomes of the window — or, after an operator resumed the tenant, those since the resume: the
    days from then on, less what the resume's day had counted before it (`resume`)."""
    first = _day(window_days() - 1)
    items = list(TenantReputation.query(tenant_id, TenantReputation.bucket.between(first, "status")))
    status = items.pop() if items and items[-1].bucket == "status" else None
    since = status.judged_since if status is not None and status.judged_since else None
    delivered = bounced = complained = 0
    for day in items:
        if since is None or day.bucket[:len(since)] >= since:
            delivered += int(day.delivered or 0)
            bounced += int(day.bounced or 0)
            complained += int(day.complained or 0)
    if status is not None and since is not None and since >= first:
        delivered -= int(status.baseline_delivered or 0)
        bounced -= int(status.baseline_bounced or 0)
        complained -= int(status.baseline_complained or 0)
    return max(delivered, 0), max(bounced, 0), max(complained, 0), status


def _status(tenant_id: str) -> TenantReputation | None:
    try:
        return TenantReputation.get(tenant_id, "status")
    except DoesNotExist:
        return None


def _over_levels(delivered: int, bounced: int, complained: int) -> list[str]:
    outcomes = delivered + bounced
    reasons = []
    if outcomes and bounced / outcomes > BOUNCE_LEVEL:
        reasons.append(f"bounce rate {bounced / outcomes:.1%} ({bounced} hard bounces in {outcomes} emails) is over "
                       f"{BOUNCE_LEVEL:.0%}")
    if outcomes and complained / outcomes > COMPLAINT_LEVEL:
        reasons.append(f"complaint rate {complained / outcomes:.2%} ({complained} complaints in {outcomes} emails) is "
                       f"over {COMPLAINT_LEVEL:.1%}")
    return reasons


def _pause_if_over(tenant_id: str, watched: bool) -> None:
    """Judge the window. Over a level below the minimum volume, the tenant is marked `watched` (its deliveries judge
    it too); a delivery that finds it no longer so lifts the mark."""
    delivered, bounced, complained, _ = _counts(tenant_id)
    reasons = _over_levels(delivered, bounced, complained)
    below_volume = delivered + bounced < min_volume()
    watch = below_volume and bool(reasons)
    if watch != watched:
        TenantReputation(tenant_id, "status").update(
            actions=[TenantReputation.watched.set(True) if watch else TenantReputation.watched.remove()])
        is_watched.forget(tenant_id)  # this container's deliveries see the change at once
    if below_volume or not reasons:
        return
    reason = (" and ".join(reasons) + f" over the last {window_days()} days; sending is paused until an operator "
              "resumes it: remove the addresses that bounce or complain, then ask for a review")
    try:
        TenantReputation(tenant_id, "status", state="paused", reason=reason, changed_at=clock.now_iso()).save(
            condition=TenantReputation.state.does_not_exist() | (TenantReputation.state != "paused"))
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return  # already paused: the alarm has been raised once
        raise
    logger.warning("tenant %s paused for sending: %s", tenant_id, reason)
    _alarm(tenant_id)


def _alarm(tenant_id: str) -> None:
    """The `TenantsPaused` metric the `tenant-paused` alarm watches (infra/resources.yaml)."""
    from chalicelib import aws
    from chalicelib.config import settings

    aws.client("cloudwatch").put_metric_data(
        Namespace=METRIC_NAMESPACE,
        MetricData=[{"MetricName": "TenantsPaused", "Value": 1, "Unit": "Count",
                     "Dimensions": [{"Name": "Stage", "Value": settings().stage}]}])


def pause_reason(tenant_id: str) -> str | None:
    """Why this tenant may not send now, or None (one GetItem)."""
    return reason_of(_status(tenant_id))


def status_key(tenant_id: str) -> TenantReputation:
    """The tenant's status item, by key: to read it with other items in one call (db.get_many), then `reason_of`."""
    return TenantReputation(tenant_id, "status")


def reason_of(status: TenantReputation | None) -> str | None:
    """Why the tenant whose status item this is may not send now, or None."""
    return status.reason if status is not None and status.state == "paused" else None


def refuse_if_paused(status: TenantReputation | None) -> None:
    """409 naming `sending` while the tenant whose status item this is (`status_key`, read with other items) is
    paused: the one check before a send is queued."""
    reason = reason_of(status)
    if reason:
        raise Conflict(f"sending is paused for this tenant: {reason}", field="sending")


def resume(tenant_id: str, by: str) -> None:
    """An operator lifts the pause, once the addresses that bounced or complained are dealt with
    (scripts/resume_sending.py). The tenant starts afresh: from now on only the outcomes after the resume are judged
    (the window's earlier ones would pause it again at its next bounce), from today's items less what they counted
    until now — read here, one Query of today's at most 17 items."""
    today = _day()
    counted = list(TenantReputation.query(tenant_id, TenantReputation.bucket.between(today, today + "#~")))
    TenantReputation(tenant_id, "status", state="active", reason=f"resumed by {by}", changed_at=clock.now_iso(),
                     judged_since=today,
                     baseline_delivered=sum(int(day.delivered or 0) for day in counted),
                     baseline_bounced=sum(int(day.bounced or 0) for day in counted),
                     baseline_complained=sum(int(day.complained or 0) for day in counted)).save()
    is_watched.forget(tenant_id)


def report(principal: Principal) -> Report:
    if not principal.is_admin:
        raise Forbidden("the sending reputation is shown to the admin role")
    return report_of(principal.tenant_id)


def report_of(tenant_id: str) -> Report:
    """The tenant's state and the counts judged now (one Query)."""
    delivered, bounced, complained, status = _counts(tenant_id)
    state = status.state if status is not None and status.state else "active"
    return Report(state, status.reason if status else None, status.changed_at if status else None,
                  delivered, bounced, complained,
                  status.judged_since[len("day#"):] if status is not None and status.judged_since else None)


def as_json(item: Report) -> dict[str, Any]:
    return {"sending": item.state, "reason": item.reason, "changed_at": item.changed_at,
            "window_days": window_days(), "judged_since": item.judged_since,
            "delivered": item.delivered, "hard_bounces": item.bounced,
            "complaints": item.complained, "bounce_rate": round(item.bounce_rate * 100, 3),
            "complaint_rate": round(item.complaint_rate * 100, 3),
            "levels": {"bounce_rate": BOUNCE_LEVEL * 100, "complaint_rate": COMPLAINT_LEVEL * 100,
                       "min_volume": min_volume()}}
