"""Statistics kept as counters, so reading them costs one Query whatever the number of copies (issue 22).

Each counter moves once, where the state it counts changes for the first time: a copy written (`total`), sent,
failed (first failure, until it is sent), delivered, opened, opened by a person, clicked, bounced, complained.
"First time" is read from the update that made the change (the timestamp it wrote is the one the item now holds)
and, for SES events, from the record as read before, so an event applied again after a crash never counts twice.
A copy sent or failed to send, a delivery, an open, a click, a bounce, a complaint and an SES reject are counted in
the transaction that records them on the copy (mail/send.py, tracking/events.py `_change_and_count`, `_reject`);
opens and clicks through links made before 2026-12-03 have the counter's own UpdateItem after the change it counts:
a Lambda dying between the two leaves that one change uncounted (the per-recipient detail stays exact); nothing is
ever counted twice.

Opens, opens by a person and clicks are unique counts, kept so that a pixel hit or a click is one DynamoDB call,
a transaction of two updates, whether or not it is the copy's first (service.record_open, record_click): the copy's
tracking record, and its shard's sets `opened_ids`, `human_opened_ids`, `clicked_ids`, to which the copy's tracking
pixel id is added (`ADD`: adding an id already in a set changes nothing, so a repeat needs no read and no condition).
The count is the size of the set plus the number of the same name, which holds the copies counted by the code
before the sets (until 2026-12-03: one more UpdateItem on a copy's first open or click). A copy is counted in one of
the two, never both: the sets take a copy only in the transaction that marks it `counted_by_id`, whose condition is
that the copy has no open yet (`opened_at`) or is marked already; a copy whose first open was counted in the numbers
is refused there and goes on being counted as before (docs/email.md, "Opens and clicks").

A message's counts are spread over shards, `MESSAGE#NN` with NN the copy's shard (ids.copy_shard): deliveries of
one message run as concurrent Lambdas, each in a transaction, and DynamoDB cancels a transaction whose item is in
another one (docs/email.md, "Hot items"). A move of no one copy (the fan-out's `total`) and every counter item
written before the shards goes to `MESSAGE` itself; the readers sum them all in one Query.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.db import outlasting_transactions
from chalicelib.tracking.ids import copy_shard
from chalicelib.tracking.models import TrackingCounter
from chalicelib.transactions import Tx

FIELDS = ("total", "sent", "failed", "delivered", "opened", "human_opened", "clicked", "bounced", "complained")
# The unique counts a set of tracking pixel ids keeps (its size is added to the number of the same name).
ID_SETS = {"opened": "opened_ids", "human_opened": "human_opened_ids", "clicked": "clicked_ids"}
# Above every shard's suffix ("#00" to "#15"): MESSAGE to MESSAGE#~ holds the message's own item and its shards.
_LAST_SHARD = "#~"


def _actions(deltas: dict[str, int]) -> list[Any]:
    moves = {name: amount for name, amount in deltas.items() if amount}
    unknown = set(moves) - set(FIELDS)
    if unknown:
        raise ValueError(f"no such counter: {sorted(unknown)}")
    return [getattr(TrackingCounter, name).add(amount) for name, amount in moves.items()]


def _item(discussion_key: str, message_id: str, copy_id: str | None) -> TrackingCounter:
    return TrackingCounter(discussion_key, f"{message_id}#{copy_shard(copy_id)}" if copy_id else message_id)


def count(discussion_key: str, message_id: str, copy_id: str | None = None, **deltas: int) -> None:
    """Move this message's counters (one UpdateItem; nothing when every delta is 0): in the shard of the copy whose
    change it counts (its tracking pixel id), or the message's own item for a move of no one copy. Made again while a
    delivery's transaction holds the shard (db.outlasting_transactions)."""
    actions = _actions(deltas)
    if actions:
        item = _item(discussion_key, message_id, copy_id)
        outlasting_transactions(lambda: item.update(actions=actions))


def move(discussion_key: str, message_id: str, copy_id: str | None,
         **deltas: int) -> tuple[TrackingCounter, list[Any]] | None:
    """The counter item of the copy's shard (None: the message's own item) and the actions of this move, for a
    transaction of PynamoDB's own (a claim's end, the fan-out's copies); None when every delta is 0."""
    actions = _actions(deltas)
    return (_item(discussion_key, message_id, copy_id), actions) if actions else None


def count_in(tx: Tx, discussion_key: str, message_id: str, copy_id: str, **deltas: int) -> None:
    """The same move as one item of `tx`, in the copy's shard: counted exactly when the change it counts is
    committed."""
    actions = _actions(deltas)
    if actions:
        tx.update("counter", _item(discussion_key, message_id, copy_id), actions)


def _id_actions(copy_id: str, counted: Iterable[str]) -> list[Any]:
    return [getattr(TrackingCounter, ID_SETS[name]).add({copy_id}) for name in dict.fromkeys(counted)]


def ids_in(tx: Tx, discussion_key: str, message_id: str, copy_id: str, counted: Iterable[str]) -> None:
    """Count the copy in these unique counts ("opened", "human_opened", "clicked") as one item of `tx`: its id added to
    its shard's sets, unconditionally (again: no change)."""
    actions = _id_actions(copy_id, counted)
    if actions:
        tx.update("counter", _item(discussion_key, message_id, copy_id), actions)


def add_ids(discussion_key: str, message_id: str, copy_id: str, counted: Iterable[str]) -> None:
    """The same as one UpdateItem of its own (a link made before the sets, on a copy the sets count)."""
    actions = _id_actions(copy_id, counted)
    if actions:
        item = _item(discussion_key, message_id, copy_id)
        outlasting_transactions(lambda: item.update(actions=actions))


def firsts(before: object, after: object, fields: dict[str, str], when: str) -> dict[str, int]:
    """{counter: 1} for each timestamp attribute `after` now holds as `when` (this update set it) and `before` (the
    record as read before, or None when not read) did not have."""
    return {counter: 1 for attribute, counter in fields.items()
            if getattr(after, attribute, None) == when and (before is None or getattr(before, attribute) is None)}


def by_message(discussion_key: str, message_id: str | None = None) -> dict[str, dict[str, int]]:
    """message id → its counters, the sum of its shards and of its own item: one Query (of at most 1 + 16 items for
    a single message; a message with fewer copies than shards has at most one item per copy and one of its own)."""
    condition = TrackingCounter.message_shard.between(message_id, message_id + _LAST_SHARD) if message_id else None
    totals: dict[str, dict[str, int]] = {}
    for item in TrackingCounter.query(discussion_key, condition):
        owner = item.message_shard.partition("#")[0]
        if message_id and owner != message_id:
            continue
        sums = totals.setdefault(owner, dict.fromkeys(FIELDS, 0))
        for name in FIELDS:
            sums[name] += int(getattr(item, name) or 0)
        for name, ids in ID_SETS.items():
            sums[name] += len(getattr(item, ids) or ())
    return totals
