"""Doing a thing once: a claim with a lease, held on the item the work is about (one conditional write).

`take` moves the item's status from a ready status to a working one and writes its `claim` (who holds it: a
random token; until when: the lease), in one conditional UpdateItem that returns the item. The holder may mark a
step (which renews the lease) and ends with `finish(status)`, written on condition that it still holds the claim.
A holder that dies leaves a claim whose lease runs out, and the next worker to come takes the work over.

One step is special: CALLING, recorded just before a call that can be neither undone nor asked about (SES
SendRawEmail, an SMS). A claim whose lease ran out at that step may have made its call or not: the work is set
`uncertain` and listed for an operator (an UncertainSend record in the same transaction, a log line that is a
CloudWatch metric, an alarm) rather than done twice or dropped. Before that step, a lost holder is simply
replaced.

A lease is longer than the Lambda that takes it may run (each kind's `lease_seconds` beside its function's timeout
in .chalice/config.json; tests/test_claims.py checks it), so a lease that ran out means its holder is gone: a Lambda
cannot outlive its timeout. Powertools' idempotency utility ties its expiry to the Lambda's remaining time for the
same reason (docs/sending.md says why we do not use it).

The claim lives on the domain item (a copy's tracking record, a notification, a digest run, an inbound Message-ID),
so it costs no extra DynamoDB call; only SES events, which have no item of their own, get a record for it
(tracking.models.ProcessedEvent).
"""
from __future__ import annotations

import importlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib import clock, ids
from chalicelib.db import (
    VersionConflict,
    cancellation_codes,
    conflicted,
    refused_by_condition,
    retry_on_conflict,
    table_meta,
    transaction,
)
from chalicelib.tables import Table

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Model)

CALLING = "calling"        # the step recorded just before a call that cannot be undone or asked about
UNCERTAIN = "uncertain"    # the status of work whose holder was lost at that step
TAKEN, DONE, BUSY, GONE = "taken", "done", "busy", "gone"
METRIC_NAMESPACE = "DiscussionHub"
METRIC_NAME = "UncertainSends"


class ClaimMap(MapAttribute):
    """Who holds the work (`token`), until when (`until`, epoch seconds) and how far it got (`step`)."""
    token = UnicodeAttribute()
    until = NumberAttribute()
    step = UnicodeAttribute(null=True)
    taken_at = UnicodeAttribute(null=True)


class LostClaim(Exception):
    """The holder's claim was taken over (its lease had run out): what it was doing is another worker's now."""


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one Work per kind
class Work:
    """How one kind of work is claimed on its model: which attributes, which statuses, how long a lease."""
    kind: str                           # copy | notification_email | notification_sms | digest | ses_event | inbound
    status: Any                         # the item's status attribute (a PynamoDB attribute of the model class)
    claim: Any                          # the item's ClaimMap attribute
    ready: tuple[str | None, ...]       # statuses the work may be taken from; None: no status yet
    lease_seconds: int
    working: str = "sending"
    creates: bool = False               # the claim creates the item (it does not exist before the work)
    # For work with a CALLING step: (tenant_id, what an operator reads) of an item found uncertain, and what else
    # changes on the item then.
    describe: Callable[[Any], tuple[str, dict[str, Any]]] | None = None
    when_uncertain: Callable[[], list[Action]] | None = None


@dataclass
class Claim(Generic[M]):
    """The outcome of `take`: `held` with the item as stored now, or why not (`state`) and the item as it is."""
    item: M | None
    work: Work
    state: str
    token: str | None = None
    retry_in: float = 0.0  # BUSY: seconds until the other holder's lease ends

    @property
    def held(self) -> bool:
        return self.state == TAKEN

    def reach(self, step: str = CALLING, also: Callable[[Any], None] | None = None) -> None:
        """Record `step` (and renew the lease) while still holding the claim; `also` adds items to the same
        transaction. Raises LostClaim: then the holder must not go on (another worker has the work)."""
        work = self.work
        held = getattr(self._held(), work.claim.attr_name)
        lease = ClaimMap(token=self.token, until=_epoch() + work.lease_seconds, step=step,
                         taken_at=held.taken_at if held is not None else None)
        self._write([work.claim.set(lease)], also)

    def finish(self, status: str | None, actions: list[Action] | None = None,
               also: Callable[[Any], None] | None = None) -> None:
        """End the work with `status` (None removes it: ready again) and let go of the claim, with `actions` on the
        item and `also` in the same transaction. Raises LostClaim."""
        work = self.work
        ending = work.status.remove() if status is None else work.status.set(status)
        self._write([ending, work.claim.remove(), *(actions or [])], also)

    def release(self, actions: list[Action] | None = None, also: Callable[[Any], None] | None = None) -> None:
        """Give the work back untouched, for the next worker: the first ready status, no claim."""
        self.finish(self.work.ready[0], actions, also)

    def finished_in_caller_transaction(self, status: str) -> tuple[M, Condition]:
        """The item ended with `status`, and the condition to save it with, for a transaction the caller writes."""
        item = self._held()
        setattr(item, self.work.status.attr_name, status)
        setattr(item, self.work.claim.attr_name, None)
        return item, self.work.claim.token == self.token

    def _held(self) -> Any:
        if not self.held or self.item is None:
            raise LostClaim(f"{self.work.kind}: not held")
        return self.item

    def _write(self, actions: list[Action], also: Callable[[Any], None] | None) -> None:
        """One write of the claim's item (with `also`, one transaction), made again while it loses to a concurrent
        transaction on one of its items (TransactionConflict: nothing was written; db.retry_on_conflict)."""
        item = self._held()
        mine = self.work.claim.token == self.token

        def attempt() -> None:
            try:
                if also is None:
                    item.update(actions=actions, condition=mine)
                    return
                with transaction() as tx:
                    also(tx)
                    tx.update(item, actions=actions, condition=mine)
            except (UpdateError, TransactWriteError) as error:
                # The item is the transaction's last (DynamoDB gets puts before updates, and it is added last): only
                # its own refusal means the claim was lost; another item's is the caller's to handle.
                codes = cancellation_codes(error)
                if refused_by_condition(error) or (codes and codes[-1] == "ConditionalCheckFailed"):
                    raise LostClaim(f"{self.work.kind}: the claim was taken over") from error
                if "ConditionalCheckFailed" not in codes and conflicted(error):
                    raise VersionConflict(f"{self.work.kind}: a concurrent transaction") from error
                raise

        retry_on_conflict(attempt)


def _epoch() -> int:
    return int(clock.now().timestamp())


def _ready(item: Model, work: Work) -> Condition:
    key = type(item)._hash_key_attribute()
    statuses = [work.status.does_not_exist() if status is None else work.status == status for status in work.ready]
    if work.creates:
        statuses.append(key.does_not_exist())
    ready = statuses[0]
    for condition in statuses[1:]:
        ready = ready | condition
    return ready if work.creates else key.exists() & ready


def take(item: M, work: Work, actions: list[Action] | None = None, step: str | None = None,
         unchanged: Condition | None = None) -> Claim[M]:
    """Take the work on `item` (only its keys need be set): from a ready status, or from a holder whose lease ran
    out before CALLING. The item comes back as stored. `step=CALLING` takes it straight at the calling step, for a
    holder with nothing left to do but the call (one write less than `take` then `reach`); such a holder prepared
    from the item as it read it, so `unchanged` says what must still hold of it (refused: BUSY, read again). Not
    taken: DONE (finished or uncertain), BUSY (held; see `retry_in`), GONE (no such item), or UNCERTAIN (its holder
    was lost while CALLING: now listed for operators)."""
    now = _epoch()
    token = secrets.token_hex(8)
    lost_before_calling = (work.status == work.working) & (work.claim.until < now) & (
        work.claim.step.does_not_exist() | (work.claim.step != CALLING))
    lease = ClaimMap(token=token, until=now + work.lease_seconds, taken_at=clock.now_iso(), step=step)
    try:
        condition = _ready(item, work) | lost_before_calling
        item.update(actions=[work.status.set(work.working), work.claim.set(lease), *(actions or [])],
                    condition=condition if unchanged is None else condition & unchanged)
        return Claim(item, work, TAKEN, token)
    except UpdateError as error:
        if not refused_by_condition(error):
            raise
    return _not_taken(item, work, now, token)


def look(current: M | None, work: Work) -> Claim[M] | None:
    """What `take` would answer, from the item as just read with a consistent read (with other items, in one call),
    without writing: None when it may be taken (ready, or its holder was lost before CALLING); else GONE, DONE, BUSY
    (see `retry_in`), or UNCERTAIN (its holder was lost while CALLING: marked and listed now, as `take` would). A
    worker that prepares before it claims (a copy renders, then claims at CALLING) spares that work when refused."""
    if current is None:
        return Claim(None, work, GONE)
    now = _epoch()
    status = getattr(current, work.status.attr_name)
    held: ClaimMap | None = getattr(current, work.claim.attr_name)
    if status in work.ready or (status == work.working and held is not None and int(held.until) < now
                                and held.step != CALLING):
        return None
    return _refusal(current, work, now)


def _not_taken(item: M, work: Work, now: int, token: str) -> Claim[M]:
    """Why the claim's write was refused, from one consistent read. The claim read back with our own token is ours:
    the SDK sent the write again after a timeout or a lost answer, and the first attempt had taken it (the retry
    then failed its own condition)."""
    model = type(item)
    keys = [getattr(item, name) for name in _key_names(model)]
    try:
        current = model.get(keys[0], keys[1] if len(keys) > 1 else None, consistent_read=True)
    except model.DoesNotExist:
        return Claim(None, work, GONE)
    held: ClaimMap | None = getattr(current, work.claim.attr_name)
    if held is not None and held.token == token and getattr(current, work.status.attr_name) == work.working:
        return Claim(current, work, TAKEN, token)
    return _refusal(current, work, now)


def _refusal(current: M, work: Work, now: int) -> Claim[M]:
    status = getattr(current, work.status.attr_name)
    held: ClaimMap | None = getattr(current, work.claim.attr_name)
    if status != work.working:
        # Ready again already (released between our write and this read): worth another try soon.
        return Claim(current, work, BUSY if status in work.ready else DONE, retry_in=1.0)
    if held is not None and int(held.until) >= now:
        return Claim(current, work, BUSY, retry_in=float(int(held.until) - now + 1))
    if held is not None and held.step != CALLING:
        return Claim(current, work, BUSY, retry_in=1.0)  # ours to take over: refused only by a concurrent taker
    # The holder is gone. It had reached CALLING, or it left no claim at all (work taken before claims had
    # leases): whether its call happened is unknown.
    return _mark_uncertain(current, work, held)


def _key_names(model: type[Model]) -> list[str]:
    names = [model._hash_key_attribute().attr_name]
    range_key = model._range_key_attribute()
    if range_key is not None:
        names.append(range_key.attr_name)
    return names


# ---------------------------------------------------------------- work whose outcome is unknown


class UncertainSend(Table):
    """Work lost while calling what cannot be undone nor asked about: listed for the tenant's admins until one of
    them resends or dismisses it (`GET /api/tenant/sending/uncertain`)."""
    Meta = table_meta("uncertain-sends")

    tenant_id = UnicodeAttribute(hash_key=True)
    uncertain_id = UnicodeAttribute(range_key=True)    # time-ordered, the same for the same item
    kind = UnicodeAttribute()
    item_key = UnicodeAttribute()                      # JSON list of the item's keys
    summary = UnicodeAttribute()                       # JSON: recipient, discussion, notification, period…
    claimed_at = UnicodeAttribute(null=True)
    detected_at = UnicodeAttribute()


def _mark_uncertain(current: M, work: Work, held: ClaimMap | None) -> Claim[M]:
    if work.describe is None:
        raise RuntimeError(f"{work.kind} has no CALLING step, so it cannot be uncertain")
    tenant_id, summary = work.describe(current)
    key = [getattr(current, name) for name in _key_names(type(current))]
    detected_at = clock.now_iso()
    record = UncertainSend(tenant_id, ids.sortable_id_for(detected_at, json.dumps([work.kind, *key])),
                           kind=work.kind, item_key=json.dumps(key), summary=json.dumps(summary, sort_keys=True),
                           claimed_at=held.taken_at if held is not None else None, detected_at=detected_at)
    same_holder = work.claim.token == held.token if held is not None else work.claim.does_not_exist()
    try:
        with transaction() as tx:
            # The claim stays: were its holder alive after all, its finish (by token) would still be recorded.
            tx.update(current, actions=[work.status.set(UNCERTAIN), *(work.when_uncertain() if work.when_uncertain
                                                                        else [])],
                      condition=(work.status == work.working) & same_holder)
            tx.save(record)
    except TransactWriteError as error:
        if "ConditionalCheckFailed" not in cancellation_codes(error):
            raise
        return Claim(current, work, DONE)  # another worker marked it, or the holder finished meanwhile
    setattr(current, work.status.attr_name, UNCERTAIN)
    logger.error("%s uncertain (holder lost while calling): tenant %s, %s", work.kind, tenant_id, summary)
    _metric(work.kind)
    return Claim(current, work, UNCERTAIN)


def _metric(kind: str) -> None:
    """One CloudWatch metric data point, written as a log line in the Embedded Metric Format: no API call, no
    permission; Lambda's log stream turns it into DiscussionHub/UncertainSends, which infra alarms on.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
    """
    import os

    stage = os.environ.get("STAGE") or "local"
    print(json.dumps({"_aws": {"Timestamp": int(clock.now().timestamp() * 1000), "CloudWatchMetrics": [{
        "Namespace": METRIC_NAMESPACE, "Dimensions": [["Stage"]],
        "Metrics": [{"Name": METRIC_NAME, "Unit": "Count"}]}]},
        "Stage": stage, METRIC_NAME: 1, "kind": kind}), flush=True)


def list_uncertain(tenant_id: str, limit: int, cursor: str | None) -> tuple[list[UncertainSend], str | None]:
    """The tenant's uncertain work, newest first: one Query."""
    from chalicelib.db import decode_cursor, encode_cursor

    scope = f"{tenant_id}|uncertain"
    results = UncertainSend.query(tenant_id, scan_index_forward=False, limit=limit,
                                  last_evaluated_key=decode_cursor(cursor, scope))
    items = list(results)
    return items, encode_cursor(results.last_evaluated_key, scope)


def as_json(record: UncertainSend) -> dict[str, Any]:
    return {"id": record.uncertain_id, "kind": record.kind, **json.loads(record.summary),
            "claimed_at": record.claimed_at, "detected_at": record.detected_at}


# kind → "module:function(item_key) -> str" that puts uncertain work back to be done again (an SMS is not resent).
RESOLVERS = {
    "copy": "chalicelib.mail.send:resend_uncertain",
    "notification_email": "chalicelib.notifications.email:resend_uncertain",
    "digest": "chalicelib.notifications.digest:resend_uncertain",
}


def resolve(tenant_id: str, uncertain_id: str, action: str, resolved_by: str) -> str:
    """An admin decides: `resend` (the recipient did not get it) or `dismiss` (they did, or it no longer matters).
    Returns what was done; the record is gone afterwards. Raises NotFound or Conflict (errors)."""
    from chalicelib.errors import Conflict, NotFound

    if not (len(uncertain_id) == 32 and all(c in "0123456789abcdef" for c in uncertain_id)):
        raise NotFound("uncertain send not found", field="uncertain_id")
    try:
        record = UncertainSend.get(tenant_id, uncertain_id)
    except UncertainSend.DoesNotExist:
        raise NotFound("uncertain send not found", field="uncertain_id") from None
    outcome = "dismissed"
    if action == "resend":
        target = RESOLVERS.get(record.kind)
        if target is None:
            raise Conflict(f"a {record.kind} cannot be resent; dismiss it", field="action")
        module, _, function = target.partition(":")
        outcome = getattr(importlib.import_module(module), function)(json.loads(record.item_key))
    logger.info("uncertain %s %s %s by %s: %s", record.kind, uncertain_id, action, resolved_by, outcome)
    record.delete()
    return outcome


def reopen(work: Work, item: Model, status: str | None, actions: list[Action] | None = None) -> bool:
    """For resolvers: put uncertain work back to `status` (a ready one), its old claim cleared. False if it is no
    longer uncertain (resolved by its holder after all, or by another admin)."""
    ending = work.status.remove() if status is None else work.status.set(status)
    try:
        item.update(actions=[ending, work.claim.remove(), *(actions or [])], condition=work.status == UNCERTAIN)
        return True
    except UpdateError as error:
        if refused_by_condition(error):
            return False
        raise


MODELS = (UncertainSend,)
